#!/usr/bin/env python3
"""Check that Elastic's Python eql parser (Elasticsearch-syntax mode) accepts canonical EQL.

Usage: python_eql_accepts.py DIR
Parses every *.eql file under DIR (as written by `eqlc convert --target eql --out DIR`) with
eql's ParserConfig(elasticsearch_syntax=True) plus sample, runs and missing-event support.
Prints one line per rejected file and a closing `N accepted, N rejected` line; exit 1 if any
file is rejected.
"""
import contextlib
import pathlib
import sys

import eql


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    files = sorted(pathlib.Path(sys.argv[1]).rglob("*.eql"))
    accepted = rejected = 0
    config = eql.parser.ParserConfig(
        elasticsearch_syntax=True, allow_sample=True, allow_runs=True, allow_negation=True
    )
    for path in files:
        text = path.read_text(encoding="utf-8")
        with contextlib.ExitStack() as stack:
            stack.enter_context(eql.parser.ignore_missing_functions)
            stack.enter_context(config)
            try:
                eql.parse_query(text)
                accepted += 1
            except eql.EqlError as error:
                rejected += 1
                first = str(error).splitlines()[0] if str(error) else type(error).__name__
                print(f"REJECTED {path}: {first}")
    print(f"{accepted} accepted, {rejected} rejected")
    return 1 if rejected or not files else 0


if __name__ == "__main__":
    sys.exit(main())
