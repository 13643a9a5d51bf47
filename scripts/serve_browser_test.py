#!/usr/bin/env python3
"""Browser test of `eqlc serve`: the preview page in a real headless Chromium.

Starts `eqlc serve --port 0`, opens the page, types a detection-rules TOML rule into the
editor and waits for the three panes (canonical EQL + Query DSL, Sigma, evaluator) to fill,
checks what they say, breaks the query with a typed Backspace and checks the diagnostic names
the right line (list, highlighted span, gutter), fixes it, pastes NDJSON events and checks
which match, and saves a screenshot (default target/ci/serve.png). Every request the page makes
must go to the eqlc server itself.

Needs Playwright for Python and a Chromium binary (Debian's `chromium`; Playwright's own
browser download is not used). `scripts/serve_browser_setup.sh` installs both.

    python scripts/serve_browser_test.py --eqlc target/debug/eqlc --chromium /usr/bin/chromium
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

RULE = """[metadata]
creation_date = "2024/01/15"
maturity = "production"
updated_date = "2024/01/15"

[rule]
author = ["Browser test"]
description = "A command shell started by an Office application."
from = "now-9m"
index = ["logs-endpoint.events.process-*"]
language = "eql"
license = "Elastic License v2"
name = "Shell From Office"
risk_score = 47
rule_id = "2b1d3c4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
severity = "medium"
type = "eql"
query = '''
process where event.type == "start" and
  process.parent.name : ("winword.exe", "excel.exe") and
  process.name : ("cmd.exe", "powershell.exe")
'''
"""

# 1-based line of `process where ...` in RULE: the syntax error goes there.
QUERY_LINE = RULE.splitlines().index("process where event.type == \"start\" and") + 1

EVENTS = "\n".join(
    [
        '{"@timestamp": "2024-01-15T10:00:00Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "cmd.exe", "parent": {"name": "WINWORD.EXE"}}}',
        '{"@timestamp": "2024-01-15T10:00:01Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "cmd.exe", "parent": {"name": "explorer.exe"}}}',
        '{"@timestamp": "2024-01-15T10:00:02Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "PowerShell.exe", "parent": {"name": "excel.exe"}}}',
        '{"@timestamp": "2024-01-15T10:00:03Z", "event": {"category": ["network"], "type": ["connection"]}, "process": {"name": "cmd.exe", "parent": {"name": "winword.exe"}}}',
        "not json",
    ]
)

TIMEOUT_MS = 15_000


class Checks:
    """Named checks, counted; a failed one stops the test with what was found."""

    def __init__(self):
        self.passed = 0
        self.started = time.monotonic()

    def ok(self, name, condition, found=""):
        if not condition:
            raise AssertionError(f"{name}: {found}")
        self.passed += 1
        print(f"  ok  {name}  ({time.monotonic() - self.started:.1f} s)", flush=True)


def start_server(eqlc):
    server = subprocess.Popen(
        [eqlc, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = []
    reader = threading.Thread(target=lambda: line.append(server.stdout.readline()), daemon=True)
    reader.start()
    reader.join(10)
    if not line or "http://" not in line[0]:
        server.kill()
        raise SystemExit(f"eqlc serve did not print its URL: {line} {server.stderr.read()}")
    url = line[0].split()[-1]
    return server, url


def run(page, url, checks, screenshot):
    origin = urlparse(url).netloc
    elsewhere = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url)
        if urlparse(r.url).netloc != origin and not r.url.startswith("data:")
        else None,
    )
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))

    page.goto(url)
    checks.ok("page loads", page.title() == "eqlc preview", page.title())

    # Type the rule as an author would (key events, so the debounced fetch is what runs).
    editor = page.locator("#source")
    editor.click()
    page.keyboard.type(RULE)
    for pane in ("#out-eql", "#out-dsl", "#out-sigma", "#out-eval"):
        page.wait_for_selector(f'{pane}[data-state="ok"]', timeout=TIMEOUT_MS)
    checks.ok("three panes fill", True)
    checks.ok(
        "format detected",
        page.inner_text("#format") == "TOML rule",
        page.inner_text("#format"),
    )
    checks.ok("status ok", page.inner_text("#status") == "ok", page.inner_text("#status"))
    eql = page.inner_text("#out-eql")
    checks.ok(
        "canonical EQL pane",
        eql.startswith('process where event.type == "start" and process.parent.name :'),
        eql,
    )
    dsl = page.inner_text("#out-dsl")
    checks.ok(
        "Query DSL pane has the query terms",
        '"process.parent.name"' in dsl and '"case_insensitive": true' in dsl and '"winword.exe"' in dsl,
        dsl[:400],
    )
    sigma = page.inner_text("#out-sigma")
    checks.ok(
        "Sigma pane has a detection",
        "detection:" in sigma and "title: 'Shell From Office'" in sigma,
        sigma[:300],
    )
    evaluator = page.inner_text("#out-eval")
    checks.ok(
        "evaluator pane: evaluable event rule with a prefilter",
        "evaluable" in evaluator and "event rule" in evaluator and '"cmd.exe"' in evaluator,
        evaluator[:300],
    )

    # Break the query: a Backspace after `where` on the query's first line.
    text = editor.input_value()
    caret = text.index("process where") + len("process where")
    editor.evaluate("(el, at) => el.setSelectionRange(at, at)", caret)
    page.keyboard.press("Backspace")
    item = page.wait_for_selector('#diagnostics li[data-severity="error"]', timeout=TIMEOUT_MS)
    checks.ok(
        "syntax error reported on the query's line",
        item.get_attribute("data-line") == str(QUERY_LINE),
        f"line {item.get_attribute('data-line')}, expected {QUERY_LINE}: {item.inner_text()}",
    )
    checks.ok(
        "diagnostic names line and column",
        item.inner_text().startswith(f"{QUERY_LINE}:9"),
        item.inner_text(),
    )
    mark = page.wait_for_selector("#backdrop mark.error", timeout=TIMEOUT_MS)
    checks.ok(
        "span highlighted in the editor",
        mark.get_attribute("data-line") == str(QUERY_LINE) and mark.inner_text() == "wher",
        f"{mark.get_attribute('data-line')} {mark.inner_text()!r}",
    )
    gutter = page.locator("#gutter div.error")
    checks.ok(
        "gutter marks the line",
        gutter.count() == 1 and gutter.inner_text() == str(QUERY_LINE),
        f"{gutter.count()} marked",
    )
    checks.ok("status shows the error", "error" in page.inner_text("#status"), page.inner_text("#status"))
    checks.ok(
        "panes say the query did not compile",
        page.get_attribute("#out-dsl", "data-state") == "unavailable",
        page.get_attribute("#out-dsl", "data-state"),
    )
    page.screenshot(path=screenshot.replace(".png", "-error.png"), full_page=True)

    # Fix it again.
    page.keyboard.type("e")
    page.wait_for_selector('#out-dsl[data-state="ok"]', timeout=TIMEOUT_MS)
    checks.ok("fixed query translates again", page.locator("#diagnostics li").count() == 0)

    # Paste events: lines 1 and 3 match; line 5 is not JSON.
    page.locator("#events").fill(EVENTS)
    summary = page.wait_for_selector("#match-summary[data-alerts]", timeout=TIMEOUT_MS)
    checks.ok(
        "two of the events match",
        summary.get_attribute("data-alerts") == "2" and summary.get_attribute("data-matched") == "1,3",
        f"{summary.get_attribute('data-alerts')} alerts, lines {summary.get_attribute('data-matched')}: {summary.inner_text()}",
    )
    warnings = page.inner_text("#match-warnings")
    checks.ok("the bad line is reported", "line 5: not a JSON object" in warnings, warnings)
    checks.ok("alerts listed", page.locator("#alerts li").count() == 2)

    page.locator("#source").evaluate("el => el.scrollTo(0, 0)")
    page.screenshot(path=screenshot, full_page=True)
    checks.ok("screenshot saved", os.path.getsize(screenshot) > 10_000, screenshot)

    # A bare sequence query: the evaluator pane shows its stages.
    editor.fill(
        "sequence by process.entity_id with maxspan=30s\n"
        '  [process where process.name : "mshta.exe"]\n'
        "  [network where true]"
    )
    # (wait_for_selector, not wait_for_function: the page's CSP forbids eval, as it should.)
    page.wait_for_selector('#out-eval .summary[data-kind="sequence"]', timeout=TIMEOUT_MS)
    units = page.locator("#out-eval .unit")
    checks.ok("bare EQL sequence: two stages", units.count() == 2, str(units.count()))
    checks.ok(
        "format switches to EQL query",
        page.inner_text("#format") == "EQL query",
        page.inner_text("#format"),
    )

    # The example button fills both sides; its events match on lines 1 and 3.
    # (Events cleared first, so the matches seen afterwards are the example's.)
    page.locator("#events").fill("")
    page.wait_for_selector("#match-summary:not([data-alerts])", timeout=TIMEOUT_MS)
    page.click("#example")
    page.locator("#rule-name", has_text="Command Shell Spawned by Office").wait_for(timeout=TIMEOUT_MS)
    summary = page.wait_for_selector("#match-summary[data-alerts]", timeout=TIMEOUT_MS)
    checks.ok(
        "Load example: rule and events, lines 1 and 3 match",
        summary.get_attribute("data-matched") == "1,3",
        summary.inner_text(),
    )

    checks.ok("no request left this server", not elsewhere, str(elsewhere))
    checks.ok("no script errors", not console_errors, str(console_errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eqlc", default="target/debug/eqlc")
    parser.add_argument(
        "--chromium",
        default=os.environ.get("CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome"),
    )
    parser.add_argument("--screenshot", default="target/ci/serve.png")
    args = parser.parse_args()
    if not args.chromium:
        raise SystemExit("no Chromium found (install Debian's chromium, or pass --chromium)")
    from playwright.sync_api import sync_playwright  # noqa: E402 (only needed here)

    os.makedirs(os.path.dirname(args.screenshot) or ".", exist_ok=True)
    checks = Checks()
    server, url = start_server(args.eqlc)
    print(f"eqlc serve at {url}; Chromium {args.chromium}", flush=True)
    failed = 0
    try:
        with sync_playwright() as p:
            # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                run(page, url, checks, args.screenshot)
            finally:
                browser.close()
    except Exception as e:  # report, then fail
        failed = 1
        print(f"FAIL {e}", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"screenshot: {args.screenshot}")
    print(f"browser: {checks.passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
