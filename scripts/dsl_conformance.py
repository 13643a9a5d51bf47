#!/usr/bin/env python3
"""Run the Query DSL that eqlc produces through an independent Query DSL interpreter and compare
the matches with expected results.

usage: dsl_conformance.py [--eqlc target/release/eqlc] [--shared ../shared]
                          [--suite es-qa|differential|all] [--verbose] [--keep DIR]
                          [--java | --no-java] [--java-bin java]

The interpreter is ../shared/oracles/dsl-eval/dsl_eval.py (imported, standard library only).
Two suites, each converted with ONE `eqlc convert --target dsl` run over a temporary directory
of `.eql` files (es-qa: one run per mapping pass):

* es-qa: Elasticsearch's EQL QA spec queries (../shared/conformance/es-qa) that are single-event
  queries, over endgame-140.ndjson. eqlc and the oracle get the same mapping: the suite's
  endgame-140.mapping (comments stripped, `[runtime_random_keyword_type]` replaced) completed with
  the fields Elasticsearch maps dynamically when the QA DataLoader indexes the data (strings ->
  text + `.keyword` (ignore_above 256), integers -> long, floats -> float), i.e. what
  `GET endgame-140/_mapping` returns once the data is loaded, which is the mapping the QA queries
  really run against. Two passes: random keyword type = keyword, then = wildcard.
  The oracle's matches are ordered as Elasticsearch returns them (artifact `search.sort` on
  @timestamp, tiebreaker serial_event_id in the same direction), cut to the artifact's
  `search.size` and to the QA runner's size (50), put back in ascending order, and compared as an
  ordered list with `expected_event_ids`.
* differential: the EventQuery fixtures with status ok (../shared/conformance/differential).
  eqlc lowers against ECS types (no --mapping), so the oracle indexes each fixture with a mapping
  built from data/ecs-field-types.tsv for the fields the fixture uses (other fields: dynamic,
  strings as keyword). An event whose value ECS's type cannot index (e.g. `destination.ip:
  "xvhqgjnx.exe"`) would be rejected by Elasticsearch, so it cannot be in the index: it is
  removed from the expected matches and reported as a note, not as a failure. The oracle's
  matches (serial_event_id, after the artifact's size/sort) are compared with expected.txt as a
  multiset.

Script queries: the oracle does not run Painless.  When `java` is on the PATH (or with --java;
--no-java turns it off), the `script` queries of a suite are run ONCE as Java by
scripts/painless_java.py (one `java` invocation per suite: the scripts translated mechanically
into Java, over the suite's documents indexed as doc values under the same mapping the oracle
uses), and the oracle's Compiler is extended (subclassed here; dsl_eval is unmodified) so that a
`script` query is a predicate backed by those results.  Such cases count as agree/disagree like
the others and are tallied as "agree (java)" / "disagree (java)".  Without Java they are
script-only, as before.

Outcomes per case: agree; disagree (failure); script-only (the DSL uses a `script` query and
Java is off, or the script uses a construct painless_java does not translate: reported, not a
failure); script error (a script that does not compile as Java or throws on a document the
search reaches, which Elasticsearch would answer with an error: a failure); conversion failure
(eqlc rejected the query: a failure unless allow-listed below with a reason); oracle error
(DslError: the DSL is something Elasticsearch would reject: a failure); artifact error
(missing/ill-formed `search` body, `uses_script` inconsistent with the DSL, ...: a failure).

Exit status: 0 when nothing failed, 1 otherwise, 2 on usage errors.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import datetime, timezone

ES_QA_FILES = ["test_queries.toml", "additional_test_queries.toml", "test_queries_date.toml"]
ES_QA_SIZE = 50  # suite.toml `size`: the QA runner asks for at most 50 results
ES_QA_TIEBREAKER = "serial_event_id"

# es-qa queries eqlc may legitimately refuse to convert, with the reason.  An entry here turns a
# conversion failure into an "allowed" one; an allowed entry that converts is reported (so the
# list can shrink) but is not a failure.  Keep each entry justified.
ES_QA_ALLOWED_CONVERSION_FAILURES: dict[str, str] = {
    # Elasticsearch answers these with its own script helpers; standard Painless cannot say
    # them without putting user text into the script source, so eqlc refuses them by name.
    "stringCidrMatch2": "cidrMatch on a computed value: no CIDR parsing in standard Painless",
    "regexWithSubstring": "regex on a computed value: Painless compiles only regex literals "
                          "written into the source",
}

# differential fixtures eqlc may legitimately refuse to convert (rule_id -> reason).
DIFFERENTIAL_ALLOWED_CONVERSION_FAILURES: dict[str, str] = {}

# Differential fixtures whose expected.txt is wrong under Elasticsearch semantics (defects of the
# fixture generator's oracle, Python eql 1.0.1): rule_id -> (expected.txt as shipped, corrected
# expectation, reason).  The correction applies only while expected.txt still holds the shipped
# value; once the fixture is regenerated the entry is reported as stale and ignored.
DIFFERENTIAL_FIXTURE_CORRECTIONS: dict[str, tuple[list[str], list[str], str]] = {
    "ec81962e-4bc8-48e6-bfb0-545fc97d8f6a": (
        [], ["21", "27", "33", "37"],
        "Python eql 1.0.1 reads a back-quoted field such as "
        "`kubernetes.audit.annotations.authorization_k8s_io/decision` as ONE top-level key "
        "(Field(base='kubernetes.audit...decision', path=[])), so it never sees the nested value and "
        "the rule never matches; Elasticsearch resolves the dotted name through the objects. "
        "Events 21, 27, 33 and 37 satisfy all four conditions (checked on events.ndjson by hand)."),
}

DSL_TRUNCATE = 1200


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def first_keyword(query: str) -> str:
    """The first word of an EQL query after whitespace and comments."""
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
    m = re.match(r"[A-Za-z_]+", s)
    return m.group(0).lower() if m else ""


def one_line(s: str) -> str:
    return " ".join(s.split())


def truncate(s: str, n: int = DSL_TRUNCATE) -> str:
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def import_oracle(shared: str):
    path = os.path.join(shared, "oracles", "dsl-eval")
    if not os.path.isfile(os.path.join(path, "dsl_eval.py")):
        sys.exit(f"error: the DSL oracle is not at {path}/dsl_eval.py")
    sys.path.insert(0, path)
    import dsl_eval  # noqa: E402

    return dsl_eval


def contains_script(q) -> bool:
    if isinstance(q, dict):
        return any(k in ("script", "script_score") or contains_script(v) for k, v in q.items())
    if isinstance(q, list):
        return any(contains_script(v) for v in q)
    return False


# ---------------------------------------------------------------------------------------------
# script queries through the Java emulation of Painless (scripts/painless_java.py)
# ---------------------------------------------------------------------------------------------


class ScriptFailure(Exception):
    """A script query Elasticsearch would answer with an error (or that the Java emulation could
    not compile or run)."""


def import_painless_java():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no scripts/__pycache__ in the working tree
    try:
        import painless_java  # noqa: E402
    finally:
        sys.dont_write_bytecode = saved
    return painless_java


def script_objects(q, out=None):
    """The script objects ({"source", "params", "lang"} or a source string) of the `script`
    queries in q."""
    out = [] if out is None else out
    if isinstance(q, dict):
        for k, v in q.items():
            if k == "script" and isinstance(v, dict) and "script" in v:
                out.append(v["script"])
            else:
                script_objects(v, out)
    elif isinstance(q, list):
        for v in q:
            script_objects(v, out)
    return out


def script_key(script) -> str:
    return json.dumps(script, sort_keys=True, separators=(",", ":"))


class JavaScripts:
    """The script queries of one suite: indexes and scripts registered while its artifacts are
    read, run by ONE painless_java batch (one `java` invocation), then looked up by the oracle."""

    def __init__(self, pj, java_bin):
        self.pj = pj
        self.java_bin = java_bin
        self.batch = pj.Batch()
        self.handles: dict = {}   # (index, script key) -> batch handle
        self.outcomes = None
        self.failure = None
        self.elapsed = 0.0

    def add_index(self, docs, mapping, dynamic_strings):
        return self.batch.add_index(docs, mapping, dynamic_strings)

    def add_query(self, ix, query):
        for s in script_objects(query):
            k = (ix, script_key(s))
            if k not in self.handles:
                self.handles[k] = self.batch.add_script(s, ix)

    def run(self, keep_dir=None):
        t0 = time.monotonic()
        self.outcomes = {}
        if self.handles:
            try:
                self.outcomes = self.batch.run(java=self.java_bin, keep_dir=keep_dir)
            except (RuntimeError, OSError) as e:
                self.failure = f"the Java run failed: {e}"
        self.elapsed = time.monotonic() - t0

    def lookup(self, ix):
        def find(script):
            h = self.handles.get((ix, script_key(script)))
            if h is None:
                return None
            if self.failure:
                return self.pj.ScriptOutcome(error=self.failure, error_kind="compile")
            return self.outcomes.get(h)
        return find

    def summary(self):
        n = len(self.handles)
        sources = len({json.loads(k[1])["source"] if k[1].startswith("{") else k[1] for k in self.handles})
        return (f"java: {n} script(s), {sources} distinct source(s), over {len(self.batch.indexes)} "
                f"index(es), one `java` run [{self.elapsed:.2f}s]"
                + (f"; {self.failure}" if self.failure else ""))


_JAVA_COMPILERS: dict = {}


def java_script_compiler(de, store, lookup, used):
    """dsl_eval's Compiler, with each `script` query a predicate backed by the Java results."""
    cls = _JAVA_COMPILERS.get(id(de))
    if cls is None:
        pj = import_painless_java()

        class JavaScriptCompiler(de.Compiler):
            def __init__(self, store, lookup, used):
                super().__init__(store)
                self.script_lookup = lookup
                self.scripts_used = used

            def compile(self, q):
                if isinstance(q, dict) and len(q) == 1 and "script" in q:
                    return self.q_script_java(q["script"])
                return super().compile(q)

            def q_script_java(self, body):
                if not isinstance(body, dict) or "script" not in body:
                    raise de.DslError("[script] query malformed, no [script] in it")
                extra = sorted(set(body) - {"script", "boost", "_name"})
                if extra:
                    raise de.DslError(f"[script] query does not support {extra}")
                script = body["script"]
                oc = self.script_lookup(script)
                if oc is None:
                    raise de.UnsupportedScript()
                self.scripts_used.append((script, oc))
                if oc.error is not None:
                    if oc.error_kind == "unsupported":
                        raise de.UnsupportedScript(oc.error)
                    raise ScriptFailure(oc.error)
                results = oc.results

                def pred(i):
                    r = results[i]
                    if r is True or r is False:
                        return r
                    if r is pj.REJECTED:
                        raise ScriptFailure(f"painless_java would not index document #{i + 1} "
                                            f"(Elasticsearch would reject it) but the oracle indexes it")
                    raise ScriptFailure(f"the script throws on document #{i + 1}: {r.message}")

                return pred

        cls = _JAVA_COMPILERS[id(de)] = JavaScriptCompiler
    return cls(store, lookup, used)


# ---------------------------------------------------------------------------------------------
# the oracle: one indexed document set, many queries
# ---------------------------------------------------------------------------------------------


class OracleIndex:
    """The documents indexed once (schema + store), then any number of queries run against them.
    Uses dsl_eval's Schema/Store/Compiler (what dsl_eval.evaluate does, without re-indexing per
    query); falls back to dsl_eval.evaluate if those names are gone."""

    def __init__(self, de, docs, mapping, dynamic_strings):
        self.de = de
        self.docs = docs
        self.mapping = mapping
        self.dynamic_strings = dynamic_strings
        self.warnings: list[str] = []
        self.rejected: set[int] = set()
        self.store = None
        err = io.StringIO()
        if all(hasattr(de, n) for n in ("Schema", "Store", "Compiler", "flatten_doc")):
            with contextlib.redirect_stderr(err):
                schema = de.Schema(mapping, [de.flatten_doc(d) for d in docs], dynamic_strings)
                self.store = de.Store(docs, schema)
            self.rejected = set(self.store.rejected)
        else:
            with contextlib.redirect_stderr(err):
                de.evaluate({"match_all": {}}, docs, mapping, dynamic_strings)
            for m in re.finditer(r"document #(\d+) would be rejected", err.getvalue()):
                self.rejected.add(int(m.group(1)) - 1)
        self.warnings = [ln for ln in err.getvalue().splitlines() if ln.strip()]

    def run(self, query, script_lookup=None):
        """(matching indices, notes).  Raises de.UnsupportedScript / de.DslError / ScriptFailure.
        script_lookup(script object) -> painless_java.ScriptOutcome or None: `script` queries are
        answered from it (self.last_scripts then lists the (script, outcome) pairs used)."""
        de = self.de
        if hasattr(de, "NOTES"):
            del de.NOTES[:]
        err = io.StringIO()
        self.last_scripts = []
        try:
            with contextlib.redirect_stderr(err):
                if self.store is not None:
                    if script_lookup is not None:
                        compiler = java_script_compiler(de, self.store, script_lookup, self.last_scripts)
                    else:
                        compiler = de.Compiler(self.store)
                    pred = compiler.compile(query)
                    hits = [i for i in range(len(self.docs)) if i not in self.rejected and pred(i)]
                else:
                    hits = de.evaluate(query, self.docs, self.mapping, self.dynamic_strings)
        except RecursionError as e:
            raise de.DslError(f"recursion: {e}")
        notes = list(getattr(de, "NOTES", [])) + [ln for ln in err.getvalue().splitlines() if ln.strip()]
        return hits, notes


def sort_key_value(v):
    """@timestamp / tiebreaker values -> something orderable (numbers and ISO strings)."""
    if isinstance(v, list):
        v = v[0] if v else None
    if v is None:
        return (1, 0.0)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v))
    try:
        d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        return (0, d.timestamp() * 1000.0)
    except ValueError:
        try:
            return (0, float(v))
        except ValueError:
            return (2, str(v))


def get_path(doc, path):
    if path in doc:
        return doc[path]
    cur = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def apply_search_window(hits, docs, search, tiebreaker, cap=None):
    """Emulate what Elasticsearch returns for the artifact's `search` body: sort the hits by the
    artifact's sort (the tiebreaker follows the same direction, as EQL's does), keep `size` of
    them (and at most `cap`), return them in ascending order (EQL returns `tail` ascending)."""
    sort = search.get("sort") or [{"@timestamp": {"order": "asc"}}]
    (field, spec), = sort[0].items()
    order = spec.get("order", "asc") if isinstance(spec, dict) else spec
    desc = order == "desc"
    keyed = sorted(hits, key=lambda i: (sort_key_value(get_path(docs[i], field)),
                                        sort_key_value(get_path(docs[i], tiebreaker))), reverse=desc)
    size = search.get("size", 10)
    keyed = keyed[:size]
    if desc:
        keyed.reverse()
    if cap is not None and len(keyed) > cap:
        keyed = keyed[-cap:] if desc else keyed[:cap]
    return keyed


# ---------------------------------------------------------------------------------------------
# eqlc
# ---------------------------------------------------------------------------------------------


def run_eqlc(eqlc, in_dir, out_dir, mapping_path=None):
    """One `eqlc convert --target dsl` run.  Returns (exit code, {stem: artifact}, {stem: [diag]},
    raw stderr).  Diagnostics are attributed to files by their ` --> path:line:col` line."""
    cmd = [eqlc, "convert", "--target", "dsl", in_dir, "--out", out_dir, "--color", "never"]
    if mapping_path:
        cmd += ["--mapping", mapping_path]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if p.returncode not in (0, 1):
        sys.exit(f"error: `{' '.join(cmd)}` exited {p.returncode}:\n{p.stderr}")
    artifacts = {}
    for root, _, files in os.walk(out_dir):
        for f in files:
            if f.endswith(".dsl.json"):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    text = fh.read()
                stem = f[: -len(".dsl.json")]
                try:
                    artifacts[stem] = json.loads(text)
                except json.JSONDecodeError as e:
                    artifacts[stem] = {"__invalid_json__": f"{e}: {text[:200]}"}
    diags = collections.defaultdict(list)
    blocks = re.split(r"\n(?=(?:error|warning)(?:\[[^\]]*\])?:)", "\n" + p.stderr)
    for b in blocks:
        b = b.strip("\n")
        if not b.strip():
            continue
        m = re.search(r"(?:-->|= note: in)\s*(\S+?)(?::\d+:\d+)?\s*$", b, re.M)
        stem = None
        if m:
            base = os.path.basename(m.group(1))
            stem = base[:-4] if base.endswith(".eql") else base
        else:
            for s in re.findall(r"([^\s/:]+)\.eql\b", b):
                stem = s
        diags[stem].append(b)
    return p.returncode, artifacts, diags, p.stderr, elapsed


def first_error(diag_blocks):
    errs = [b for b in diag_blocks if b.lstrip().startswith("error")]
    return errs or diag_blocks


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


class Case:
    def __init__(self, cid, eql, expected):
        self.id = cid
        self.eql = eql
        self.expected = expected
        # agree|disagree|script|script-error|convert-fail|convert-allowed|oracle-error|artifact-error
        self.status = None
        self.java = False     # the query has script queries, answered through Java
        self.scripts = []     # [(script object, painless_java.ScriptOutcome)]
        self.java_index = None  # (painless_java.DocIndex, {id: document index}) for diagnostics
        self.got = None
        self.dsl = None
        self.detail = ""
        self.notes: list[str] = []


FAILING = {"disagree", "script-error", "convert-fail", "oracle-error", "artifact-error"}


def check_artifact(art, expected_kind="event"):
    """The `search` query of an artifact, or raises ValueError with what is wrong."""
    if "__invalid_json__" in art:
        raise ValueError("artifact is not valid JSON: " + art["__invalid_json__"])
    if art.get("kind") != expected_kind:
        raise ValueError(f"kind is {art.get('kind')!r}, expected {expected_kind!r}")
    search = art.get("search")
    if not isinstance(search, dict) or "query" not in search:
        raise ValueError("no `search` body with a `query`")
    size = search.get("size")
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"search.size is {size!r}")
    sort = search.get("sort")
    if not (isinstance(sort, list) and sort and isinstance(sort[0], dict) and len(sort[0]) == 1):
        raise ValueError(f"search.sort is {sort!r}")
    (_, spec), = sort[0].items()
    order = spec.get("order") if isinstance(spec, dict) else spec
    if order not in ("asc", "desc"):
        raise ValueError(f"search.sort order is {order!r}")
    return search


def evaluate_case(case, art, index, de, id_of, tiebreaker, cap=None, script_lookup=None):
    """Fill case.status/got from an artifact.  id_of(i) gives the id of document i;
    script_lookup answers `script` queries (see OracleIndex.run)."""
    try:
        search = check_artifact(art)
    except ValueError as e:
        case.status, case.detail = "artifact-error", str(e)
        case.dsl = json.dumps(art)
        return
    case.dsl = json.dumps(search["query"], separators=(",", ":"))
    has_script = contains_script(search["query"])
    if bool(art.get("uses_script")) != has_script:
        case.status = "artifact-error"
        case.detail = f"uses_script is {art.get('uses_script')!r} but the search query " \
                      f"{'contains' if has_script else 'does not contain'} a script"
        return
    try:
        hits, notes = index.run(search["query"], script_lookup if has_script else None)
    except de.UnsupportedScript as e:
        case.status = "script"
        case.scripts = list(getattr(index, "last_scripts", []))
        if str(e):
            case.notes.append(f"not checked through Java: {e}")
        return
    except ScriptFailure as e:
        case.status, case.detail = "script-error", str(e)
        case.scripts = list(getattr(index, "last_scripts", []))
        return
    except de.DslError as e:
        case.status, case.detail = "oracle-error", str(e)
        return
    case.scripts = list(getattr(index, "last_scripts", []))
    case.java = bool(case.scripts)
    case.notes.extend(notes)
    window = apply_search_window(hits, index.docs, search, tiebreaker, cap)
    case.got = [id_of(i) for i in window]


# ---------------------------------------------------------------------------------------------
# suite 1: es-qa
# ---------------------------------------------------------------------------------------------


def es_qa_cases(suite_dir):
    cases, skipped = [], collections.Counter()
    seen = set()
    for fname in ES_QA_FILES:
        with open(os.path.join(suite_dir, fname), "rb") as fh:
            data = tomllib.load(fh)
        for q in data.get("queries", []):
            kw = first_keyword(q["query"])
            if kw in ("sequence", "sample", "join"):
                skipped[kw] += 1
                continue
            # keys other than name/query/expected_event_ids: note/notes/description are free text
            # (ignored by the QA runner).  The legacy case_sensitive/case_insensitive flags and
            # anything else unknown would change what is expected: refuse to guess.
            unknown = set(q) - {"name", "query", "expected_event_ids", "note", "notes", "description", "tags"}
            if unknown:
                skipped["unknown keys " + ",".join(sorted(unknown))] += 1
                continue
            name = q["name"]
            if name in seen:
                sys.exit(f"error: duplicate es-qa query name {name}")
            seen.add(name)
            exp = q["expected_event_ids"]
            if exp and isinstance(exp[0], list):
                exp = [list(x) for x in exp]  # alternatives
            else:
                exp = [list(exp)]
            c = Case(name, q["query"].strip(), exp)
            c.file = fname
            cases.append(c)
    return cases, skipped


def effective_es_qa_mapping(de, declared, docs):
    """The declared mapping plus what Elasticsearch's dynamic mapping adds when the documents are
    indexed: what `GET endgame-140/_mapping` returns once the QA DataLoader has loaded the data."""
    return effective_mapping(de, declared, docs, "es")


def effective_mapping(de, declared, docs, dynamic_strings):
    """The declared mapping completed with the fields the oracle maps dynamically (with
    dynamic_strings), so that the Java emulation indexes every field as the oracle does."""
    m = json.loads(json.dumps(declared if declared is not None else {}))
    with contextlib.redirect_stderr(io.StringIO()):
        schema = de.Schema(m, [de.flatten_doc(d) for d in docs], dynamic_strings)
    added = []
    for path, fd in sorted(schema.dyn.items()):
        if fd.type == "text":
            spec = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        else:
            spec = {"type": fd.type}
        props = m.setdefault("properties", {})
        parts = path.split(".")
        ok = True
        for p in parts[:-1]:
            node = props.setdefault(p, {"properties": {}})
            if "properties" not in node:
                ok = False
                break
            props = node["properties"]
        if ok and parts[-1] not in props:
            props[parts[-1]] = spec
            added.append(f"{path}:{spec['type']}")
    return m, added


def run_es_qa(args, de, tmp):
    suite_dir = os.path.join(args.shared, "conformance", "es-qa")
    cases, skipped = es_qa_cases(suite_dir)
    docs = de.read_ndjson(os.path.join(suite_dir, "endgame-140.ndjson"))
    in_dir = os.path.join(tmp, "es-qa", "in")
    os.makedirs(in_dir)
    by_stem = {}
    for c in cases:
        stem = safe_name(c.id)
        assert stem not in by_stem, stem
        by_stem[stem] = c
        with open(os.path.join(in_dir, stem + ".eql"), "w", encoding="utf-8") as fh:
            fh.write(c.eql + "\n")

    results = {}
    js = JavaScripts(import_painless_java(), args.java_bin) if args.java else None
    converted = []
    for rk in args.random_keyword_types:
        declared = de.load_mapping(os.path.join(suite_dir, "endgame-140.mapping"), rk)
        mapping, added = effective_es_qa_mapping(de, declared, docs)
        mpath = os.path.join(tmp, "es-qa", f"mapping-{rk}.json")
        with open(mpath, "w", encoding="utf-8") as fh:
            json.dump({"mappings": mapping}, fh, indent=1)
        out_dir = os.path.join(tmp, "es-qa", f"out-{rk}")
        rc, arts, diags, stderr, elapsed = run_eqlc(args.eqlc, in_dir, out_dir, mpath)
        index = OracleIndex(de, docs, mapping, "es")
        jix = None
        if js is not None:
            # the Java side indexes the documents under the same (complete) mapping
            jix = js.add_index(docs, mapping, "es")
            for art in arts.values():
                search = art.get("search") if isinstance(art, dict) else None
                if isinstance(search, dict) and contains_script(search.get("query")):
                    js.add_query(jix, search["query"])
        converted.append((rk, mapping, added, rc, arts, diags, elapsed, index, jix))
    if js is not None:
        js.run(keep_dir=os.path.join(tmp, "es-qa", "java") if args.keep else None)
    id_to_doc = {get_path(d, ES_QA_TIEBREAKER): i for i, d in enumerate(docs)}

    for rk, mapping, added, rc, arts, diags, elapsed, index, jix in converted:
        lookup = js.lookup(jix) if js is not None else None
        fresh = []
        for stem, c0 in by_stem.items():
            c = Case(c0.id, c0.eql, c0.expected)
            c.file = c0.file
            fresh.append(c)
            art = arts.get(stem)
            if art is None:
                msg = "\n".join(first_error(diags.get(stem, []))) or \
                      f"no artifact written (eqlc exit {rc}; no diagnostic names this file)"
                if c.id in ES_QA_ALLOWED_CONVERSION_FAILURES:
                    c.status, c.detail = "convert-allowed", msg
                else:
                    c.status, c.detail = "convert-fail", msg
                continue
            c.warnings = art.get("warnings", [])
            evaluate_case(c, art, index, de, lambda i: get_path(docs[i], ES_QA_TIEBREAKER),
                          ES_QA_TIEBREAKER, cap=ES_QA_SIZE, script_lookup=lookup)
            if js is not None:
                c.java_index = (js.batch.indexes[jix], id_to_doc)
            if c.status is None:
                c.status = "agree" if c.got in c.expected else "disagree"
                if c.status == "agree" and c.id in ES_QA_ALLOWED_CONVERSION_FAILURES:
                    c.notes.append("allow-listed as a conversion failure but it converts and agrees")
        unattributed = diags.get(None, [])
        results[rk] = dict(cases=fresh, elapsed=elapsed, rc=rc, index=index, added=added,
                           unattributed=unattributed)

    print(f"== es-qa ({suite_dir})")
    print(f"   {len(cases)} single-event queries in scope; out of scope: "
          + (", ".join(f"{v} {k}" for k, v in sorted(skipped.items())) or "none"))
    first = results[args.random_keyword_types[0]]
    print(f"   mapping: endgame-140.mapping + {len(first['added'])} dynamically mapped fields "
          f"({', '.join(first['added'])})")
    if first["index"].rejected:
        print(f"   note: the oracle rejects documents {sorted(first['index'].rejected)}")
    print("   " + (js.summary() if js is not None else java_off_note(args)))
    failed = False
    previous = None
    for rk, r in results.items():
        label = f"es-qa [random keyword type = {rk}]"
        failed |= report(label, r["cases"], args, elapsed=r["elapsed"], expected_fmt=fmt_alternatives,
                         same_as=previous)
        previous = {c.id: outcome(c) for c in r["cases"]}
        for b in r["unattributed"]:
            print(f"   eqlc diagnostic not attributed to a file:\n{indent(b)}")
    return failed


def fmt_alternatives(exp):
    return " or ".join(str(e) for e in exp) if len(exp) > 1 else str(exp[0])


# ---------------------------------------------------------------------------------------------
# suite 2: differential fixtures
# ---------------------------------------------------------------------------------------------


def load_ecs_types(path):
    """{name: type} from data/ecs-field-types.tsv, and {name: {multi-field suffix: type}}."""
    types = {}
    with open(path, encoding="utf-8") as fh:
        for ln in fh:
            if not ln.strip() or ln.startswith("#"):
                continue
            name, ty = ln.rstrip("\n").split("\t")[:2]
            types[name] = ty
    multi = collections.defaultdict(dict)
    for name, ty in types.items():
        parent, _, last = name.rpartition(".")
        if parent in types:
            multi[parent][last] = ty
    return types, multi


# ECS types the oracle does not emulate as such, indexed as the closest type it does
ORACLE_TYPE_SUBSTITUTES = {
    # a constant_keyword without `value` in the mapping takes the first document's value and
    # rejects other values; eqlc lowers it like keyword (term/wildcard queries behave the same on
    # the one value an index holds).  One fixture index holds several values, so keyword.
    "constant_keyword": "keyword",
}


def ecs_mapping_for(fields, ecs, ecs_multi, sub_notes):
    """A mapping with the ECS type of each used field, with the ECS multi-fields under it
    (process.name -> keyword with fields.text: match_only_text)."""
    top = set()
    for f in fields:
        if f not in ecs:
            continue  # not ECS: left to dynamic mapping
        parent = f.rsplit(".", 1)[0] if "." in f else None
        top.add(parent if parent in ecs else f)  # a used multi-field (x.text) comes with its parent
    props = {}
    for f in sorted(top):
        ty = ecs[f]
        if ty in ORACLE_TYPE_SUBSTITUTES:
            sub_notes.add(f"{f}: ECS {ty} indexed as {ORACLE_TYPE_SUBSTITUTES[ty]}")
            ty = ORACLE_TYPE_SUBSTITUTES[ty]
        spec = {"type": ty}
        multi = {k: {"type": v} for k, v in ecs_multi.get(f, {}).items()}
        if multi:
            spec["fields"] = multi
        node = props
        parts = f.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {"properties": {}}).setdefault("properties", {})
        node[parts[-1]] = spec
    return {"properties": props}


def run_differential(args, de, tmp):
    suite_dir = os.path.join(args.shared, "conformance", "differential")
    ecs, ecs_multi = load_ecs_types(os.path.join(args.repo, "data", "ecs-field-types.tsv"))
    status = {}
    with open(os.path.join(suite_dir, "SUMMARY.tsv"), encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        for ln in fh:
            row = dict(zip(header, ln.rstrip("\n").split("\t")))
            status[row["rule_id"]] = row
    cases = []
    stale = []
    out_of_scope = collections.Counter()
    in_dir = os.path.join(tmp, "differential", "in")
    os.makedirs(in_dir)
    for rid in sorted(status):
        row = status[rid]
        d = os.path.join(suite_dir, rid)
        if row.get("status") != "ok":
            out_of_scope["skipped by the generator"] += 1
            continue
        with open(os.path.join(d, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        if meta.get("kind") != "EventQuery" or row.get("kind") != "EventQuery":
            out_of_scope[meta.get("kind")] += 1
            continue
        with open(os.path.join(d, "query.eql"), encoding="utf-8") as fh:
            eql = fh.read()
        with open(os.path.join(d, "expected.txt"), encoding="utf-8") as fh:
            expected = [ln.strip() for ln in fh if ln.strip()]
        c = Case(rid, eql.strip(), expected)
        if rid in DIFFERENTIAL_FIXTURE_CORRECTIONS:
            shipped, corrected, why = DIFFERENTIAL_FIXTURE_CORRECTIONS[rid]
            if collections.Counter(shipped) == collections.Counter(expected):
                c.expected = list(corrected)
                c.corrected = True
                c.notes.append(f"expected.txt {shipped} corrected to {corrected}: {why}")
            else:
                stale.append(rid)
        c.meta = meta
        c.dir = d
        cases.append(c)
        with open(os.path.join(in_dir, rid + ".eql"), "w", encoding="utf-8") as fh:
            fh.write(eql if eql.endswith("\n") else eql + "\n")

    out_dir = os.path.join(tmp, "differential", "out")
    rc, arts, diags, stderr, elapsed = run_eqlc(args.eqlc, in_dir, out_dir)
    js = JavaScripts(import_painless_java(), args.java_bin) if args.java else None
    pending = []
    sub_notes: set[str] = set()
    unindexable = collections.Counter()  # (field, type) -> fixtures
    unindexable_cases = []
    non_ecs = collections.Counter()
    for c in cases:
        art = arts.get(c.id)
        if art is None:
            msg = "\n".join(first_error(diags.get(c.id, []))) or \
                  f"no artifact written (eqlc exit {rc}; no diagnostic names this file)"
            allowed = c.id in DIFFERENTIAL_ALLOWED_CONVERSION_FAILURES
            c.status, c.detail = ("convert-allowed" if allowed else "convert-fail"), msg
            continue
        c.warnings = art.get("warnings", [])
        docs = de.read_ndjson(os.path.join(c.dir, "events.ndjson"))
        fields = list(c.meta.get("fields") or [])
        if "@timestamp" not in fields:
            fields.append("@timestamp")
        for f in fields:
            if f not in ecs and f != "@timestamp":
                non_ecs[f] += 1
        mapping = ecs_mapping_for(fields, ecs, ecs_multi, sub_notes)
        index = OracleIndex(de, docs, mapping, "keyword")
        expected = list(c.expected)
        if index.rejected:
            # Elasticsearch would refuse these documents under ECS types: they cannot match
            rej_ids = {str(get_path(docs[i], "serial_event_id")) for i in index.rejected}
            dropped = [e for e in expected if e in rej_ids]
            expected = [e for e in expected if e not in rej_ids]
            why = set()
            for w in index.warnings:
                m = re.search(r"field \[([^\]]+)\] type \[([^\]]+)\]", w)
                if m:
                    why.add((m.group(1), m.group(2)))
            for fw in why:
                unindexable[fw] += 1
            c.notes.append(f"{len(index.rejected)} of {len(docs)} events not indexable under ECS types "
                           f"({', '.join(f'{f} as {t}' for f, t in sorted(why))}); "
                           f"{len(dropped)} expected match(es) dropped")
            c.n_dropped = len(dropped)
            unindexable_cases.append(c)
        c.expected_effective = expected
        jix = None
        search = art.get("search") if isinstance(art, dict) else None
        if js is not None and isinstance(search, dict) and contains_script(search.get("query")):
            jix = js.add_index(docs, effective_mapping(de, mapping, docs, "keyword")[0], "keyword")
            js.add_query(jix, search["query"])
        pending.append((c, art, index, docs, expected, jix))

    if js is not None:
        js.run(keep_dir=os.path.join(tmp, "differential", "java") if args.keep else None)
    for c, art, index, docs, expected, jix in pending:
        lookup = js.lookup(jix) if jix is not None else None
        evaluate_case(c, art, index, de, lambda i, docs=docs: str(get_path(docs[i], "serial_event_id")),
                      "serial_event_id", script_lookup=lookup)
        if jix is not None:
            c.java_index = (js.batch.indexes[jix],
                            {str(get_path(d, "serial_event_id")): i for i, d in enumerate(docs)})
        if c.status is None:
            c.status = "agree" if collections.Counter(c.got) == collections.Counter(expected) else "disagree"
            c.expected = expected

    print(f"== differential ({suite_dir})")
    print(f"   {len(cases)} EventQuery fixtures with status ok in scope; out of scope: "
          + ", ".join(f"{v} {k}" for k, v in sorted(out_of_scope.items(), key=lambda kv: str(kv[0]))))
    for n in sorted(sub_notes):
        print(f"   oracle mapping: {n}")
    if non_ecs:
        print(f"   {len(non_ecs)} non-ECS fields indexed dynamically (strings as keyword): "
              + ", ".join(sorted(non_ecs)))
    if unindexable:
        dropped = sum(c.n_dropped for c in unindexable_cases)
        vacuous = [c.id for c in unindexable_cases if c.n_dropped and not c.expected_effective]
        print(f"   note: {len(unindexable_cases)} fixtures hold events Elasticsearch would reject under ECS "
              f"types (field as type (fixtures): "
              + ", ".join(f"{f} as {t} ({n})" for (f, t), n in sorted(unindexable.items()))
              + f"); those events are left out, with {dropped} expected matches"
              + (f"; {len(vacuous)} fixtures keep no expected match at all ({', '.join(vacuous)})" if vacuous else ""))
    corrected = [c.id for c in cases if getattr(c, "corrected", False)]
    if corrected:
        print(f"   note: expected.txt corrected for {len(corrected)} fixture(s) with a known oracle defect "
              f"(see DIFFERENTIAL_FIXTURE_CORRECTIONS): {', '.join(corrected)}")
    for rid in stale:
        print(f"   note: stale entry in DIFFERENTIAL_FIXTURE_CORRECTIONS: {rid} (expected.txt changed); ignored")
    print("   " + (js.summary() if js is not None else java_off_note(args)))
    failed = report("differential", cases, args, elapsed=elapsed,
                    expected_fmt=lambda e: str(sorted(e, key=lambda x: (len(x), x))),
                    got_fmt=lambda g: str(sorted(g, key=lambda x: (len(x), x))))
    for b in diags.get(None, []):
        print(f"   eqlc diagnostic not attributed to a file:\n{indent(b)}")
    return failed


# ---------------------------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------------------------


def indent(s, n=6):
    return "\n".join(" " * n + ln for ln in s.splitlines())


def outcome(c):
    return (c.status, c.java, json.dumps(c.got), (c.detail or "").splitlines()[:1])


def java_off_note(args):
    if args.java_mode == "off":
        return "java: off (--no-java): script queries are not checked"
    return f"java: `{args.java_bin}` not found: script queries are not checked"


def script_text(script, verbose):
    """A script for the report: helper names and the statements (the whole source with -v)."""
    if isinstance(script, str):
        script = {"source": script}
    src = script.get("source", "")
    lines = []
    if verbose:
        body = src
    else:
        helpers, body = import_painless_java().split_source(src)
        if helpers:
            lines.append(f"functions: {', '.join(helpers)} (the whole source with --verbose)")
    lines.append("source:" if verbose else "statements:")
    lines.extend("  " + ln for ln in body.rstrip("\n").splitlines())
    lines.append("params: " + json.dumps(script.get("params", {}), ensure_ascii=False))
    return "\n".join(lines)


def script_diagnosis(c, verbose):
    """Per script: its source and params; for a disagreement, what it returned on the documents
    the expectation and the result differ on, with the doc values it read."""
    out = []
    seen = set()
    for k, (script, oc) in enumerate(c.scripts):
        key = script_key(script)
        if key in seen:
            continue
        seen.add(key)
        out.append(f"script #{k}" + (f" ({oc.error_kind} error: {oc.error})" if oc.error else "") + ":")
        out.append(indent(script_text(script, verbose), 2))
    if c.status == "disagree" and c.java_index is not None and c.got is not None:
        dix, id_to_doc = c.java_index
        exp = c.expected
        if exp and isinstance(exp[0], list):  # es-qa alternatives: the closest one
            exp = min(exp, key=lambda e: len(set(map(str, e)) ^ set(map(str, c.got))))
        want = collections.Counter(map(str, exp))
        got = collections.Counter(map(str, c.got))
        diff = sorted(set((want - got) | (got - want)), key=lambda x: (len(x), x))
        for ident in diff[:8]:
            i = id_to_doc.get(ident, id_to_doc.get(int(ident)) if ident.isdigit() else None)
            where = "expected, not returned" if want[ident] > got[ident] else "returned, not expected"
            out.append(f"document {ident} ({where}):")
            if i is None:
                out.append("  (not in the documents)")
                continue
            shown = set()
            for k, (script, oc) in enumerate(c.scripts):
                if oc.error is not None:
                    continue
                r = oc.results[i]
                out.append(f"  script #{k} -> {r!r}")
                params = script.get("params", {}) if isinstance(script, dict) else {}
                for pk, name in params.items():
                    if re.fullmatch(r"f\d+", pk) and isinstance(name, str) and name not in shown:
                        shown.add(name)
                        out.append(f"    doc[{name!r}] = {dix.doc_values(i, name)!r}")
        if len(diff) > 8:
            out.append(f"({len(diff) - 8} more documents differ)")
    return "\n".join(out)


def error_line(detail):
    """The first line of an eqlc diagnostic (its message), for the compact listing."""
    for ln in (detail or "").splitlines():
        if ln.strip():
            return ln.strip()
    return ""


def report(label, cases, args, elapsed, expected_fmt=str, got_fmt=str, same_as=None):
    """Print a suite's tally and its cases; True if something failed.  same_as: {id: outcome} of
    an earlier pass; cases with the same outcome there are not listed again (unless --verbose)."""
    cnt = collections.Counter(c.status for c in cases)
    jcnt = collections.Counter(c.status for c in cases if c.java)
    converted = len(cases) - cnt["convert-fail"] - cnt["convert-allowed"]
    ran = cnt["agree"] + cnt["disagree"]
    print(f"-- {label}: {len(cases)} in scope, {converted} converted, {ran} ran, "
          f"{cnt['agree'] - jcnt['agree']} agree, {jcnt['agree']} agree (java), "
          f"{cnt['disagree'] - jcnt['disagree']} disagree, {jcnt['disagree']} disagree (java), "
          f"{cnt['script']} script-only, {cnt['script-error']} script errors, "
          f"{cnt['convert-fail'] + cnt['convert-allowed']} conversion failures "
          f"({cnt['convert-allowed']} allow-listed), {cnt['oracle-error']} oracle errors, "
          f"{cnt['artifact-error']} artifact errors   [eqlc {elapsed:.2f}s]")
    repeated = 0
    if same_as is not None and not args.verbose:
        listed = [c for c in cases if same_as.get(c.id) != outcome(c)]
        repeated = sum(1 for c in cases if c.status != "agree" and same_as.get(c.id) == outcome(c))
    else:
        listed = cases
    order = ["disagree", "script-error", "oracle-error", "artifact-error", "convert-fail", "convert-allowed",
             "script", "agree"]
    for st in order:
        group = [c for c in listed if c.status == st]
        if not group:
            continue
        if st == "agree" and not args.verbose:
            continue
        if st == "script":
            print(f"   script-only ({len(group)}, not failures): " + ", ".join(c.id for c in group))
            for c in group:
                for n in c.notes:
                    if n.startswith("not checked through Java") and not args.verbose:
                        print(f"     {c.id}: {n}")
            if not args.verbose:
                continue
        if st in ("convert-fail", "convert-allowed") and not args.verbose:
            # compact: one line per failure with eqlc's message (full diagnostics with --verbose)
            msgs = collections.defaultdict(list)
            for c in group:
                msgs[error_line(c.detail)].append(c)
            print(f"   {'conversion failures' if st == 'convert-fail' else 'allow-listed conversion failures'}"
                  f" ({len(group)}):")
            for msg, cs in sorted(msgs.items(), key=lambda kv: -len(kv[1])):
                print(f"     {msg}  [{len(cs)}]")
                for c in cs:
                    reason = ES_QA_ALLOWED_CONVERSION_FAILURES.get(c.id) or \
                        DIFFERENTIAL_ALLOWED_CONVERSION_FAILURES.get(c.id)
                    print(f"       {c.id}: {truncate(one_line(c.eql), 160)}"
                          + (f"  (allowed: {reason})" if reason else ""))
            continue
        for c in group:
            print(f"   [{st.upper()}{' (java)' if c.java else ''}] {c.id}")
            print(f"      eql: {truncate(one_line(c.eql), 400)}")
            if st in ("disagree", "agree"):
                print(f"      expected: {expected_fmt(c.expected)}")
                print(f"      got:      {got_fmt(c.got)}")
            if c.detail:
                print(indent(c.detail, 6) if "\n" in c.detail else f"      {c.detail}")
            if c.dsl and (st != "agree" or args.verbose):
                print(f"      dsl: {truncate(c.dsl)}")
            if getattr(c, "warnings", None) and (st != "agree" or args.verbose):
                for w in c.warnings:
                    print(f"      eqlc warning: {w}")
            if c.scripts and (st in ("disagree", "script-error") or args.verbose):
                print(indent(script_diagnosis(c, args.verbose), 6))
            for n in c.notes:
                print(f"      note: {n}")
    if repeated:
        print(f"   ({repeated} non-agreeing cases with the same outcome as the previous pass not listed again)")
    return any(c.status in FAILING for c in cases)


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eqlc", default=os.path.join(repo, "target", "release", "eqlc"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(repo), "shared"))
    ap.add_argument("--suite", choices=["es-qa", "differential", "all"], default="all")
    ap.add_argument("--random-keyword-type", dest="random_keyword_types", action="append",
                    choices=["keyword", "wildcard"],
                    help="es-qa mapping pass(es) (default: keyword, then wildcard)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every case")
    ap.add_argument("--keep", metavar="DIR", help="keep the .eql inputs, mappings and artifacts in DIR "
                                                  "(and the Java batch: <suite>/java/)")
    jg = ap.add_mutually_exclusive_group()
    jg.add_argument("--java", dest="java_mode", action="store_const", const="on",
                    help="run script queries as Java (scripts/painless_java.py); an error if there is "
                         "no java (default: when java is on the PATH)")
    jg.add_argument("--no-java", dest="java_mode", action="store_const", const="off",
                    help="do not run script queries: they are script-only, not checked")
    ap.add_argument("--java-bin", default="java", help="the java launcher (default: java)")
    args = ap.parse_args(argv)
    args.java_mode = args.java_mode or "auto"
    have_java = shutil.which(args.java_bin) is not None
    if args.java_mode == "on" and not have_java:
        print(f"error: --java but `{args.java_bin}` is not found", file=sys.stderr)
        return 2
    args.java = have_java and args.java_mode != "off"
    args.repo = repo
    args.random_keyword_types = args.random_keyword_types or ["keyword", "wildcard"]
    args.eqlc = os.path.abspath(args.eqlc)
    args.shared = os.path.abspath(args.shared)
    if not os.access(args.eqlc, os.X_OK):
        print(f"error: eqlc binary not found at {args.eqlc} (cargo build --release)", file=sys.stderr)
        return 2
    if not os.path.isdir(args.shared):
        print(f"error: shared directory not found at {args.shared}", file=sys.stderr)
        return 2
    de = import_oracle(args.shared)
    t0 = time.monotonic()
    if args.keep:
        marker = os.path.join(args.keep, ".dsl-conformance")
        if os.path.isdir(args.keep) and os.listdir(args.keep):
            if not os.path.exists(marker):
                print(f"error: --keep {args.keep} exists, is not empty and was not made by this script",
                      file=sys.stderr)
                return 2
            shutil.rmtree(args.keep)
        os.makedirs(args.keep, exist_ok=True)
        open(marker, "w").close()
        tmp_ctx = contextlib.nullcontext(args.keep)
    else:
        tmp_ctx = tempfile.TemporaryDirectory(prefix="dsl-conformance-")
    failed = False
    with tmp_ctx as tmp:
        if args.suite in ("es-qa", "all"):
            failed |= run_es_qa(args, de, tmp)
        if args.suite in ("differential", "all"):
            failed |= run_differential(args, de, tmp)
    print(f"== DSL conformance {'FAILED' if failed else 'passed'} ({time.monotonic() - t0:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
