#!/usr/bin/env python3
"""Check that the Sigma rules eqlc writes mean what the EQL means: convert them back to EQL with
pySigma and run that EQL over the differential fixtures.

usage: sigma_conformance.py [--eqlc target/debug/eqlc] [--shared ../shared] [--verbose]
                            [--keep DIR] [--only RULE_ID ...]

Run it with the oracle virtualenv's Python (`venv=$(bash ../shared/oracles/setup.sh | tail -n 1)`,
then `"$venv/bin/python" scripts/sigma_conformance.py ...`): it imports pySigma,
pySigma-backend-elasticsearch and Elastic's Python `eql` package.

Cases: the single-event fixtures of ../shared/conformance/differential (SUMMARY.tsv: status ok,
kind EventQuery).  For each one:

1. All queries are converted by ONE run of
       eqlc convert --target sigma --field-mapping ecs TMP --out OUT
   over a temporary directory holding `<rule_id>.eql` (the fixture's query.eql), which writes
   OUT/<rule_id>.yml.  ECS field names are kept (`--field-mapping ecs`) so that the Sigma converts
   back to the fixture's own fields without any processing pipeline.  eqlc exits 1 when some rules
   cannot be converted and names the construct on stderr; those rules are "not convertible"
   (tallied per reason, listed, not failures).
2. Each Sigma rule is loaded with pySigma (SigmaCollection.from_yaml) and converted to EQL by
   sigma.backends.elasticsearch.EqlBackend with an EMPTY ProcessingPipeline.  The backend writes
   `any where ...`: the event category lives in the Sigma logsource, not in the query.
3. That EQL is evaluated by Elastic's Python eql engine (in process, with the same settings as
   ../shared/oracles/eql_eval.py --es: Elasticsearch syntax, missing functions ignored, events
   typed by event.category) over the fixture's events whose `event.category` equals the category
   of the fixture's query (its leading `<category> where`; `any where` keeps every event).
4. The matching serial_event_ids are compared with expected.txt as a multiset.  The fixtures were
   built so that Python eql and Elasticsearch agree on them (see the fixtures' README.md).

Outcomes per case: agree; disagree (a failure: details printed: id, original EQL, Sigma YAML,
pySigma's EQL, expected vs got); not convertible (eqlc refused the rule: reported, not a
failure); error (a failure: eqlc wrote no rule and gave no reason, crashed, or wrote YAML that
pySigma cannot load or convert, or EQL that Python eql cannot parse).

Exit status: 0 when nothing disagreed and nothing errored, 1 otherwise, 2 on usage errors.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

# Differential fixtures whose expected.txt is wrong under Elasticsearch semantics (defects of the
# fixture generator's oracle, Python eql 1.0.1): rule_id -> (expected.txt as shipped, corrected
# expectation, reason).  Same table as scripts/dsl_conformance.py.  The correction applies only
# while expected.txt still holds the shipped value; otherwise the entry is reported as stale.
# This script's own evaluator is Python eql too, so load_events() gives every event top-level
# dotted keys (with_dotted_keys) to resolve back-quoted dotted names as Elasticsearch does.
FIXTURE_CORRECTIONS: dict[str, tuple[list[str], list[str], str]] = {
    "ec81962e-4bc8-48e6-bfb0-545fc97d8f6a": (
        [], ["21", "27", "33", "37"],
        "Python eql 1.0.1 reads a back-quoted field such as "
        "`kubernetes.audit.annotations.authorization_k8s_io/decision` as ONE top-level key, so it "
        "never sees the nested value and the rule never matches; Elasticsearch resolves the dotted "
        "name through the objects."),
}

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def leading_category(query: str) -> str:
    """The event category of a single-event EQL query: the word (or quoted string) before its
    first `where`, after whitespace and comments."""
    s = query
    while True:
        s = s.lstrip()
        if s.startswith("//"):
            nl = s.find("\n")
            s = "" if nl < 0 else s[nl + 1:]
        elif s.startswith("/*"):
            end = s.find("*/")
            s = "" if end < 0 else s[end + 2:]
        else:
            break
    m = re.match(r'(?:"([^"]*)"|`([^`]*)`|([A-Za-z_][A-Za-z0-9_]*))\s+where\b', s)
    if not m:
        raise ValueError("no leading `<category> where`")
    return next(g for g in m.groups() if g is not None)


def get_path(d, path):
    if isinstance(d, dict) and path in d:
        return d[path]
    cur = d
    for p in path.split("."):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            return None
    return cur


def to_ms(v):
    if isinstance(v, (int, float)):
        return v
    dt = datetime.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1000)


def indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.rstrip("\n").split("\n"))


def multiset_diff(expected: list[str], got: list[str]) -> tuple[list[str], list[str]]:
    e, g = collections.Counter(expected), collections.Counter(got)
    missing = sorted((e - g).elements(), key=lambda x: (len(x), x))
    extra = sorted((g - e).elements(), key=lambda x: (len(x), x))
    return missing, extra


def short_ids(ids: list[str], n: int = 40) -> str:
    s = ", ".join(ids[:n])
    return s + (f", ... ({len(ids)} in all)" if len(ids) > n else "") if ids else "-"


# ---------------------------------------------------------------------------------------------
# eqlc: one conversion run, and its diagnostics per file
# ---------------------------------------------------------------------------------------------


def parse_diagnostics(stderr: str, ids: set[str]) -> dict[str, list[str]]:
    """rule_id -> the messages of the `error:` diagnostics that name its file.

    eqlc prints rustc-style diagnostics: `error: <message>` then either ` --> PATH:LINE:COL`
    or ` = note: in PATH`, then notes.  A block runs until the next `error:`/`warning:` line."""
    blocks: list[tuple[str, str, list[str]]] = []  # (severity, message, lines)
    for line in stderr.splitlines():
        m = re.match(r"^(error|warning)(?:\[[^\]]*\])?: (.*)$", line)
        if m:
            blocks.append((m.group(1), m.group(2).strip(), []))
        elif blocks:
            blocks[-1][2].append(line)
    out: dict[str, list[str]] = collections.defaultdict(list)
    for severity, message, lines in blocks:
        if severity != "error":
            continue
        rid = None
        for line in [message] + lines:
            for cand in UUID_RE.findall(line):
                if cand in ids:
                    rid = cand
                    break
            if rid:
                break
        notes = [re.sub(r"^\s*=\s*note:\s*", "", ln).strip() for ln in lines
                 if re.match(r"^\s*=\s*note:", ln) and not re.match(r"^\s*=\s*note: in ", ln)]
        text = message + ("" if not notes else " (" + "; ".join(notes) + ")")
        out[rid or ""].append(text)
    return out


def reason_key(message: str) -> str:
    """A reason to tally not-convertible rules by: the message with quoted values taken out."""
    m = re.sub(r'"(?:[^"\\]|\\.)*"', '"…"', message)
    m = re.sub(r"\s+", " ", m).strip()
    return m


def run_eqlc(eqlc: str, cases: list[str], fixtures: str, work: str):
    src = os.path.join(work, "eql")
    out = os.path.join(work, "sigma")
    os.makedirs(src, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    for rid in cases:
        shutil.copyfile(os.path.join(fixtures, rid, "query.eql"), os.path.join(src, rid + ".eql"))
    cmd = [eqlc, "convert", "--target", "sigma", "--field-mapping", "ecs", "--color", "never",
           src, "--out", out]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p, out, time.monotonic() - t0, cmd


# ---------------------------------------------------------------------------------------------
# pySigma -> EQL, and Python eql
# ---------------------------------------------------------------------------------------------


def import_oracles():
    try:
        import eql  # noqa: F401
        from sigma.backends.elasticsearch import EqlBackend  # noqa: F401
        from sigma.collection import SigmaCollection  # noqa: F401
        from sigma.processing.pipeline import ProcessingPipeline  # noqa: F401
    except ImportError as e:
        sys.exit(f"error: {e}; run this script with the oracle virtualenv's python "
                 f"(bash ../shared/oracles/setup.sh prints its path)")


def sigma_to_eql(yaml_text: str) -> list[str]:
    from sigma.backends.elasticsearch import EqlBackend
    from sigma.collection import SigmaCollection
    from sigma.processing.pipeline import ProcessingPipeline

    collection = SigmaCollection.from_yaml(yaml_text)
    backend = EqlBackend(ProcessingPipeline())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = backend.convert(collection)
    if not isinstance(result, list):
        result = [result]
    return [str(q) for q in result]


def with_dotted_keys(d: dict) -> dict:
    """d plus a top-level "a.b.c" key for every nested leaf: Python eql reads a back-quoted
    field such as `kubernetes.audit.annotations.authorization_k8s_io/decision` as ONE top-level
    key, while Elasticsearch resolves the dotted name through the objects.  Unquoted names
    (`process.name`) still resolve through the objects, so nothing else changes."""
    out = dict(d)

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else k, x)
        elif "." in prefix and prefix not in out:
            out[prefix] = v

    walk("", d)
    return out


# pySigma defects that make its EQL unusable for a fixture, through no fault of the Sigma rule
# (rule_id -> reason).  Reported, not counted as failures.
PYSIGMA_DEFECTS: dict[str, str] = {
    "ec81962e-4bc8-48e6-bfb0-545fc97d8f6a":
        "pySigma's EQL backend leaves the field name `kubernetes.audit.annotations."
        "authorization_k8s_io/decision` unquoted; EQL needs back-quotes for the `/`",
}


def booleans_as_text(v):
    """Boolean values as the text "true"/"false".  eqlc writes an EQL boolean comparison as the
    Sigma string 'true'/'false' (the SigmaHQ idiom, e.g. `Initiated: 'true'`), because pySigma's
    EQL backend renders a YAML boolean as `field:true`, which EQL rejects (`:` compares strings).
    Sigma matches values as text, as Lucene-based backends do (a term "true" matches a boolean
    field), so the events are given to Python eql the same way."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return {k: booleans_as_text(x) for k, x in v.items()}
    if isinstance(v, list):
        return [booleans_as_text(x) for x in v]
    return v


# A pySigma EQL comparison of a field with the text "true"/"false" (how it renders Sigma 'true').
TEXT_BOOLEAN_RE = re.compile(r':\s*"(?:true|false)"')


def load_events(path: str, text_booleans: bool = True):
    from eql import Event

    events = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if text_booleans:
                d = booleans_as_text(d)
            cat = get_path(d, "event.category")
            if isinstance(cat, list):
                cat = cat[0] if cat else None
            ts = get_path(d, "@timestamp")
            events.append((cat, Event(cat if isinstance(cat, str) else "generic",
                                      to_ms(ts) if ts is not None else 0, with_dotted_keys(d))))
    return events


def eval_eql(query: str, events) -> list[str]:
    """serial_event_ids of the events `query` matches, with eql_eval.py --es's settings."""
    import eql
    from eql import PythonEngine

    with eql.parser.ignore_missing_functions, eql.parser.ParserConfig(elasticsearch_syntax=True):
        parsed = eql.parse_query(query)
    engine = PythonEngine({"flatten": False, "time_unit": 1000})
    out = []
    engine.add_output_hook(out.append)
    engine.add_query(parsed)
    engine.stream_events([e for _, e in events])
    ids = []
    for r in out:
        evs = r.events if hasattr(r, "events") else [r]
        ids.append(",".join(str(get_path(e.data, "serial_event_id")) for e in evs))
    return ids


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eqlc", default="target/debug/eqlc")
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--verbose", "-v", action="store_true", help="also list agreeing cases and warnings")
    ap.add_argument("--keep", metavar="DIR", help="keep the .eql/.yml files under DIR")
    ap.add_argument("--only", nargs="+", metavar="RULE_ID", help="only these fixtures")
    a = ap.parse_args()

    fixtures = os.path.join(a.shared, "conformance", "differential")
    summary = os.path.join(fixtures, "SUMMARY.tsv")
    if not os.path.isfile(summary):
        print(f"error: no {summary}", file=sys.stderr)
        return 2
    if not os.path.isfile(a.eqlc):
        print(f"error: no eqlc binary at {a.eqlc} (cargo build first)", file=sys.stderr)
        return 2
    import_oracles()

    cases = []
    with open(summary) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            if row.get("status") == "ok" and row.get("kind") == "EventQuery":
                cases.append(row["rule_id"])
    if a.only:
        unknown = [r for r in a.only if r not in cases]
        if unknown:
            print(f"error: not single-event fixtures with status ok: {unknown}", file=sys.stderr)
            return 2
        cases = [r for r in cases if r in a.only]

    work = a.keep or tempfile.mkdtemp(prefix="sigma-conformance-")
    if a.keep:
        shutil.rmtree(os.path.join(work, "eql"), ignore_errors=True)
        shutil.rmtree(os.path.join(work, "sigma"), ignore_errors=True)
    try:
        return run(a, cases, fixtures, work)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(a, cases: list[str], fixtures: str, work: str) -> int:
    t0 = time.monotonic()
    proc, outdir, eqlc_secs, cmd = run_eqlc(a.eqlc, cases, fixtures, work)
    diags = parse_diagnostics(proc.stderr, set(cases))
    errors: list[tuple[str, str]] = []  # (rule_id or "", message)
    pysigma_defects: list[str] = []
    text_boolean_only: list[str] = []  # agree only because booleans are read as text
    if proc.returncode not in (0, 1):
        errors.append(("", f"eqlc exited {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-4000:]}"))
    elif proc.returncode == 1 and not any(diags.values()):
        errors.append(("", f"eqlc exited 1 without an error diagnostic:\n{proc.stderr[-4000:]}"))
    if diags.get("") and proc.returncode in (0, 1):
        # diagnostics naming no fixture: a global problem (usage error, unreadable output dir...)
        errors.append(("", "eqlc errors naming no rule:\n" + "\n".join(diags[""])))

    outputs = {}
    for name in os.listdir(outdir):
        stem, ext = os.path.splitext(name)
        if ext in (".yml", ".yaml"):
            outputs[stem] = os.path.join(outdir, name)
    stray = sorted(set(outputs) - set(cases))
    if stray:
        errors.append(("", f"eqlc wrote files for no fixture: {stray[:10]}"))

    agree: list[str] = []
    disagree: list[dict] = []
    not_convertible: dict[str, list[str]] = collections.defaultdict(list)  # reason -> ids
    converted = 0
    corrections_used: list[str] = []
    stale_corrections: list[str] = []
    yaml_and_error: list[str] = []

    for rid in cases:
        query = open(os.path.join(fixtures, rid, "query.eql")).read()
        if rid not in outputs:
            msgs = diags.get(rid)
            if msgs:
                not_convertible[reason_key(msgs[0])].append(rid)
            elif proc.returncode in (0, 1):
                errors.append((rid, "eqlc wrote no Sigma rule and reported no error for it"))
            continue
        if diags.get(rid):
            yaml_and_error.append(rid)
        converted += 1
        sigma_yaml = open(outputs[rid]).read()
        case = {"id": rid, "eql": query, "sigma": sigma_yaml, "pysigma": None}
        try:
            queries = sigma_to_eql(sigma_yaml)
        except Exception as e:  # pySigma raises many exception types
            errors.append((rid, f"pySigma: {type(e).__name__}: {e}\n--- Sigma:\n{sigma_yaml}"))
            continue
        if len(queries) != 1:
            errors.append((rid, f"pySigma produced {len(queries)} queries, expected 1: {queries}"
                                f"\n--- Sigma:\n{sigma_yaml}"))
            continue
        case["pysigma"] = queries[0]
        try:
            category = leading_category(query)
        except ValueError as e:
            errors.append((rid, f"query.eql: {e}"))
            continue
        events = load_events(os.path.join(fixtures, rid, "events.ndjson"))
        if category != "any":
            events = [(c, e) for c, e in events if c == category]
        try:
            got = eval_eql(queries[0], events)
        except Exception as e:
            if rid in PYSIGMA_DEFECTS:
                pysigma_defects.append(rid)
                continue
            errors.append((rid, f"Python eql on pySigma's EQL: {type(e).__name__}: {e}\n"
                                f"--- pySigma EQL:\n{queries[0]}\n--- Sigma:\n{sigma_yaml}"))
            continue
        expected = [ln.strip() for ln in open(os.path.join(fixtures, rid, "expected.txt")) if ln.strip()]
        if rid in FIXTURE_CORRECTIONS:
            shipped, corrected, _ = FIXTURE_CORRECTIONS[rid]
            if sorted(expected) == sorted(shipped):
                expected = corrected
                corrections_used.append(rid)
            else:
                stale_corrections.append(rid)
        missing, extra = multiset_diff(expected, got)
        case.update(expected=expected, got=got, missing=missing, extra=extra, category=category)
        if missing or extra:
            disagree.append(case)
        else:
            agree.append(rid)
            if TEXT_BOOLEAN_RE.search(queries[0]):
                raw = load_events(os.path.join(fixtures, rid, "events.ndjson"), text_booleans=False)
                if category != "any":
                    raw = [(c, e) for c, e in raw if c == category]
                if sorted(eval_eql(queries[0], raw)) != sorted(got):
                    text_boolean_only.append(rid)

    # ------------------------------------------------------------------ report
    n_nc = sum(len(v) for v in not_convertible.values())
    print(f"Sigma conformance (eqlc -> Sigma -> pySigma EqlBackend, no pipeline -> Python eql) "
          f"over {os.path.relpath(fixtures)}")
    print(f"  in scope (status ok, EventQuery): {len(cases)}")
    print(f"  converted by eqlc:                {converted}  (one eqlc run, exit {proc.returncode}, "
          f"{eqlc_secs:.1f}s)")
    print(f"  not convertible:                  {n_nc}")
    for reason, ids in sorted(not_convertible.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"    {len(ids):4d}  {reason}")
    print(f"  agree:                            {len(agree)}")
    if text_boolean_only:
        print(f"    of which only with booleans read as text: {len(text_boolean_only)} (pySigma writes "
              f"`field:\"true\"`; Elasticsearch EQL rejects `:` on a boolean field; not failures)")
    print(f"  disagree:                         {len(disagree)}")
    print(f"  errors:                           {len(errors)}")
    for rid in pysigma_defects:
        print(f"  not judged (pySigma defect):      {rid}: {PYSIGMA_DEFECTS[rid]}")
    if corrections_used:
        print(f"  (expected.txt corrected for {len(corrections_used)} fixture(s): "
              f"{', '.join(corrections_used)}; see FIXTURE_CORRECTIONS)")
    if stale_corrections:
        print(f"  note: stale FIXTURE_CORRECTIONS entries (expected.txt changed): {stale_corrections}")
    if yaml_and_error:
        print(f"  note: eqlc wrote a rule AND reported an error for: {yaml_and_error}")
    print(f"  time: {time.monotonic() - t0:.1f}s")

    if n_nc:
        print("\nNot convertible (eqlc's reason):")
        for reason, ids in sorted(not_convertible.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print(f"  {reason}")
            for rid in ids:
                print(f"    {rid}")

    if a.verbose and text_boolean_only:
        print("\nAgree only with booleans read as text:")
        for rid in text_boolean_only:
            print("  " + rid)

    if a.verbose:
        warn_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning")]
        if warn_lines:
            print(f"\neqlc warnings ({len(warn_lines)}):")
            for ln in warn_lines:
                print("  " + ln)
        print("\nAgree:")
        for rid in agree:
            print("  " + rid)

    if disagree:
        print("\nDisagreements:")
        for c in disagree:
            print(f"\n  {c['id']}  (category {c['category']}; expected {len(c['expected'])} "
                  f"matches, got {len(c['got'])})")
            print(f"    missing (expected, not matched): {short_ids(c['missing'])}")
            print(f"    extra (matched, not expected):   {short_ids(c['extra'])}")
            print("    original EQL:")
            print(indent(c["eql"]))
            print("    Sigma (eqlc):")
            print(indent(c["sigma"]))
            print("    EQL (pySigma):")
            print(indent(c["pysigma"]))

    if errors:
        print("\nErrors:")
        for rid, msg in errors:
            print(f"\n  {rid or '(global)'}")
            print(indent(msg, "    "))

    ok = not disagree and not errors
    print("\nOK" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
