#!/usr/bin/env python3
"""How many corpus EQL rules become Sigma rules the Sigma toolchain accepts, and why the rest don't.

usage: sigma_corpus_report.py CHECK.json VALIDATE.txt [--corpus-prefix P] [--out-prefix O] [--min-rate R]

CHECK.json    `eqlc check --format json --target sigma <corpus>`
VALIDATE.txt  the output of `../shared/oracles/sigma_validate.sh <dir>` over
              `eqlc convert --target sigma <corpus> --out <dir>`
A detection-rules EQL rule counts as done when eqlc converts it and the validator passes its file.
Prints the rate, the failures tallied by reason (eqlc's construct, or the validator's stage), and
exits 1 when the rate is below --min-rate.
"""
import argparse
import collections
import json
import re


def reason(message):
    # "cannot convert to Sigma: `until` (...)" -> the construct
    return message.split("cannot convert to Sigma: ", 1)[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("check")
    ap.add_argument("validate")
    ap.add_argument("--min-rate", type=float, default=0.0)
    a = ap.parse_args()

    validated = {}
    for line in open(a.validate, encoding="utf-8"):
        m = re.match(r"^(PASS|FAIL) (\S+)(?: -- (.*))?$", line.rstrip("\n"))
        if m:
            key = re.sub(r"^.*?/detection-rules/", "detection-rules/", m.group(2))
            validated[key[: -len(".yml")]] = (m.group(1), m.group(3) or "")

    report = json.load(open(a.check, encoding="utf-8"))
    rules = [r for r in report["rules"]
             if "/detection-rules/" in r["path"] and r["path"].endswith(".toml") and r["status"] != "skipped"]
    done = 0
    tally = collections.Counter()
    examples = {}
    for r in rules:
        key = re.sub(r"^.*?/detection-rules/", "detection-rules/", r["path"])[: -len(".toml")]
        if r["status"] != "ok":
            why = "eqlc: " + "; ".join(reason(d["message"]) for d in r["diagnostics"] if d["severity"] == "error")
        else:
            verdict, detail = validated.get(key, ("MISSING", "no validator verdict"))
            if verdict == "PASS":
                done += 1
                continue
            why = "validator: " + detail.split(":")[0] + ": " + ":".join(detail.split(":")[1:2]).strip()
        tally[why] += 1
        examples.setdefault(why, r["path"])
    rate = done / len(rules) if rules else 0.0
    print(f"sigma: {done} of {len(rules)} EQL detection rules convert and pass the validator ({rate:.1%})")
    for why, n in tally.most_common():
        print(f"  {n:4d}  {why}   e.g. {examples[why]}")
    if rate < a.min_rate:
        print(f"FAIL: below the required {a.min_rate:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
