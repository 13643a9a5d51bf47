#!/usr/bin/env python3
"""End-to-end benchmark of `eqlc eval` (the native evaluator); prints a Markdown report.

Build eqlc first: `cargo build --release` (this script does not build it).

usage: bench_eval.py [--eqlc PATH] [--events N] [--runs K] [--python-events N] [--quick] ...

Events come from ../shared/bench/gen_events.py (deterministic synthetic ECS events) and are cached
under target/bench/, keyed by count, seed and a hash of the generator, so reruns reuse them.
Every figure is wall-clock time of a whole process (start-up, reading and parsing the JSON,
evaluation, output), taken as the median of --runs runs; the runs of the different commands are
interleaved so that a noisy moment of the machine does not land on one command only. Each command
is started by a small wrapper (see WRAPPER) that times it from fork to exit and reads its rusage.

Measured:
  baseline      `wc -l FILE`: reads every byte into user space and scans it for newlines, which
                is the least any NDJSON reader must do, so its events/s shows how fast this
                machine reads these files. (`cat FILE > /dev/null` was not chosen: it only copies,
                and the kernel or coreutils may skip even that for /dev/null.)
  one rule      `eqlc eval --query Q --events FILE --format ids --id-field @timestamp > /dev/null`
                (target >= 1.5M events/s). `--format ids` keeps the output cost small, so the figure
                is about reading and evaluating; `@timestamp` is present in every generated event
                (they have no id field), so every alert still reads and prints a real value.
  Python eql    `python eql_eval.py --es Q FILE > OUT` (../shared/oracles, eql 1.0.1, JSON parsing
                included) on a smaller file (--python-events, default 100k; Python is slow), and
                eqlc on that same file, for a ratio on the same events. Its output goes to a file so
                its alerts can be counted and compared with eqlc's. Needs the oracle virtualenv
                (../shared/oracles/setup.sh); skipped with a note when eql cannot be imported.
  all rules     `eqlc eval CORPUS --events FILE > /dev/null` over every rule of ../shared/corpus,
                JSON alerts (target >= 500k events/s). eqlc skips non-EQL documents and reports
                rules it cannot evaluate yet on stderr, exiting 1: that exit code is recorded, not
                treated as a failure.
  memory        peak resident set size (ru_maxrss from wait4) of the eqlc process for both eqlc
                commands at several event counts (--memory-events plus --events): a streaming
                evaluator stays flat as the count grows. Linux cannot report less than the
                wrapper's own few MiB (see WRAPPER); such values are shown as "<= floor".

Missing a target is reported ("missed"), not an error. The exit status is 1 only when a command
fails unexpectedly (eqlc exit status other than 0, or than 0/1 for the corpus; a crash; wrong
event count), 2 on bad usage (e.g. no eqlc binary).
"""
import argparse
import hashlib
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
SEED = 1
ONE_RULE_TARGET = 1_500_000
CORPUS_TARGET = 500_000


def log(message):
    # Progress goes to stderr so that stdout is only the Markdown report.
    print(message, file=sys.stderr, flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eqlc", default=os.path.join(TARGET, "release", "eqlc"),
                    help="eqlc binary (default: target/release/eqlc; run `cargo build --release` first)")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"),
                    help="the shared data directory (default: the repository's ../shared)")
    ap.add_argument("--corpus", help="rules for the all-rules run (default: SHARED/corpus)")
    ap.add_argument("--query", default='process where process.name : "cmd.exe"', help="the one-rule query")
    ap.add_argument("--events", type=int, help="events for the throughput runs (default 1,000,000)")
    ap.add_argument("--runs", type=int, help="runs per measurement; medians are reported (default 5)")
    ap.add_argument("--python-events", type=int,
                    help="events for the Python eql comparison (default 100,000; 0 skips it)")
    ap.add_argument("--memory-events", help="comma-separated extra event counts for the memory table "
                    "(default 250000,2000000; --events is always included)")
    ap.add_argument("--python", help="Python with eql installed (default: $EQLC_ORACLE_VENV/bin/python, "
                    "else ~/.cache/eqlc-oracles/bin/python, as ../shared/oracles/setup.sh makes it)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode for CI: 20k events, 2k for Python, 1 run, memory at 5k and 20k")
    a = ap.parse_args()
    # --quick only changes the defaults; explicit options still win.
    quick = a.quick
    if a.events is None:
        a.events = 20_000 if quick else 1_000_000
    if a.runs is None:
        a.runs = 1 if quick else 5
    if a.python_events is None:
        a.python_events = 2_000 if quick else 100_000
    if a.memory_events is None:
        a.memory_events = "5000" if quick else "250000,2000000"
    a.memory_counts = sorted({int(n) for n in a.memory_events.split(",") if n.strip()} | {a.events})
    a.corpus = a.corpus or os.path.join(a.shared, "corpus")
    if a.events <= 0 or a.runs <= 0 or a.python_events < 0 or min(a.memory_counts) <= 0:
        ap.error("counts and --runs must be positive")
    return a


def generated_events(shared, count):
    """Path of `count` generated events, made by gen_events.py once and cached under target/bench/."""
    generator = os.path.join(shared, "bench", "gen_events.py")
    with open(generator, "rb") as f:
        # A changed generator gets new files rather than silently reusing old ones.
        version = hashlib.sha256(f.read()).hexdigest()[:8]
    directory = os.path.join(TARGET, "bench")
    path = os.path.join(directory, f"events-n{count}-s{SEED}-g{version}.ndjson")
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        log(f"generating {count:,} events -> {path}")
        # Written under a temporary name first: an interrupted run must not leave a short file behind.
        partial = path + ".partial"
        subprocess.run([sys.executable, generator, "--count", str(count), "--seed", str(SEED), "--out", partial],
                       check=True)
        os.replace(partial, path)
    return path


class Failure(Exception):
    pass


class Result:
    def __init__(self, seconds, exit_code, max_rss_kib, stderr):
        self.seconds = seconds
        self.exit_code = exit_code
        self.max_rss_kib = max_rss_kib
        self.stderr = stderr


# Runs one command and reports its wall time, exit code and peak RSS. Linux carries the peak RSS of
# the process that exec'd into a child's ru_maxrss, so a child forked from this script (~20 MiB)
# could not show less than that; this wrapper is a bare interpreter (-S -I: no site, nothing imported
# beyond os/sys/time), so the floor is a few MiB. `floor()` measures it.
WRAPPER = r"""
import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(report, "w") as f:
    f.write("%r %d %d" % (seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss))
"""


def run_once(argv, stdout_path, ok_codes=(0,)):
    """Run argv with stdout to stdout_path; its wall time, exit code and own peak RSS."""
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as report:
        # stderr goes to a file, not a pipe: nothing has to drain it while the command runs.
        wrapper = subprocess.run([sys.executable, "-S", "-I", "-c", WRAPPER, report.name] + argv,
                                 stdout=out, stderr=err)
        if wrapper.returncode != 0:
            raise Failure(f"the wrapper failed ({wrapper.returncode}) on `{shell(argv, stdout_path)}`")
        seconds, exit_code, rss = report.read().split()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    exit_code, rss = int(exit_code), int(rss)
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = rss // 1024 if sys.platform == "darwin" else rss
    if exit_code not in ok_codes:
        tail = "\n".join(stderr.splitlines()[-20:])
        raise Failure(f"`{shell(argv, stdout_path)}` exited with {exit_code}\n{tail}")
    return Result(float(seconds), exit_code, rss, stderr)


def floor():
    """The least peak RSS the wrapper can report: that of `true`."""
    return run_once(["true"], os.devnull).max_rss_kib


def shell(argv, stdout_path):
    return f"{shlex.join(argv)} > {stdout_path}"


class Measurement:
    """One command run --runs times on one file."""

    def __init__(self, label, argv, events, path, stdout_path=os.devnull, ok_codes=(0,), target=None):
        self.label, self.argv, self.events, self.path = label, argv, events, path
        self.stdout_path, self.ok_codes, self.target = stdout_path, ok_codes, target
        self.results = []

    def run(self):
        result = run_once(self.argv, self.stdout_path, self.ok_codes)
        self.results.append(result)
        return result

    def median_seconds(self):
        return statistics.median(r.seconds for r in self.results)

    def rate(self):
        return self.events / self.median_seconds()

    def median_rss_kib(self):
        return statistics.median(r.max_rss_kib for r in self.results)


def eqlc_summary(stderr):
    """eqlc eval's closing summary on stderr: (events, rules, alerts, its own events/s), or None."""
    m = re.search(r"^(\d+) events, (\d+) rules, (\d+) alerts in [\d.]+ s \((\d+) events/s\)", stderr, re.M)
    return tuple(int(g) for g in m.groups()) if m else None


def check_events(measurement, result):
    # A run that silently read fewer events (a bad line, a truncated cache) would inflate the rate.
    summary = eqlc_summary(result.stderr)
    if summary and summary[0] != measurement.events:
        raise Failure(f"`{shell(measurement.argv, measurement.stdout_path)}` read {summary[0]} events, "
                      f"expected {measurement.events}")


def python_with_eql(requested):
    """The Python to run eql_eval.py with, or (None, why not)."""
    candidates = [requested] if requested else [
        os.path.join(os.environ.get("EQLC_ORACLE_VENV") or os.path.expanduser("~/.cache/eqlc-oracles"),
                     "bin", "python"),
        sys.executable,
    ]
    for python in candidates:
        if python and os.path.exists(python):
            probe = subprocess.run([python, "-c", "import eql; print(eql.__version__)"],
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                return python, probe.stdout.strip()
    return None, "eql is not installed (run ../shared/oracles/setup.sh, or pass --python)"


def human(rate):
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def mib(kib, rss_floor=0):
    # Within a little of the floor, the command's own peak was at most the floor (see WRAPPER).
    if kib <= rss_floor + 256:
        return f"≤ {rss_floor / 1024:.1f} MiB"
    return f"{kib / 1024:.1f} MiB"


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    a = parse_args()
    if not (os.path.isfile(a.eqlc) and os.access(a.eqlc, os.X_OK)):
        log(f"error: no eqlc binary at {a.eqlc}: run `cargo build --release` first (or pass --eqlc)")
        return 2
    eqlc = os.path.abspath(a.eqlc)
    oracle = os.path.join(a.shared, "oracles", "eql_eval.py")
    for needed in (os.path.join(a.shared, "bench", "gen_events.py"), a.corpus):
        if not os.path.exists(needed):
            log(f"error: {needed} not found (pass --shared or --corpus)")
            return 2

    counts = sorted(set(a.memory_counts) | {a.events} | ({a.python_events} if a.python_events else set()))
    files = {n: generated_events(a.shared, n) for n in counts}
    big = files[a.events]
    size_per_event = os.path.getsize(big) / a.events

    def one_rule(n):
        return [eqlc, "eval", "--query", a.query, "--events", files[n],
                "--format", "ids", "--id-field", "@timestamp"]

    def all_rules(n):
        return [eqlc, "eval", a.corpus, "--events", files[n]]

    # python_note: eql's version when it can be run, else why the comparison is skipped.
    python, python_note = None, "skipped (--python-events 0)"
    if a.python_events:
        python, python_note = python_with_eql(a.python)
        if python and not os.path.exists(oracle):
            python, python_note = None, f"{oracle} not found"

    baseline = Measurement("baseline: `wc -l`", ["wc", "-l", big], a.events, big)
    single = Measurement("eqlc eval, one rule", one_rule(a.events), a.events, big, target=ONE_RULE_TARGET)
    corpus = Measurement("eqlc eval, all corpus rules", all_rules(a.events), a.events, big,
                         ok_codes=(0, 1), target=CORPUS_TARGET)
    measurements = [baseline, single, corpus]
    py_eqlc = py = None
    if python:
        small = files[a.python_events]
        py_eqlc = Measurement("eqlc eval, one rule (Python's file)", one_rule(a.python_events),
                              a.python_events, small)
        py_out = os.path.join(TARGET, "bench", "python-eql-alerts.txt")
        py = Measurement(f"Python eql {python_note}, one rule",
                         [python, oracle, "--es", a.query, small], a.python_events, small, stdout_path=py_out)
        measurements += [py_eqlc, py]

    try:
        # Interleaved: run i of every command before run i+1 of any.
        for i in range(a.runs):
            for m in measurements:
                log(f"run {i + 1}/{a.runs}: {m.label} ({m.events:,} events)")
                result = m.run()
                if m.argv[0] == eqlc:
                    check_events(m, result)

        # Memory: the --events count reuses the runs above; the other counts run once each (peak RSS
        # hardly varies between runs, unlike time).
        memory = {}
        for n in a.memory_counts:
            if n == a.events:
                memory[n] = (single.median_rss_kib(), corpus.median_rss_kib())
                continue
            row = []
            for label, argv, ok in (("one rule", one_rule(n), (0,)), ("all rules", all_rules(n), (0, 1))):
                log(f"memory: {label} ({n:,} events)")
                m = Measurement(label, argv, n, files[n], ok_codes=ok)
                check_events(m, m.run())
                row.append(m.results[0].max_rss_kib)
            memory[n] = tuple(row)
        rss_floor = floor()
    except Failure as failure:
        log(f"error: {failure}")
        return 1

    report(a, files, measurements, single, corpus, py_eqlc, py, python_note, memory, rss_floor, size_per_event)
    return 0


def report(a, files, measurements, single, corpus, py_eqlc, py, python_note, memory, rss_floor, size_per_event):
    out = []
    w = out.append
    w("### `eqlc eval` benchmark")
    w("")
    w(f"Machine: {machine()}. eqlc at commit {git_revision()}; Python {platform.python_version()}.")
    w(f"Events: `gen_events.py --seed {SEED}` ({size_per_event:.0f} bytes/event on average). "
      f"Times are wall-clock of the whole process, median of {a.runs} run(s) "
      f"(min-max of events/s in parentheses); files are in the page cache after the first run.")
    w("")
    w("| Measurement | Events | Median time | Events/s | MB/s | Target | Result |")
    w("|---|--:|--:|--:|--:|--:|---|")
    for m in measurements:
        rates = [m.events / r.seconds for r in m.results]
        spread = f" ({human(min(rates))}-{human(max(rates))})" if len(rates) > 1 else ""
        mbps = os.path.getsize(m.path) / m.median_seconds() / 1e6
        target = f"≥ {m.target / 1e6:g}M" if m.target else ""
        met = ("met" if m.rate() >= m.target else "missed") if m.target else ""
        w(f"| {m.label} | {m.events:,} | {m.median_seconds():.3f} s | {human(m.rate())}{spread} | {mbps:.0f} "
          f"| {target} | {met} |")
    w("")
    notes = []
    if py:
        same = py_eqlc.rate() / py.rate()
        big = single.rate() / py.rate()
        notes.append(f"eqlc vs Python eql, end to end (JSON parsing included), same query: **{same:.1f}x** "
                     f"on the same {py.events:,} events; {big:.1f}x comparing eqlc's events/s on "
                     f"{single.events:,} events with Python's on {py.events:,} (Python is run on fewer events "
                     f"because it is slow; it also loads the whole file before evaluating).")
        with open(py.stdout_path) as f:
            py_alerts = sum(1 for line in f if line.strip())
        summary = eqlc_summary(py_eqlc.results[-1].stderr)
        if summary:
            agree = "agree" if summary[2] == py_alerts else "**differ**"
            notes.append(f"Alerts on the Python file: eqlc {summary[2]:,}, Python eql {py_alerts:,} ({agree}).")
    else:
        notes.append(f"Python eql comparison: {python_note}.")
    summaries = [eqlc_summary(r.stderr) for r in corpus.results]
    unevaluable = corpus.results[-1].stderr.count("cannot evaluate")
    codes = ", ".join(str(c) for c in sorted({r.exit_code for r in corpus.results}))
    note = (f"All corpus rules: exit code {codes} (1 = some rules could not be evaluated); "
            f"{unevaluable} rule(s) reported as not evaluable")
    if all(summaries):
        # eqlc's own events/s starts after the rules are read and compiled; the table's includes that.
        own = statistics.median(s[3] for s in summaries)
        note += (f"; {summaries[-1][1]:,} rules evaluated, {summaries[-1][2]:,} alerts; eqlc's own figure, "
                 f"which leaves out start-up (reading and compiling the rules): {human(own)} events/s")
    notes.append(note + ".")
    for note in notes:
        w(f"- {note}")
    w("")
    w(f"Peak memory (max RSS of the eqlc process; measurement floor {mib(rss_floor)}, the peak of `true` "
      f"run the same way):")
    w("")
    w("| Events | One rule | All corpus rules |")
    w("|--:|--:|--:|")
    for n in sorted(memory):
        w(f"| {n:,} | {mib(memory[n][0], rss_floor)} | {mib(memory[n][1], rss_floor)} |")
    lo, hi = min(memory), max(memory)
    if lo != hi:
        growth = [memory[hi][i] / memory[lo][i] for i in (0, 1)]
        # A streaming evaluator's peak should not follow the event count; allow some allocator noise.
        verdict = "flat (streaming)" if max(growth) <= 1.25 else "**grows with the events**"
        w("")
        w(f"From {lo:,} to {hi:,} events ({hi / lo:.0f}x): one rule x{growth[0]:.2f}, "
          f"all rules x{growth[1]:.2f}: {verdict}.")
    w("")
    w("Commands (the memory rows run the two eqlc commands on the other files):")
    w("")
    w("```sh")
    generator = os.path.join(a.shared, "bench", "gen_events.py")
    for n, path in sorted(files.items()):
        w(f"python3 {shlex.quote(generator)} --count {n} --seed {SEED} --out {shlex.quote(path)}")
    for m in measurements:
        w(shell(m.argv, m.stdout_path))
    w("```")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
