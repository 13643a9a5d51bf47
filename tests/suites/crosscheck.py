#!/usr/bin/env python3
"""Second opinions on the expectations of a suite under tests/suites (not run by CI).

usage: python3 tests/suites/crosscheck.py dsl        SUITE.toml [QUERY_FILE...]
       python3 tests/suites/crosscheck.py python-eql SUITE.toml [QUERY_FILE...]

dsl         single-event queries: the Query DSL `eqlc convert --target dsl --mapping mapping.json`
            produces, run by the independent Query DSL interpreter ../shared/oracles/dsl-eval
            (Elasticsearch term-level semantics: missing fields, arrays, ip / date / long types),
            `script` queries through scripts/painless_java.py (needs java). Independent of eqlc's
            evaluator, not of eqlc's DSL lowering.
python-eql  every query through Elastic's Python eql engine (../shared/oracles/eql_eval.py --es),
            events sorted by @timestamp then tiebreaker first. Python eql is case-insensitive,
            treats missing fields and arrays differently and rounds maxspan to seconds, so it
            disagrees wherever those matter; agreement elsewhere is the useful signal.

Prints one line per disagreement and a tally. Needs ../shared (and its oracle venv for python-eql:
../shared/oracles/setup.sh) and target/debug/eqlc (cargo build).
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared")
EQLC = os.path.join(ROOT, "target", "debug", "eqlc")


def load(suite_path, files):
    d = os.path.dirname(suite_path)
    suite = tomllib.load(open(suite_path, "rb"))
    data = suite["data"] if isinstance(suite["data"], str) else suite["data"][0]
    docs = [json.loads(line) for line in open(os.path.join(d, data)) if line.strip()]
    queries = []
    for qf in files or suite["queries"]:
        queries += tomllib.load(open(os.path.join(d, qf), "rb"))["queries"]
    return d, suite, docs, queries


def get(doc, path):
    cur = doc
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def millis(v):
    if isinstance(v, (int, float)):
        return v
    return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000


def accepts(expected, got):
    if expected and isinstance(expected[0], list):
        return got in expected
    return got == expected


def dsl(suite_path, files):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    sys.dont_write_bytecode = True
    import dsl_conformance as dc

    d, suite, docs, queries = load(suite_path, files)
    mapping_path = os.path.join(d, "mapping.json")
    mapping = json.load(open(mapping_path))
    idf = suite.get("id_field", suite.get("tiebreaker_field"))
    de = dc.import_oracle(SHARED)
    index = dc.OracleIndex(de, docs, mapping, "keyword")
    js = dc.JavaScripts(dc.import_painless_java(), "java")
    ix = js.add_index(docs, mapping, "keyword")
    cases = []
    for q in queries:
        text = q["query"].strip()
        if text.split()[0] in ("sequence", "sample") or "|" in text:
            continue
        with tempfile.TemporaryDirectory() as t:
            p = os.path.join(t, "q.eql")
            open(p, "w").write(text + "\n")
            r = subprocess.run([EQLC, "convert", "--target", "dsl", "--mapping", mapping_path, p],
                               capture_output=True, text=True)
        if r.returncode != 0:
            print(f"CONVERSION {q['name']}: {r.stderr.strip().splitlines()[0]}")
            continue
        query = json.loads(r.stdout.splitlines()[0])["search"]["query"]
        js.add_query(ix, query)
        cases.append((q, query))
    js.run()
    agree = differ = 0
    for q, query in cases:
        try:
            hits, _ = index.run(query, js.lookup(ix))
        except Exception as e:  # the oracle refused the DSL or a script failed
            print(f"ERROR {q['name']}: {type(e).__name__}: {e}")
            continue
        got = sorted(docs[i][idf] for i in hits)
        if got == sorted(q["expected_event_ids"]):
            agree += 1
        else:
            differ += 1
            print(f"DIFF {q['name']}: expected {q['expected_event_ids']}, dsl oracle {got}")
    print(js.summary())
    print(f"{agree} agree, {differ} differ")


def python_eql(suite_path, files):
    d, suite, docs, queries = load(suite_path, files)
    venv = os.environ.get("EQLC_ORACLE_VENV", os.path.expanduser("~/.cache/eqlc-oracles"))
    tb = suite.get("tiebreaker_field")
    docs.sort(key=lambda e: (millis(e["@timestamp"]), get(e, tb) if tb else 0))
    for e in docs:  # one time unit for the oracle: ISO strings
        if not isinstance(e["@timestamp"], str):
            e["@timestamp"] = datetime.datetime.fromtimestamp(e["@timestamp"] / 1000, datetime.timezone.utc).isoformat()
    idf = suite.get("id_field", tb)
    agree = differ = error = 0
    with tempfile.TemporaryDirectory() as t:
        data = os.path.join(t, "events.ndjson")
        with open(data, "w") as f:
            for e in docs:
                f.write(json.dumps(e) + "\n")
        for q in queries:
            r = subprocess.run([os.path.join(venv, "bin", "python"), os.path.join(SHARED, "oracles", "eql_eval.py"),
                                q["query"].strip(), data, "--es", "--runs", "--id-field", idf,
                                "--type-field", suite.get("event_category_field", "event.category"),
                                "--time-field", suite.get("timestamp_field", "@timestamp")],
                               capture_output=True, text=True)
            if r.returncode != 0:
                error += 1
                last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else str(r.returncode)
                print(f"ERROR {q['name']}: {last}")
                continue
            got = [int(x) for line in r.stdout.split() for x in line.split(",") if x]
            if accepts(q["expected_event_ids"], got):
                agree += 1
            else:
                differ += 1
                print(f"DIFF {q['name']}: expected {q['expected_event_ids']}, python eql {got}")
    print(f"{agree} agree, {differ} differ, {error} errors")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("dsl", "python-eql"):
        sys.exit(__doc__)
    (dsl if sys.argv[1] == "dsl" else python_eql)(sys.argv[2], sys.argv[3:])
