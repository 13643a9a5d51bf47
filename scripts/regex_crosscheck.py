#!/usr/bin/env python3
"""Cross-check eqlc's Lucene translation of EQL regexes against what the regex means.

usage: scripts/regex_crosscheck.py [--eqlc target/debug/eqlc] [--shared ../shared] [--random N]

For each case (patterns + case sensitivity), eqlc converts `any where f regex[~] (...)` to Query
DSL; the `regexp` (or `term`) query on `f` runs in the DSL oracle (shared/oracles/dsl-eval) over
sample strings, and each verdict is compared with Python's `re.fullmatch` of the original
patterns. Python stands in for Java: flags ASCII (Java's \\d \\s \\w and ASCII-only case folding)
and DOTALL (eqlc keeps Lucene's `.`, which matches line terminators, as Elasticsearch does).
Cases: Elastic's real patterns (every regex in shared/corpus when present), hand-picked tricky
ones, and N seeded random patterns. Samples: strings generated to match each pattern, mutated
variants and a fixed list. Exit 1 if any verdict differs or eqlc rejects a fixed case.
"""
import argparse
import json
import pathlib
import random
import re
import subprocess
import sys
import warnings

import re._constants as C  # noqa: N812 (the sre opcodes)
import re._parser as sre

warnings.simplefilter("ignore")  # Python's FutureWarning about possible set operations
rnd = random.Random(1234)

REAL = [r".*\.(top|buzz|xyz)", r"[24][0-9]{3}", r"/[a-z0-9\s_\-\\./]+\s",
        r"\.[a-z0-9_\-][a-z0-9_\-\.]{1,254}", r"php?[0-9]?\.?[0-9]{0,2}",
        r".*[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{1,5})?\/[^ ]+.*",
        r"arn:aws:s3:::[^/]+/.*?(how|decrypt|ransom).*", r"(azure|sharp|blood)(hound)/.*",
        r"\".*\.exe[^\"].*", r"[0-9]{15}([1-9a-f]).*", r".*[ʰ-˿ᴬ-ᶻ]+.*",
        r"%systemroot%\\[a-z0-9]+\.exe", r"C:\\Program Files( \(x86\))?\\ThinKiosk\\thinkiosk\.exe",
        r"https?:\/\/[0-9]{1,3}(:[0-9]{1,5})?\/.*", r".+\.(wll|xll|ppa)", r"^.*?net.exe", r"net\.exe"]
TRICKY = [
    r"a.b", r"[Z-c]+", r"[^a-z]+", r"[^Z-c]x", r"[A-Fa]{2}", r"[\W]+", r"[^\W\d]+", r"\D\S\W",
    r"[\s\S]", r"[^\s]*", r"\s+", r"[\w.-]+@[\w-]+\.[a-z]{2,}", r"[\\-z]+", r"[\]\[^-]+", r"[-a]",
    r"[.-9]+", r"[!-~]+", r"[ -/]", r"\^\$", r"a\|b", r"a|b|", r"|", r"", r"^$", r"(^a|^b)(c$|d$)",
    r"^(foo|bar)$", r"(?:ab)+?c", r"(?P<x>a)(b)?", r"a{0}", r"a{2,}b{0,1}", r"(a|)", r"x()y",
    r"@#&~<>\"", r"\@\#\&\~\"", r"[@#&~<>\"]+", r"\{\}\(\)\[\]\*\+\?\.\|\\", r"\t\n\r\f\x41\u0042",
    r"(?i)abc", r"(?i)[a-c]+", r"(?i)^x[^k]", r"(?i)a|b", r"(?i)[^\W_]+", r"(?i)[@-`]", r"ß+",
    r"[à-ÿ]", r"[^à-ÿ]", r"\.EXE", r"[^aeiou]", r"K", r"[😀-😂]+", r"[^😀]", r"[^\n]*",
    r"[0-9a-fA-F]{2}:[0-9a-fA-F]{2}", r".*\\AppData\\.*\.(exe|dll)", r"[^^]", r"[\^a]", r"\-",
    r"[\x5b-\x60]+",
]
# Same meaning in Java, other spelling in Python.
JAVA_ONLY = {r"\A\.exe\z": r"\A\.exe\Z", r"\x{43}": "C", r"\<\>": "<>",
             r"a\vb": "a[\n\x0b\x0c\r\x85\u2028\u2029]b", r"(?<y>b)c": r"(?P<y>b)c"}

GENERAL = ["", "a", "A", "ab", "AB", "abc", "ABC", "aBc", "net.exe", "NET.EXE", "netxexe", "^net.exe",
           "x\nnet.exe", " ", "\t", "\x0b", "\x0c", "\n", "\r", "\x85", "\u2028", ".", "-", "\\", "^",
           "$", "^$", "[", "]", "_", "`", "@", "#", "&", "~", "<", ">", "<>", '"', "K", "k", "\u212a",
           "ß", "é", "É", "ʰ", "ᴬ", "0", "12", "2023", "1.2.3.4/x", "x.top", ".exe", ".EXE", "xk", "xK",
           "z", "Z", "\x00", "😀", "😁", "😃"]

# Random patterns, built from constructs that Python and Java read alike.
LIT = list("abAZ09_ /:%,'=!@#&~<>\"-é") + [
    "\\" + c for c in ".*+?()[]{}|\\^$"] + ["\\t"]
CLASS_ITEMS = ["a", "z", "A", "Q", "0", "_", ".", "/", " ", "\\-", "\\]", "\\[", "\\\\", "\\^", "@", "<",
               '"', "a-f", "X-c", "0-9", "!-/", "Z-a", "\\\\-z", "\\d", "\\D", "\\s", "\\S", "\\w", "\\W",
               "é-ü", "\\x00-\\x1f"]


def random_atom(depth=0):
    k = rnd.randrange(10 if depth < 3 else 6)
    if k <= 2:
        return rnd.choice(LIT)
    if k == 3:
        return "."
    if k == 4:
        return rnd.choice(["\\d", "\\D", "\\s", "\\S", "\\w", "\\W"])
    if k == 5:
        items = "".join(rnd.choice(CLASS_ITEMS) for _ in range(rnd.randint(1, 3)))
        return "[" + ("^" if rnd.random() < 0.3 else "") + items + "]"
    if k in (6, 7):
        inner = "".join(random_atom(depth + 1) for _ in range(rnd.randint(1, 3)))
        return "(" + rnd.choice(["", "?:"]) + inner + ")"
    if k == 8:
        branches = ("".join(random_atom(depth + 1) for _ in range(rnd.randint(0, 2)))
                    for _ in range(rnd.randint(2, 3)))
        return "(" + "|".join(branches) + ")"
    quantifier = rnd.choice(["*", "+", "?", "{2}", "{0,2}", "{1,}", "{1,3}"])
    return "(" + random_atom(depth + 1) + ")" + quantifier + ("?" if rnd.random() < 0.3 else "")


def random_pattern():
    body = "".join(random_atom() for _ in range(rnd.randint(1, 4)))
    body = ("^" if rnd.random() < 0.2 else "") + body + ("$" if rnd.random() < 0.2 else "")
    return ("(?i)" if rnd.random() < 0.1 else "") + body


# Strings that match a parsed Python pattern, then mutated.
CATEGORIES = {C.CATEGORY_DIGIT: "0123456789", C.CATEGORY_SPACE: " \t\n\r\x0b\x0c",
              C.CATEGORY_WORD: "azAZ09_", C.CATEGORY_NOT_DIGIT: "a.-é", C.CATEGORY_NOT_SPACE: "a.\x85",
              C.CATEGORY_NOT_WORD: ".-é "}


def generate(tree):
    out = []
    for op, av in tree:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append(rnd.choice([c for c in "ab.\\Zz \n" if ord(c) != av]))
        elif op is C.ANY:
            out.append(rnd.choice("aZ.\n\\ é"))
        elif op is C.IN:
            if av and av[0][0] is C.NEGATE:
                out.append(rnd.choice("aA.-\\^ \n0é_Z[]"))
                continue
            kind, arg = rnd.choice(av)
            if kind is C.LITERAL:
                out.append(chr(arg))
            elif kind is C.RANGE:
                out.append(chr(rnd.choice([arg[0], arg[1], rnd.randint(arg[0], arg[1])])))
            else:
                out.append(rnd.choice(CATEGORIES[arg]))
        elif op is C.BRANCH:
            out.append(generate(rnd.choice(av[1])))
        elif op is C.SUBPATTERN:
            out.append(generate(av[3]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            hi = lo + 3 if hi is C.MAXREPEAT else min(hi, lo + 3)
            out.append("".join(generate(sub) for _ in range(rnd.randint(lo, hi))))
    return "".join(out)


def mutate(s):
    s = list(s)
    k = rnd.randrange(5)
    if k == 0 and s:
        i = rnd.randrange(len(s))
        s[i] = s[i].swapcase()
    elif k == 1 and s:
        del s[rnd.randrange(len(s))]
    elif k == 2:
        s.insert(rnd.randint(0, len(s)), rnd.choice("a.\\-Z\n ^$0"))
    elif k == 3:
        s = [c.swapcase() for c in s]
    elif k == 4 and s:
        s[rnd.randrange(len(s))] = rnd.choice("xX.\\-/0 ")
    return "".join(s)


def samples(python_patterns):
    out = set(GENERAL)
    for p in python_patterns:
        tree = sre.parse(p)
        for _ in range(40):
            s = generate(tree)
            out.update([s, mutate(s), mutate(mutate(s))])
    return sorted(out)


def eql_string(p):
    if '"""' not in p and not p.endswith('"'):
        return '"""' + p + '"""'
    return '"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"'


def translate(eqlc, patterns, insensitive):
    """eqlc's query on `f`, or its error message."""
    op = "regex~" if insensitive else "regex"
    query = f"any where f {op} ({', '.join(eql_string(p) for p in patterns)})"
    out = subprocess.run([eqlc, "convert", "--target", "dsl", "--query", query],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[0]
    query = json.loads(out.stdout)["search"]["query"]
    while "bool" in query:
        query = query["bool"]["filter"][0]
    return query, None


def corpus_cases(eqlc, corpus):
    files = [str(p) for p in corpus.rglob("*.toml") if re.search(r"regex~? *[(\"]", p.read_text("utf-8"))]
    if not files:
        return []
    out = subprocess.run([eqlc, "parse", "--ir", "json", *files], capture_output=True, text=True)
    found = []

    def walk(x):
        if isinstance(x, dict):
            patterns = x.get("patterns")
            if x.get("op") == "regex" and all(isinstance(p, str) for p in patterns or [None]):
                found.append((x["case"] == "insensitive", patterns))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    decoder, text, i = json.JSONDecoder(), out.stdout, 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = decoder.raw_decode(text, i)
        walk(obj)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eqlc", default="target/debug/eqlc")
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--random", type=int, default=300)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    shared = pathlib.Path(a.shared)
    sys.path.insert(0, str(shared / "oracles" / "dsl-eval"))
    import dsl_eval

    cases = []  # (insensitive, patterns, python patterns, must translate)
    for p in REAL + TRICKY:
        cases += [(ci, [p], [p], True) for ci in (False, True)]
    for p, py in JAVA_ONLY.items():
        cases += [(ci, [p], [py], True) for ci in (False, True)]
    cases += [(True, [r"^.*?net.exe", r"net\.exe"], [r"^.*?net.exe", r"net\.exe"], True),
              (False, [r"(?i)ab", "cd"], [r"(?i)ab", "cd"], True)]
    corpus = shared / "corpus" / "detection-rules"
    if corpus.is_dir():
        for ci, patterns in corpus_cases(a.eqlc, corpus):
            cases += [(ci, patterns, patterns, True), (not ci, patterns, patterns, True)]
    for _ in range(a.random):
        p = random_pattern()
        try:
            re.compile(p)
        except re.error:
            continue
        cases.append((rnd.random() < 0.5, [p], [p], False))

    agree = disagree = rejected = failed = 0
    for ci, patterns, python, must in cases:
        query, error = translate(a.eqlc, patterns, ci)
        if error:
            rejected += 1
            failed += must
            if must or a.verbose:
                print(f"REJECTED {patterns!r}: {error}")
            continue
        flags = re.ASCII | re.DOTALL | (re.IGNORECASE if ci else 0)
        compiled = [re.compile(p, flags) for p in python]
        strings = samples(python)
        docs = [{"serial_event_id": i, "f": s} for i, s in enumerate(strings)]
        try:
            hits = set(dsl_eval.evaluate(query, docs))
        except dsl_eval.DslError as e:
            print(f"ORACLE REJECTS {patterns!r} -> {query}: {e}")
            disagree += len(strings)
            continue
        wrong = [s for i, s in enumerate(strings) if any(r.fullmatch(s) for r in compiled) != (i in hits)]
        agree += len(strings) - len(wrong)
        disagree += len(wrong)
        if wrong or a.verbose:
            print(f"{'DIFF' if wrong else 'OK'} {'regex~' if ci else 'regex'} {patterns!r} -> {query}"
                  + (f" e.g. {wrong[:4]!r}" if wrong else ""))
    print(f"{len(cases)} cases, {rejected} rejected by eqlc ({failed} of them fixed cases); "
          f"{agree} verdicts agree, {disagree} differ")
    return 1 if disagree or failed else 0


if __name__ == "__main__":
    sys.exit(main())
