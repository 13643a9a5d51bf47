#!/usr/bin/env python3
"""Validate every request body in eqlc's DSL artifacts against the official Elasticsearch API schemas.

usage: validate_dsl_artifacts.py [--schemas DIR] ARTIFACTS...

ARTIFACTS are NDJSON files (`eqlc convert --target dsl ... > x.ndjson`) or directories of
`*.dsl.json` files (`--out DIR`). Each artifact's `eql_search` is checked as an `_eql/search`
body, its `search` as a `_search` body, and every stage query (and `until`) as a Query DSL query,
with the strict schemas in ../shared/oracles/dsl-schema. Needs the `jsonschema` package
(installed by ../shared/oracles/setup.sh). Prints one line per failure and a tally; exit 1 if
anything fails.
"""
import argparse
import json
import os
import sys


def artifacts(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, files in sorted(os.walk(path)):
                for name in sorted(files):
                    if name.endswith(".dsl.json"):
                        full = os.path.join(root, name)
                        with open(full, encoding="utf-8") as fh:
                            yield full, json.load(fh)
        else:
            with open(path, encoding="utf-8") as fh:
                for number, line in enumerate(fh, 1):
                    if line.strip():
                        yield f"{path}:{number}", json.loads(line)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemas", default=os.path.join(here, "..", "..", "shared", "oracles", "dsl-schema"))
    ap.add_argument("artifacts", nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.schemas))
    import validate_dsl  # noqa: E402  (lives beside the schemas)

    validators = {kind: validate_dsl.load_validator(kind, False) for kind in ("query", "search", "eql")}
    counts = {"eql": 0, "search": 0, "query": 0}
    failures = 0
    rules = 0
    for name, artifact in artifacts(args.artifacts):
        rules += 1
        bodies = [("eql", "eql_search", artifact.get("eql_search"))]
        if "search" in artifact:
            bodies.append(("search", "search", artifact["search"]))
        for i, stage in enumerate(artifact.get("stages", [])):
            bodies.append(("query", f"stages[{i}].query", stage["query"]))
        if artifact.get("until"):
            bodies.append(("query", "until.query", artifact["until"]["query"]))
        for kind, where, body in bodies:
            if body is None:
                print(f"FAIL {name} {where}: missing")
                failures += 1
                continue
            counts[kind] += 1
            problem = validate_dsl.check(validators[kind], body)
            if problem:
                failures += 1
                print(f"FAIL {name} {where}: {problem}")
    print(
        f"{rules} artifacts: {counts['eql']} _eql/search bodies, {counts['search']} _search bodies, "
        f"{counts['query']} stage queries; {failures} failed"
    )
    return 1 if failures or rules == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
