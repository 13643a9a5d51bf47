#!/usr/bin/env python3
"""Run Painless `script` queries as Java, over documents indexed under an Elasticsearch mapping.

There is no Elasticsearch (nor Painless engine) here, so this module stands in for the part of a
search that a `script` query runs: for each (script, document) it says whether the script
returns true, by

1. translating each Painless script mechanically into Java: it parses the script (functions,
   statements, expressions) and prints a Java class per distinct source: `def` becomes `Object`,
   single-quoted strings become Java string literals, list and map literals become
   `$list(...)`/`$map(...)`, `params.x` becomes `params.get("x")`, the script's functions become
   static methods, and the places where Painless is dynamic are made explicit:
   a method call, field access or `[]` on a `def` value goes through reflection (`$dyn`, `$dynf`,
   `$idx`; Painless resolves such calls at run time by name and arity), `==`/`!=` between
   references is `equals` (`$eq`, as Painless does; `===` is identity), `def` used as a boolean
   or passed/assigned/returned where a typed value is wanted is cast with Painless's implicit
   `def` cast rules (`$bool`, `$to_long`, ...), arithmetic and comparisons on `def` are
   promoted at run time, `for (def x : e)` iterates whatever `e` is at run time, list/array
   `[-1]` counts from the end, an uninitialised local starts at its default value, the main
   body returns its last expression and otherwise `false`, and every loop counts iterations
   against Painless's default limit of 1,000,000 per call;
2. writing ONE Java source file for the whole batch (one nested class per distinct script
   source) plus one data file (the documents' doc values and the scripts' params), running
   `java Batch.java data` once, and reading its `instance document outcome` lines.

`doc` emulates Elasticsearch 8's doc-values lookup (`LeafDocLookup`):

- `doc.containsKey(name)` is true when `name` is mapped (a field, a multi-field, an alias),
  whatever the document holds; `doc[name]` of an unmapped name throws (`No field found for
  [name] in mapping`), as Elasticsearch does.
- `doc[name]` is the list of the field's indexed values: keyword / wildcard / constant_keyword:
  sorted (UTF-8 byte order), de-duplicated `String`s (a value longer than `ignore_above`
  UTF-16 units is not indexed; `null_value` stands for explicit nulls; the `lowercase`
  normalizer is applied); long / integer / short / byte: sorted `Long`s (duplicates kept, as
  sorted-numeric doc values keep them); double / float / half_float / scaled_float: sorted
  `Double`s holding the value the field type stores (float32 rounding, ...); boolean: sorted
  `Boolean`s; ip: sorted, de-duplicated `String`s in canonical form (IPv4 dotted, IPv6 RFC 5952,
  IPv4-mapped IPv6 as IPv4); date / date_nanos: sorted `ZonedDateTime`s in UTC (milliseconds
  for date, nanoseconds for date_nanos).  Missing, null and [] give an empty list; arrays and
  objects flatten (`{"a": {"b": 1}}` and `{"a.b": 1}` are both field `a.b`); a multi-field
  (`x.keyword`) reads its parent's value; an alias reads its target; fields under a `nested`
  object have no values in the root document.
- Reading a text-like field (text, match_only_text, ...) throws, as in Elasticsearch (text fields
  have no doc values): the generated script should only ever read keyword sub-fields; so does a
  field with `doc_values: false` and a field type this module does not emulate (geo types,
  unsigned_long, version, ...): each is reported as that document's error.
- A document whose values a mapped field cannot index (e.g. "abc" for a long, unless
  `ignore_malformed`) is one Elasticsearch would reject: it is reported as REJECTED, not run.
- Unmapped fields are mapped dynamically when the mapping allows it and `dynamic_strings` is
  given ("keyword": strings as keyword; "es": Elasticsearch's default, strings as text with a
  `.keyword` sub-field (ignore_above 256) and date detection; numbers as long / float, booleans
  as boolean); the first document holding a value decides.  Pass the mapping the index really
  has (e.g. `GET index/_mapping` after loading) to avoid depending on this.

`params` is a `HashMap` as Elasticsearch builds it from JSON: integers that fit an int are
`Integer`, larger ones `Long`, decimals `Double`, arrays `ArrayList`, objects `HashMap`.

What this cannot detect (the result is then whatever Java does):

- Painless's compile-time checks are not Painless's: whatever Painless would reject at compile
  time that Java accepts (a method or class outside Painless's allow-list, a boxed type used
  where Painless does not unbox implicitly, a cast Painless does not allow, a regex literal
  when regexes are disabled, a script over Elasticsearch's size limits, ...) runs here, and
  whatever Java rejects that Painless accepts (overloads Painless would pick by arity with a
  `def` argument, Painless augmentations such as `String.splitOnToken`, lambdas, regex
  literals, `?.`, `?:`, `=~`, `this`) is reported as a translation or compile error for that
  script (`ScriptOutcome.error`), never as a result.
- A method call whose receiver is typed (not `def`) is Java's, so Java's overload resolution
  decides where Painless's allow-list (one method per name and arity, `def` arguments cast at
  run time) would; the generated helpers do not rely on a difference there.
- The loop limit counts per function call, as Painless does, but Painless's count differs in
  detail; runaway recursion ends in a StackOverflowError in both.
- Elasticsearch evaluates a script query only on documents that match the cheaper clauses
  around it (two-phase iteration): a script error on another document would not fail the
  search there.  The results here are per document; deciding which matter is the caller's job.

Usage:

    batch = Batch()
    ix = batch.add_index(docs, mapping, dynamic_strings="keyword")   # any number of indexes
    h = batch.add_script({"source": ..., "params": {...}, "lang": "painless"}, ix)
    outcomes = batch.run()            # {h: ScriptOutcome}: one `java` run for the whole batch
    outcomes[h].error                 # why the script cannot run at all (str), or None;
    outcomes[h].error_kind            #   "unsupported" (this translation's limit), "invalid"
                                      #   (not Painless), "compile" (Java rejected it)
    outcomes[h].results[i]            # True, False, DocError(message) or REJECTED

or `evaluate(scripts, docs, mapping)`, which returns one list of results (or an error string)
per script.  Read documents with `loads` (or dsl_eval's reader) so that a decimal keeps its
source text, which is what a keyword field indexes.  A script that does not compile as Java is
left out and the batch is run again without it (so at most a few `java` runs).

Standard library only.  `python3 painless_java.py --self-test` runs the module's own checks
(doc values of each field type, Painless's dynamic semantics, error reporting).
"""
from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

__all__ = ["Batch", "ScriptOutcome", "DocError", "REJECTED", "TranslateError", "Unsupported", "evaluate",
           "translate", "split_source", "java_available", "DocIndex", "loads"]

LOOP_LIMIT = 1_000_000


# =============================================================================================
# results
# =============================================================================================


class DocError:
    """The script threw on this document (Elasticsearch would fail the search there)."""

    def __init__(self, message):
        self.message = message

    def __repr__(self):
        return f"DocError({self.message!r})"

    def __bool__(self):
        raise TypeError("a DocError is not a match result; check isinstance first")


class _Rejected:
    def __repr__(self):
        return "REJECTED"

    def __bool__(self):
        raise TypeError("REJECTED is not a match result; check for it first")


REJECTED = _Rejected()  # Elasticsearch would refuse to index the document


class ScriptOutcome:
    """error: why the script could not run at all, or None; error_kind then says whose limit it
    is: "unsupported" (a construct this translation does not handle: the script may be fine),
    "invalid" (not valid Painless: a syntax error, an unknown variable or function, a lang or
    shape Elasticsearch would refuse), "compile" (Java rejected the translation: either the
    script is not valid Painless or the translation is wrong; the message says where).
    results: one entry per document of the index: True, False, DocError or REJECTED."""

    def __init__(self, error=None, results=None, java_class=None, error_kind=None):
        self.error = error
        self.error_kind = error_kind if error is not None else None
        self.results = results if results is not None else []
        self.java_class = java_class

    def __repr__(self):
        return f"ScriptOutcome(error={self.error!r}, results={self.results!r})"


class TranslateError(Exception):
    """The script is not valid Painless as far as this translation can tell (a syntax error, an
    unknown variable or function, ...)."""


class Unsupported(TranslateError):
    """The script uses something this translation does not handle (it may be valid Painless)."""


def java_available(java="java"):
    return shutil.which(java) is not None


# =============================================================================================
# Painless tokens
# =============================================================================================

_OPS = sorted("""
>>>= <<= >>= >>> === !== ==~ ?. ?: -> :: == != <= >= && || ++ -- += -= *= /= %= &= |= ^= << >> =~
{ } ( ) [ ] ; , . ? : + - * / % < > = ! ~ & | ^ @
""".split(), key=len, reverse=True)

_NUM_RE = re.compile(
    r"0[xX][0-9a-fA-F]+[lL]?"
    r"|(?:(?:0|[1-9][0-9]*)\.[0-9]+|\.[0-9]+|(?:0|[1-9][0-9]*))(?:[eE][+-]?[0-9]+)?[lLfFdD]?"
    r"|0[0-7]+[lL]?")
_ID_RE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")

KEYWORDS = {"if", "else", "while", "do", "for", "in", "continue", "break", "return", "new", "try",
            "catch", "throw", "this", "instanceof", "true", "false", "null"}
PRIMS = {"boolean", "byte", "short", "char", "int", "long", "float", "double"}
NUMERIC_PRIMS = PRIMS - {"boolean"}
JAVA_RESERVED = {
    "abstract", "assert", "case", "class", "const", "default", "enum", "extends", "final",
    "finally", "goto", "implements", "import", "interface", "native", "package", "private",
    "protected", "public", "static", "strictfp", "super", "switch", "synchronized", "throws",
    "transient", "void", "volatile", "var", "record", "yield", "sealed", "permits", "_"}


class Tok:
    __slots__ = ("kind", "text", "value", "pos")

    def __init__(self, kind, text, value, pos):
        self.kind, self.text, self.value, self.pos = kind, text, value, pos

    def __repr__(self):
        return f"{self.kind}:{self.text}"


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n\f":
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise TranslateError("unterminated comment")
            i = j + 2
            continue
        if c in "\"'":
            j = i + 1
            out = []
            while True:
                if j >= n:
                    raise TranslateError("unterminated string literal")
                d = src[j]
                if d == "\\":
                    e = src[j + 1] if j + 1 < n else ""
                    if e == "\\" or e == c:
                        out.append(e)
                        j += 2
                        continue
                    raise TranslateError(f"invalid escape \\{e} in a string literal (Painless has "
                                         f"only \\\\ and \\{c})")
                if d == c:
                    break
                out.append(d)
                j += 1
            toks.append(Tok("str", src[i:j + 1], "".join(out), i))
            i = j + 1
            continue
        m = _ID_RE.match(src, i)
        if m:
            toks.append(Tok("id", m.group(0), None, i))
            i = m.end()
            continue
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = _NUM_RE.match(src, i)
            if not m:
                raise TranslateError(f"bad number at {i}")
            toks.append(Tok("num", m.group(0), None, i))
            i = m.end()
            continue
        if c == "/" and toks and not _operand_end(toks[-1]):
            raise Unsupported("regex literals are not handled by this translation")
        for op in _OPS:
            if src.startswith(op, i):
                toks.append(Tok("op", op, None, i))
                i += len(op)
                break
        else:
            raise TranslateError(f"unexpected character {c!r} at {i}")
    toks.append(Tok("eof", "", None, n))
    return toks


def _operand_end(t: Tok) -> bool:
    if t.kind in ("num", "str"):
        return True
    if t.kind == "id":
        return t.text not in KEYWORDS or t.text in ("true", "false", "null", "this")
    return t.text in (")", "]")


# =============================================================================================
# Painless parser -> AST (tuples)
# =============================================================================================
# expressions: ("lit", kind, text, value) kind int|long|float|double|string|bool|null
#   ("name", id) ("call", name, args) ("method", recv, name, args) ("field", recv, name)
#   ("index", recv, idx) ("new", type, args) ("newarray", type, dims, extra_dims, init)
#   ("list", items) ("map", pairs) ("unary", op, e) ("preinc", op, e) ("postinc", op, e)
#   ("cast", type, e) ("binary", op, l, r) ("instanceof", e, type) ("cond", c, a, b)
#   ("assign", op, target, value)
# statements: ("block", stmts) ("decl", type, [(name, init)]) ("expr", e) ("if", c, t, f)
#   ("while", c, body) ("do", body, c) ("for", init, cond, updates, body)
#   ("foreach", type, name, iterable, body) ("return", e) ("break",) ("continue",)
#   ("throw", e) ("try", block, catches) ("empty",)

_BINARY_LEVELS = [
    ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!=", "===", "!=="],
    ["<", "<=", ">", ">=", "instanceof"], ["<<", ">>", ">>>"], ["+", "-"], ["*", "/", "%"],
]
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", ">>>="}


class Parser:
    def __init__(self, src):
        self.toks = tokenize(src)
        self.i = 0

    # -- token helpers --
    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, text, k=0):
        t = self.peek(k)
        return t.kind in ("op", "id") and t.text == text

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, text):
        t = self.next()
        if t.text != text or t.kind not in ("op", "id"):
            raise TranslateError(f"expected {text!r} at offset {t.pos}, found {t.text!r}")
        return t

    def ident(self):
        t = self.next()
        if t.kind != "id" or t.text in KEYWORDS:
            raise TranslateError(f"expected a name at offset {t.pos}, found {t.text!r}")
        return t.text

    # -- types --
    def type_at(self, k=0):
        """Length in tokens of a type starting at offset k, or 0."""
        t = self.peek(k)
        if t.kind != "id" or (t.text in KEYWORDS):
            return 0
        j = k + 1
        if t.text not in PRIMS and t.text != "def":
            while self.at(".", j) and self.peek(j + 1).kind == "id" and self.peek(j + 1).text not in KEYWORDS:
                j += 2
        while self.at("[", j) and self.at("]", j + 1):
            j += 2
        return j - k

    def parse_type(self):
        n = self.type_at()
        if not n:
            raise TranslateError(f"expected a type at offset {self.peek().pos}")
        parts = [self.next().text for _ in range(n)]
        return "".join(parts)

    # -- program --
    def program(self):
        functions = []
        while True:
            n = self.type_at()
            if n and self.peek(n).kind == "id" and self.peek(n).text not in KEYWORDS and self.at("(", n + 1):
                functions.append(self.function())
            else:
                break
        stmts = []
        while self.peek().kind != "eof":
            stmts.append(self.statement(top=True))
        return functions, stmts

    def function(self):
        rtype = self.parse_type()
        name = self.ident()
        self.expect("(")
        params = []
        if not self.at(")"):
            while True:
                ptype = self.parse_type()
                params.append((ptype, self.ident()))
                if self.at(","):
                    self.next()
                    continue
                break
        self.expect(")")
        body = self.block()
        return ("function", rtype, name, params, body)

    # -- statements --
    def block(self):
        self.expect("{")
        stmts = []
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise TranslateError("unterminated block")
            stmts.append(self.statement())
        self.expect("}")
        return ("block", stmts)

    def end_statement(self):
        if self.at(";"):
            self.next()
        elif self.peek().kind == "eof" or self.at("}"):
            pass  # Painless lets the last statement of a script omit its semicolon
        else:
            raise TranslateError(f"expected ';' at offset {self.peek().pos}, found {self.peek().text!r}")

    def is_declaration(self):
        n = self.type_at()
        if not n:
            return False
        t = self.peek()
        if t.text in PRIMS or t.text == "def":
            return True
        nxt = self.peek(n)
        return nxt.kind == "id" and nxt.text not in KEYWORDS

    def declaration(self):
        dtype = self.parse_type()
        decls = []
        while True:
            name = self.ident()
            init = None
            if self.at("="):
                self.next()
                init = self.expression()
            decls.append((name, init))
            if self.at(","):
                self.next()
                continue
            break
        return ("decl", dtype, decls)

    def loop_body(self):
        if self.at(";"):
            self.next()
            return ("empty",)
        return self.statement()

    def statement(self, top=False):
        t = self.peek()
        if self.at("{"):
            return self.block()
        if self.at(";"):
            self.next()
            return ("empty",)
        if t.kind == "id":
            kw = t.text
            if kw == "if":
                self.next()
                self.expect("(")
                c = self.expression()
                self.expect(")")
                then = self.statement()
                other = None
                if self.at("else"):
                    self.next()
                    other = self.statement()
                return ("if", c, then, other)
            if kw == "while":
                self.next()
                self.expect("(")
                c = self.expression()
                self.expect(")")
                return ("while", c, self.loop_body())
            if kw == "do":
                self.next()
                body = self.statement()
                self.expect("while")
                self.expect("(")
                c = self.expression()
                self.expect(")")
                self.end_statement()
                return ("do", body, c)
            if kw == "for":
                return self.for_statement()
            if kw == "return":
                self.next()
                e = None
                if not (self.at(";") or self.at("}") or self.peek().kind == "eof"):
                    e = self.expression()
                self.end_statement()
                return ("return", e)
            if kw in ("break", "continue"):
                self.next()
                self.end_statement()
                return (kw,)
            if kw == "throw":
                self.next()
                e = self.expression()
                self.end_statement()
                return ("throw", e)
            if kw == "try":
                self.next()
                body = self.block()
                catches = []
                while self.at("catch"):
                    self.next()
                    self.expect("(")
                    ctype = self.parse_type()
                    cname = self.ident()
                    self.expect(")")
                    catches.append((ctype, cname, self.block()))
                if not catches:
                    raise TranslateError("try without catch")
                return ("try", body, catches)
        if self.is_declaration():
            d = self.declaration()
            self.end_statement()
            return d
        e = self.expression()
        self.end_statement()
        return ("expr", e)

    def for_statement(self):
        self.expect("for")
        self.expect("(")
        # for (x in e)
        if self.peek().kind == "id" and self.at("in", 1):
            name = self.ident()
            self.next()
            it = self.expression()
            self.expect(")")
            return ("foreach", "def", name, it, self.loop_body())
        n = self.type_at()
        if n and self.peek(n).kind == "id" and self.at(":", n + 1):
            ftype = self.parse_type()
            name = self.ident()
            self.expect(":")
            it = self.expression()
            self.expect(")")
            return ("foreach", ftype, name, it, self.loop_body())
        init = None
        if not self.at(";"):
            if self.is_declaration():
                init = self.declaration()
            else:
                init = ("exprs", self.expression_list())
        self.expect(";")
        cond = None if self.at(";") else self.expression()
        self.expect(";")
        updates = [] if self.at(")") else self.expression_list()
        self.expect(")")
        return ("for", init, cond, updates, self.loop_body())

    def expression_list(self):
        out = [self.expression()]
        while self.at(","):
            self.next()
            out.append(self.expression())
        return out

    # -- expressions --
    def expression(self):
        return self.assignment()

    def assignment(self):
        left = self.conditional()
        t = self.peek()
        if t.kind == "op" and t.text in _ASSIGN_OPS:
            self.next()
            if left[0] not in ("name", "field", "index"):
                raise TranslateError(f"cannot assign to this expression (offset {t.pos})")
            return ("assign", t.text, left, self.assignment())
        return left

    def conditional(self):
        c = self.binary(0)
        if self.at("?:"):
            raise Unsupported("the elvis operator ?: is not handled by this translation")
        if self.at("?"):
            self.next()
            a = self.assignment()
            self.expect(":")
            b = self.assignment()
            return ("cond", c, a, b)
        return c

    def binary(self, level):
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        ops = _BINARY_LEVELS[level]
        while True:
            t = self.peek()
            if t.kind in ("op", "id") and t.text in ops:
                if t.kind == "id" and t.text != "instanceof":
                    break
                self.next()
                if t.text == "instanceof":
                    left = ("instanceof", left, self.parse_type())
                else:
                    left = ("binary", t.text, left, self.binary(level + 1))
            elif t.kind == "op" and t.text in ("=~", "==~"):
                raise Unsupported("regex operators are not handled by this translation")
            else:
                break
        return left

    def unary(self):
        t = self.peek()
        if t.kind == "op":
            if t.text in ("!", "~", "-", "+"):
                self.next()
                return ("unary", t.text, self.unary())
            if t.text in ("++", "--"):
                self.next()
                return ("preinc", t.text, self.unary())
            if t.text == "(":
                n = self.type_at(1)
                if n and self.at(")", 1 + n):
                    first = self.peek(1).text
                    after = self.peek(2 + n)
                    is_cast = False
                    if first in PRIMS or first == "def":
                        is_cast = True
                    elif first[:1].isupper() and (
                            after.kind in ("id", "num", "str") and after.text not in ("instanceof",)
                            or (after.kind == "op" and after.text in ("(", "!", "~", "["))):
                        is_cast = True
                    if is_cast:
                        self.next()
                        ctype = self.parse_type()
                        self.expect(")")
                        return ("cast", ctype, self.unary())
        return self.postfix(self.primary())

    def postfix(self, e):
        while True:
            t = self.peek()
            if t.kind != "op":
                return e
            if t.text == ".":
                self.next()
                nm = self.next()
                if nm.kind != "id":
                    raise TranslateError(f"expected a member name at offset {nm.pos}")
                if self.at("("):
                    e = ("method", e, nm.text, self.arguments())
                else:
                    e = ("field", e, nm.text)
            elif t.text == "?.":
                raise Unsupported("the null-safe operator ?. is not handled by this translation")
            elif t.text == "[":
                self.next()
                idx = self.expression()
                self.expect("]")
                e = ("index", e, idx)
            elif t.text in ("++", "--"):
                self.next()
                e = ("postinc", t.text, e)
            elif t.text in ("->", "::"):
                raise Unsupported("lambdas and method references are not handled by this translation")
            else:
                return e

    def arguments(self):
        self.expect("(")
        args = []
        if not self.at(")"):
            args = self.expression_list()
        self.expect(")")
        return args

    def primary(self):
        t = self.next()
        if t.kind == "num":
            return ("lit", _num_kind(t.text), t.text, None)
        if t.kind == "str":
            return ("lit", "string", t.text, t.value)
        if t.kind == "id":
            if t.text in ("true", "false"):
                return ("lit", "bool", t.text, t.text == "true")
            if t.text == "null":
                return ("lit", "null", "null", None)
            if t.text == "this":
                raise Unsupported("`this` is not handled by this translation")
            if t.text == "new":
                return self.new_expression()
            if t.text in KEYWORDS:
                raise TranslateError(f"unexpected {t.text!r} at offset {t.pos}")
            if self.at("("):
                if self.at("->", 0):
                    raise Unsupported("lambdas are not handled by this translation")
                return ("call", t.text, self.arguments())
            if self.at("->"):
                raise Unsupported("lambdas are not handled by this translation")
            return ("name", t.text)
        if t.text == "(":
            # lambda `(a, b) -> ...`?
            e = self.expression()
            self.expect(")")
            if self.at("->"):
                raise Unsupported("lambdas are not handled by this translation")
            return e
        if t.text == "[":
            return self.collection_literal()
        raise TranslateError(f"unexpected {t.text!r} at offset {t.pos}")

    def collection_literal(self):
        # after '['
        if self.at(":") and self.at("]", 1):
            self.next()
            self.next()
            return ("map", [])
        if self.at("]"):
            self.next()
            return ("list", [])
        first = self.expression()
        if self.at(":"):
            self.next()
            pairs = [(first, self.expression())]
            while self.at(","):
                self.next()
                k = self.expression()
                self.expect(":")
                pairs.append((k, self.expression()))
            self.expect("]")
            return ("map", pairs)
        items = [first]
        while self.at(","):
            self.next()
            items.append(self.expression())
        self.expect("]")
        return ("list", items)

    def new_expression(self):
        base = self.peek()
        if base.kind != "id":
            raise TranslateError(f"expected a type after new at offset {base.pos}")
        tname = self.next().text
        while self.at(".") and self.peek(1).kind == "id":
            self.next()
            tname += "." + self.next().text
        if self.at("("):
            return ("new", tname, self.arguments())
        if self.at("["):
            dims = []
            extra = 0
            while self.at("["):
                self.next()
                if self.at("]"):
                    self.next()
                    extra += 1
                    continue
                if extra:
                    raise TranslateError("array dimension after an empty one")
                dims.append(self.expression())
                self.expect("]")
            init = None
            if self.at("{"):
                if dims:
                    raise TranslateError("array initializer with dimensions")
                self.next()
                init = []
                if not self.at("}"):
                    init = self.expression_list()
                self.expect("}")
            return ("newarray", tname, dims, extra, init)
        raise TranslateError(f"expected ( or [ after new {tname}")


def _num_kind(text):
    t = text.lower()
    if t.startswith("0x"):
        return "long" if t.endswith("l") else "int"
    if t.endswith("l"):
        return "long"
    if t.endswith("f"):
        return "float"
    if t.endswith("d") or "." in t or "e" in t:
        return "double"
    return "int"


# =============================================================================================
# AST -> Java
# =============================================================================================

_BOX = {"boolean": "Boolean", "byte": "Byte", "short": "Short", "char": "Character", "int": "Integer",
        "long": "Long", "float": "Float", "double": "Double"}
_DYN_BINOPS = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div", "%": "$rem",
               "<": "$lt", "<=": "$le", ">": "$gt", ">=": "$ge"}
_GENERIC_RETURNING = {"get", "remove", "set", "put", "getOrDefault", "next", "previous", "poll",
                      "peek", "pop", "getFirst", "getLast", "putIfAbsent", "replace",
                      "computeIfAbsent", "firstElement", "lastElement", "elementAt", "getValue",
                      "getKey", "clone"}
_PROMOTE = ["byte", "short", "char", "int", "long", "float", "double"]


def jtype(t: str) -> str:
    """A Painless type as Java: def -> Object (also as an array element type)."""
    base = t.rstrip("[]")
    dims = t[len(base):]
    if base == "def":
        base = "Object"
    return base + dims


def jid(name: str) -> str:
    return name + "$" if name in JAVA_RESERVED else name


def java_string(s: str) -> str:
    """A Java string literal: printable ASCII as is, other units as octal (below 0x80) or \\u
    escapes (which cannot end the literal or the line: never below 0x80)."""
    out = ['"']
    data = s.encode("utf-16-be", "surrogatepass")
    for k in range(0, len(data), 2):
        u = (data[k] << 8) | data[k + 1]
        if u == 0x22:
            out.append('\\"')
        elif u == 0x5C:
            out.append("\\\\")
        elif 0x20 <= u <= 0x7E:
            out.append(chr(u))
        elif u < 0x80:
            out.append("\\%03o" % u)
        else:
            out.append("\\u%04x" % u)
    out.append('"')
    return "".join(out)


class Scope:
    def __init__(self):
        self.frames = [{}]

    def push(self):
        self.frames.append({})

    def pop(self):
        self.frames.pop()

    def declare(self, name, t):
        self.frames[-1][name] = t

    def lookup(self, name):
        for f in reversed(self.frames):
            if name in f:
                return f[name]
        return None


class JavaPrinter:
    """Prints one script (functions + statements) as the members of a Java class."""

    def __init__(self, functions, stmts):
        self.functions = {}
        for f in functions:
            _, rtype, name, params, _ = f
            key = (name, len(params))
            if key in self.functions:
                raise TranslateError(f"function {name}/{len(params)} defined twice")
            self.functions[key] = (rtype, [p[0] for p in params])
        self.fn_defs = functions
        self.stmts = stmts
        self.scope = Scope()
        self.return_type = None

    # -- entry --
    def print_class_body(self) -> str:
        out = []
        for (_, rtype, name, params, body) in self.fn_defs:
            self.scope = Scope()
            self.return_type = rtype
            for ptype, pname in params:
                self.scope.declare(pname, ptype)
            plist = ", ".join(f"{jtype(pt)} {jid(pn)}" for pt, pn in params)
            out.append(f"static {jtype(rtype)} {jid(name)}({plist}) {{\nint loop$ = 0;\n")
            out.append(self.stmts_text(body[1]))
            out.append("}\n")
        # the main body
        self.scope = Scope()
        self.scope.declare("doc", "Map")
        self.scope.declare("params", "Map")
        self.return_type = "boolean"
        stmts = list(self.stmts)
        if stmts and stmts[-1][0] == "expr":
            stmts[-1] = ("return", stmts[-1][1])
        out.append("static boolean run(Map doc, Map params) {\nint loop$ = 0;\n")
        out.append(self.stmts_text(stmts))
        if not (stmts and _escapes(stmts[-1])):
            out.append("return false;\n")
        out.append("}\n")
        return "".join(out)

    # -- statements --
    def stmts_text(self, stmts):
        return "".join(self.stmt(s) for s in stmts)

    def block_text(self, s):
        """A statement as a braced block, in its own scope."""
        self.scope.push()
        try:
            if s[0] == "block":
                return "{\n" + self.stmts_text(s[1]) + "}\n"
            return "{\n" + self.stmt(s) + "}\n"
        finally:
            self.scope.pop()

    def loop_block(self, s, prefix=""):
        check = f"if (++loop$ > {LOOP_LIMIT}) {{\nthrow $loopLimit();\n}}\n"
        self.scope.push()
        try:
            inner = self.stmts_text(s[1]) if s[0] == "block" else self.stmt(s)
            return "{\n" + check + prefix + inner + "}\n"
        finally:
            self.scope.pop()

    def cond_text(self, e):
        text, kind = self.expr(e)
        return self.coerce(text, kind, "boolean")

    def stmt(self, s) -> str:
        tag = s[0]
        if tag == "block":
            return self.block_text(s)
        if tag == "empty":
            return ";\n"
        if tag == "decl":
            _, dtype, decls = s
            parts = []
            for name, init in decls:
                if init is None:
                    val = _default_value(dtype)
                else:
                    text, kind = self.expr(init)
                    val = self.coerce(text, kind, dtype)
                self.scope.declare(name, dtype)
                parts.append(f"{jid(name)} = {val}")
            return f"{jtype(dtype)} {', '.join(parts)};\n"
        if tag == "expr":
            return self.expr_statement(s[1]) + ";\n"
        if tag == "if":
            _, c, then, other = s
            text = f"if ({self.cond_text(c)}) " + self.block_text(then)
            if other is not None:
                text += "else " + (self.stmt(other) if other[0] == "if" else self.block_text(other))
            return text
        if tag == "while":
            _, c, body = s
            return f"while ({self.cond_text(c)}) " + self.loop_block(body)
        if tag == "do":
            _, body, c = s
            b = self.loop_block(body)
            return f"do {b.rstrip()} while ({self.cond_text(c)});\n"
        if tag == "for":
            _, init, cond, updates, body = s
            self.scope.push()
            try:
                if init is None:
                    itext = ""
                elif init[0] == "decl":
                    itext = self.stmt(init).rstrip().rstrip(";")
                else:
                    itext = ", ".join(self.expr_statement(e) for e in init[1])
                ctext = "" if cond is None else self.cond_text(cond)
                utext = ", ".join(self.expr_statement(e) for e in updates)
                return f"for ({itext}; {ctext}; {utext}) " + self.loop_block(body)
            finally:
                self.scope.pop()
        if tag == "foreach":
            _, ftype, name, it, body = s
            itext, ikind = self.expr(it)
            if ikind != "dyn" and ikind.endswith("[]"):
                src = itext
            else:
                src = f"$iter({itext})"
            self.scope.push()
            try:
                self.scope.declare(name, ftype)
                if ftype == "def" or (ikind != "dyn" and ikind.endswith("[]")):
                    return f"for ({jtype(ftype)} {jid(name)} : {src}) " + self.loop_block(body)
                tmp = f"{jid(name)}$each"
                prefix = f"{jtype(ftype)} {jid(name)} = {self.coerce(tmp, 'dyn', ftype)};\n"
                return f"for (Object {tmp} : {src}) " + self.loop_block(body, prefix)
            finally:
                self.scope.pop()
        if tag == "return":
            e = s[1]
            if e is None:
                if self.return_type not in ("void",):
                    raise TranslateError("return without a value")
                return "return;\n"
            text, kind = self.expr(e)
            return f"return {self.coerce(text, kind, self.return_type)};\n"
        if tag in ("break", "continue"):
            return f"{tag};\n"
        if tag == "throw":
            text, _ = self.expr(s[1])
            return f"throw {text};\n"
        if tag == "try":
            _, body, catches = s
            text = "try " + self.block_text(body)
            for ctype, cname, cblock in catches:
                self.scope.push()
                try:
                    self.scope.declare(cname, ctype)
                    text += f"catch ({jtype(ctype)} {jid(cname)}) " + self.block_text(cblock)
                finally:
                    self.scope.pop()
            return text
        raise Unsupported(f"statement {tag} not handled")

    def expr_statement(self, e) -> str:
        """An expression used as a statement: Java wants it unparenthesised."""
        if e[0] not in ("assign", "call", "method", "new", "preinc", "postinc"):
            raise TranslateError("not a statement: an expression statement must be an assignment, "
                                 "a call or an increment")
        text, _ = self.expr(e, statement=True)
        return text

    # -- coercion --
    def coerce(self, text, kind, target):
        """`text` (of `kind`) where a value of Painless type `target` is wanted."""
        if target == "def" or target is None:
            return text
        if kind == "dyn":
            if target in PRIMS:
                return f"$to_{target}({text})"
            return f"(({jtype(target)}) {text})"
        return text

    # -- expressions: (java text, kind) kind: a Painless type, "dyn" (def) or "?" (unknown) --
    def expr(self, e, statement=False):
        tag = e[0]
        if tag == "lit":
            _, kind, text, value = e
            if kind == "string":
                return java_string(value), "String"
            if kind == "null":
                return "null", "null"
            if kind == "bool":
                return text, "boolean"
            return text, kind
        if tag == "name":
            name = e[1]
            t = self.scope.lookup(name)
            if t is None:
                if name[:1].isupper():
                    return name, "type"
                raise TranslateError(f"unknown variable {name}")
            return jid(name), ("dyn" if t == "def" else t)
        if tag == "call":
            _, name, args = e
            sig = self.functions.get((name, len(args)))
            if sig is None:
                raise TranslateError(f"unknown function {name}/{len(args)}")
            rtype, ptypes = sig
            texts = []
            for a, pt in zip(args, ptypes):
                t, k = self.expr(a)
                texts.append(self.coerce(t, k, pt))
            return f"{jid(name)}({', '.join(texts)})", ("dyn" if rtype == "def" else rtype)
        if tag == "method":
            _, recv, name, args = e
            rtext, rkind = self.expr(recv)
            atexts = [self.expr(a)[0] for a in args]
            if rkind == "dyn" or rkind == "null":
                extra = "".join(", " + a for a in atexts)
                return f"$dyn({rtext}, {java_string(name)}{extra})", "dyn"
            if rkind in PRIMS:
                raise Unsupported(f"method call on a primitive ({name}) is not handled")
            result = "?"
            if name in _GENERIC_RETURNING and rkind not in ("String", "StringBuilder", "type"):
                result = "dyn"
            return f"{rtext}.{name}({', '.join(atexts)})", result
        if tag == "field":
            _, recv, name = e
            rtext, rkind = self.expr(recv)
            if rkind == "dyn":
                return f"$dynf({rtext}, {java_string(name)})", "dyn"
            if rkind in ("Map", "HashMap") and name != "length":
                return f"{rtext}.get({java_string(name)})", "dyn"
            if rkind in PRIMS:
                raise Unsupported(f"field access on a primitive ({name}) is not handled")
            if rkind == "type":
                return f"{rtext}.{name}", "?"
            if rkind.endswith("[]") and name == "length":
                return f"{rtext}.length", "int"
            return f"$dynf({rtext}, {java_string(name)})", "dyn"
        if tag == "index":
            _, recv, idx = e
            rtext, rkind = self.expr(recv)
            itext, ikind = self.expr(idx)
            if rkind != "dyn" and rkind.endswith("[]"):
                elem = rkind[:-2]
                return f"{rtext}[$norm({itext}, {rtext}.length)]", ("dyn" if elem == "def" else elem)
            return f"$idx({rtext}, {itext})", "dyn"
        if tag == "new":
            _, tname, args = e
            atexts = [self.expr(a)[0] for a in args]
            return f"new {tname}({', '.join(atexts)})", tname
        if tag == "newarray":
            _, tname, dims, extra, init = e
            base = jtype(tname)
            if init is not None:
                elem = tname + "[]" * (extra - 1)
                items = []
                for it in init:
                    t, k = self.expr(it)
                    items.append(self.coerce(t, k, elem))
                return f"new {base}{'[]' * extra}{{{', '.join(items)}}}", tname + "[]" * extra
            dtexts = []
            for d in dims:
                t, k = self.expr(d)
                dtexts.append("[" + self.coerce(t, k, "int") + "]")
            return f"new {base}{''.join(dtexts)}{'[]' * extra}", tname + "[]" * (len(dims) + extra)
        if tag == "list":
            items = [self.expr(x)[0] for x in e[1]]
            return f"$list({', '.join(items)})", "List"
        if tag == "map":
            parts = []
            for k, v in e[1]:
                parts.append(self.expr(k)[0])
                parts.append(self.expr(v)[0])
            return f"$map({', '.join(parts)})", "Map"
        if tag == "unary":
            _, op, x = e
            text, kind = self.expr(x)
            if op == "!":
                return f"(!{self.coerce(text, kind, 'boolean')})", "boolean"
            if kind == "dyn":
                if op == "-":
                    return f"$neg({text})", "dyn"
                if op == "+":
                    return f"$pos({text})", "dyn"
                raise Unsupported(f"unary {op} on a def value is not handled")
            return f"({op}{text})", _unary_kind(kind)
        if tag in ("preinc", "postinc"):
            _, op, x = e
            text, kind = self.expr(x)
            if kind == "dyn" or x[0] != "name":
                raise Unsupported(f"{op} on a def value or a non-variable is not handled")
            body = f"{op}{text}" if tag == "preinc" else f"{text}{op}"
            return (body if statement else f"({body})"), kind
        if tag == "cast":
            _, ctype, x = e
            if x[0] == "lit" and x[1] == "string" and ctype == "char":
                if len(x[3]) != 1:
                    raise TranslateError("cast of a string that is not one character to char")
                return f"((char) {ord(x[3])})", "char"
            text, kind = self.expr(x)
            if kind == "dyn" and ctype in PRIMS:
                return f"$xc_{ctype}({text})", ctype
            if kind == "String" and ctype == "char":
                return f"$strchar({text})", "char"
            return f"(({jtype(ctype)}) {text})", ("dyn" if ctype == "def" else ctype)
        if tag == "binary":
            return self.binary(e)
        if tag == "instanceof":
            _, x, t = e
            text, kind = self.expr(x)
            if kind in PRIMS:
                text = f"(({_BOX[kind]}) {text})"
            return f"({text} instanceof {jtype(t)})", "boolean"
        if tag == "cond":
            _, c, a, b = e
            ct = self.cond_text(c)
            at, ak = self.expr(a)
            bt, bk = self.expr(b)
            if ak == bk:
                kind = ak
            elif ak in NUMERIC_PRIMS and bk in NUMERIC_PRIMS:
                kind = _promote(ak, bk)
            elif "dyn" in (ak, bk):
                kind = "dyn"
                at, bt = f"((Object) {at})", f"((Object) {bt})"
            else:
                kind = "?"
            return f"({ct} ? {at} : {bt})", kind
        if tag == "assign":
            return self.assign(e, statement)
        raise Unsupported(f"expression {tag} not handled")

    def binary(self, e):
        _, op, l, r = e
        lt, lk = self.expr(l)
        rt, rk = self.expr(r)
        if op in ("&&", "||"):
            return f"({self.coerce(lt, lk, 'boolean')} {op} {self.coerce(rt, rk, 'boolean')})", "boolean"
        if op in ("==", "!="):
            if lk == "null" or rk == "null" or (lk in PRIMS and rk in PRIMS):
                return f"({lt} {op} {rt})", "boolean"
            neg = "!" if op == "!=" else ""
            return f"({neg}$eq({lt}, {rt}))", "boolean"
        if op in ("===", "!=="):
            return f"({lt} {op[:2]} {rt})", "boolean"
        if "dyn" in (lk, rk):
            fn = _DYN_BINOPS.get(op)
            if fn is None:
                raise Unsupported(f"operator {op} on a def value is not handled")
            kind = "boolean" if op in ("<", "<=", ">", ">=") else "dyn"
            return f"{fn}({lt}, {rt})", kind
        if op in ("<", "<=", ">", ">="):
            return f"({lt} {op} {rt})", "boolean"
        if op == "+" and ("String" in (lk, rk)):
            return f"({lt} + {rt})", "String"
        if lk in NUMERIC_PRIMS and rk in NUMERIC_PRIMS:
            kind = lk if op in ("<<", ">>", ">>>") else _promote(lk, rk)
        elif lk == "boolean" and rk == "boolean" and op in ("&", "|", "^"):
            kind = "boolean"
        else:
            kind = "?"
        return f"({lt} {op} {rt})", kind

    def assign(self, e, statement):
        _, op, target, value = e
        vt, vk = self.expr(value)
        if target[0] == "name":
            tt, tk = self.expr(target)
            ttype = self.scope.lookup(target[1])
            if ttype is None:
                raise TranslateError(f"assignment to an undeclared name {target[1]}")
            if op == "=":
                body = f"{tt} = {self.coerce(vt, vk, ttype)}"
            elif tk == "dyn" or vk == "dyn":
                fn = _DYN_BINOPS.get(op[:-1])
                if fn is None:
                    raise Unsupported(f"compound assignment {op} on a def value is not handled")
                body = f"{tt} = {self.coerce(f'{fn}({tt}, {vt})', 'dyn', ttype)}"
            else:
                body = f"{tt} {op} {vt}"
            return (body if statement else f"({body})"), tk
        if target[0] == "index" and op == "=":
            rtext, rkind = self.expr(target[1])
            itext, _ = self.expr(target[2])
            if rkind != "dyn" and rkind.endswith("[]"):
                body = f"{rtext}[$norm({itext}, {rtext}.length)] = {self.coerce(vt, vk, rkind[:-2])}"
                return (body if statement else f"({body})"), rkind[:-2]
            return f"$idxset({rtext}, {itext}, {vt})", "dyn"
        raise Unsupported("this assignment target is not handled")


def _default_value(t):
    if t == "boolean":
        return "false"
    if t in ("float",):
        return "0.0f"
    if t == "double":
        return "0.0"
    if t == "long":
        return "0L"
    if t == "char":
        return "((char) 0)"
    if t in ("byte", "short"):
        return f"(({t}) 0)"
    if t == "int":
        return "0"
    return "null"


def _unary_kind(kind):
    if kind in ("byte", "short", "char"):
        return "int"
    return kind if kind in PRIMS else "?"


def _promote(a, b):
    if "double" in (a, b):
        return "double"
    if "float" in (a, b):
        return "float"
    if "long" in (a, b):
        return "long"
    return "int"


def _escapes(s) -> bool:
    """Whether a statement never completes normally (Java's `return false;` after it would be
    unreachable)."""
    tag = s[0]
    if tag in ("return", "throw"):
        return True
    if tag == "block":
        return bool(s[1]) and _escapes(s[1][-1])
    if tag == "if":
        return s[3] is not None and _escapes(s[2]) and _escapes(s[3])
    if tag == "try":
        return _escapes(s[1]) and all(_escapes(c[2]) for c in s[2])
    if tag in ("while", "for"):
        cond = s[1] if tag == "while" else s[2]
        infinite = cond is None or (cond[0] == "lit" and cond[1] == "bool" and cond[3] is True)
        return infinite and not _has_break(s[2] if tag == "while" else s[4])
    return False


def _has_break(s) -> bool:
    if not isinstance(s, tuple):
        return False
    if s[0] == "break":
        return True
    if s[0] in ("while", "do", "for", "foreach"):
        return False  # a break in a nested loop leaves that loop
    for x in s[1:]:
        if isinstance(x, tuple) and _has_break(x):
            return True
        if isinstance(x, list) and any(isinstance(y, tuple) and _has_break(y) for y in x):
            return True
    return False


def split_source(source: str):
    """([function names], the statements after them) of a Painless script, for reports; the
    whole source as statements if it does not parse."""
    try:
        p = Parser(source)
        names = []
        while True:
            n = p.type_at()
            if n and p.peek(n).kind == "id" and p.peek(n).text not in KEYWORDS and p.at("(", n + 1):
                names.append(p.function()[2])
            else:
                break
        return names, source[p.peek().pos:]
    except TranslateError:
        return [], source


def translate(source: str) -> str:
    """The members of a Java class running `source`: static methods for its functions and
    `static boolean run(Map doc, Map params)`.  Raises TranslateError."""
    try:
        functions, stmts = Parser(source).program()
        return JavaPrinter(functions, stmts).print_class_body()
    except RecursionError:
        raise Unsupported("script nested too deeply for this translation")


# =============================================================================================
# the Java runtime around the translated scripts
# =============================================================================================

JAVA_PRELUDE = r"""
import java.util.*;
import java.time.*;
import java.time.format.*;
import java.time.temporal.*;
import java.math.*;
import java.lang.reflect.*;
import java.io.*;
import java.nio.charset.StandardCharsets;

@SuppressWarnings({"unchecked", "rawtypes", "unused"})
public class PainlessBatch {
// ---- doc values ----
public static final class DocValues extends AbstractList<Object> {
final Object[] vs;
final String field;
DocValues(String field, Object[] vs) { this.field = field; this.vs = vs; }
public Object get(int i) {
if (i < 0 || i >= vs.length) {
throw new IndexOutOfBoundsException("A document doesn't have a value for a field at position [" + i + "]! Use doc[<field>].size() to check how many values a field has.");
}
return vs[i];
}
public int size() { return vs.length; }
public Object getValue() {
if (vs.length == 0) {
throw new IllegalStateException("A document doesn't have a value for a field! Use doc[<field>].size()==0 to check if a document is missing a field!");
}
return vs[0];
}
public List<Object> getValues() { return Collections.unmodifiableList(this); }
}
public static final class Doc extends AbstractMap<String, Object> {
final Map<String, String> kinds;
final Map<String, Object[]> values;
Doc(Map<String, String> kinds, Map<String, Object[]> values) { this.kinds = kinds; this.values = values; }
public boolean containsKey(Object key) { return kinds.containsKey(String.valueOf(key)); }
public Object get(Object key) {
String k = String.valueOf(key);
String kind = kinds.get(k);
if (kind == null) {
throw new IllegalArgumentException("No field found for [" + k + "] in mapping");
}
if (!kind.isEmpty()) {
throw new IllegalArgumentException(kind);
}
Object[] v = values.get(k);
return new DocValues(k, v == null ? new Object[0] : v);
}
public Set<Map.Entry<String, Object>> entrySet() { throw new UnsupportedOperationException(); }
public int size() { throw new UnsupportedOperationException(); }
public boolean isEmpty() { throw new UnsupportedOperationException(); }
public Object put(String k, Object v) { throw new UnsupportedOperationException(); }
}
static final class LoopLimit extends RuntimeException {
LoopLimit() { super("The maximum number of statements that can be executed in a loop has been reached."); }
}
static RuntimeException $loopLimit() { return new LoopLimit(); }

// ---- Painless's dynamic behaviour, made explicit ----
static List $list(Object... xs) { return new ArrayList(Arrays.asList(xs)); }
static Map $map(Object... kv) {
Map m = new HashMap();
for (int i = 0; i < kv.length; i += 2) {
m.put(kv[i], kv[i + 1]);
}
return m;
}
static String $type(Object o) { return o == null ? "null" : o.getClass().getName(); }
static ClassCastException $cce(Object o, String t) {
return new ClassCastException("Cannot cast " + $type(o) + " to " + t);
}
static boolean $bool(Object o) {
if (o instanceof Boolean) return ((Boolean) o).booleanValue();
throw $cce(o, "boolean");
}
static boolean $to_boolean(Object o) { return $bool(o); }
static byte $to_byte(Object o) {
if (o instanceof Byte) return (Byte) o;
throw $cce(o, "byte");
}
static short $to_short(Object o) {
if (o instanceof Short || o instanceof Byte) return ((Number) o).shortValue();
throw $cce(o, "short");
}
static char $to_char(Object o) {
if (o instanceof Character) return (Character) o;
throw $cce(o, "char");
}
static int $to_int(Object o) {
if (o instanceof Integer || o instanceof Short || o instanceof Byte) return ((Number) o).intValue();
if (o instanceof Character) return (Character) o;
throw $cce(o, "int");
}
static long $to_long(Object o) {
if (o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte) return ((Number) o).longValue();
if (o instanceof Character) return (Character) o;
throw $cce(o, "long");
}
static float $to_float(Object o) {
if (o instanceof Float || o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte) return ((Number) o).floatValue();
if (o instanceof Character) return (Character) o;
throw $cce(o, "float");
}
static double $to_double(Object o) {
if (o instanceof Number) return ((Number) o).doubleValue();
if (o instanceof Character) return (Character) o;
throw $cce(o, "double");
}
static Number $xnum(Object o, String t) {
if (o instanceof Number) return (Number) o;
if (o instanceof Character) return Integer.valueOf((Character) o);
throw $cce(o, t);
}
static byte $xc_byte(Object o) { return $xnum(o, "byte").byteValue(); }
static short $xc_short(Object o) { return $xnum(o, "short").shortValue(); }
static char $xc_char(Object o) {
if (o instanceof Character) return (Character) o;
if (o instanceof String && ((String) o).length() == 1) return ((String) o).charAt(0);
return (char) $xnum(o, "char").intValue();
}
static int $xc_int(Object o) { return $xnum(o, "int").intValue(); }
static long $xc_long(Object o) { return $xnum(o, "long").longValue(); }
static float $xc_float(Object o) { return $xnum(o, "float").floatValue(); }
static double $xc_double(Object o) { return $xnum(o, "double").doubleValue(); }
static boolean $xc_boolean(Object o) { return $bool(o); }
static char $strchar(String s) {
if (s.length() != 1) throw new ClassCastException("Cannot cast [String] with length greater than one to [char].");
return s.charAt(0);
}
static boolean $isnum(Object o) { return o instanceof Number || o instanceof Character; }
static int $rank(Object o) {
if (o instanceof Double) return 4;
if (o instanceof Float) return 3;
if (o instanceof Long) return 2;
if (o instanceof Integer || o instanceof Short || o instanceof Byte || o instanceof Character) return 1;
return 0;
}
static double $d(Object o) { return o instanceof Character ? (double) (Character) o : ((Number) o).doubleValue(); }
static long $l(Object o) { return o instanceof Character ? (long) (Character) o : ((Number) o).longValue(); }
static boolean $eq(Object a, Object b) {
if (a == null || b == null) return a == b;
if ($isnum(a) && $isnum(b)) {
int r = Math.max($rank(a), $rank(b));
if (r == 0) return a.equals(b);
if (r >= 3) return $d(a) == $d(b);
return $l(a) == $l(b);
}
return a.equals(b);
}
static Object $arith(Object a, Object b, char op) {
if (op == '+' && (a instanceof String || b instanceof String)) return String.valueOf(a) + String.valueOf(b);
if (!$isnum(a) || !$isnum(b)) throw new ClassCastException("Cannot apply [" + op + "] to types [" + $type(a) + "] and [" + $type(b) + "].");
int r = Math.max($rank(a), $rank(b));
if (r == 0) throw new ClassCastException("Cannot apply [" + op + "] to types [" + $type(a) + "] and [" + $type(b) + "].");
if (r == 4 || r == 3) {
double x = $d(a), y = $d(b), z;
switch (op) { case '+': z = x + y; break; case '-': z = x - y; break; case '*': z = x * y; break; case '/': z = x / y; break; default: z = x % y; }
if (r == 3) return Float.valueOf((float) z);
return Double.valueOf(z);
}
long x = $l(a), y = $l(b), z;
if (r == 1) {
int p = (int) x, q = (int) y, w;
switch (op) { case '+': w = p + q; break; case '-': w = p - q; break; case '*': w = p * q; break; case '/': w = p / q; break; default: w = p % q; }
return Integer.valueOf(w);
}
switch (op) { case '+': z = x + y; break; case '-': z = x - y; break; case '*': z = x * y; break; case '/': z = x / y; break; default: z = x % y; }
return Long.valueOf(z);
}
static Object $add(Object a, Object b) { return $arith(a, b, '+'); }
static Object $sub(Object a, Object b) { return $arith(a, b, '-'); }
static Object $mul(Object a, Object b) { return $arith(a, b, '*'); }
static Object $div(Object a, Object b) { return $arith(a, b, '/'); }
static Object $rem(Object a, Object b) { return $arith(a, b, '%'); }
static int $cmpnum(Object a, Object b, String op) {
if (!$isnum(a) || !$isnum(b)) throw new ClassCastException("Cannot apply [" + op + "] to types [" + $type(a) + "] and [" + $type(b) + "].");
int r = Math.max($rank(a), $rank(b));
if (r >= 3) {
double x = $d(a), y = $d(b);
return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
}
return Long.compare($l(a), $l(b));
}
static boolean $lt(Object a, Object b) { int c = $cmpnum(a, b, "<"); return c == -1; }
static boolean $le(Object a, Object b) { int c = $cmpnum(a, b, "<="); return c == -1 || c == 0; }
static boolean $gt(Object a, Object b) { int c = $cmpnum(a, b, ">"); return c == 1; }
static boolean $ge(Object a, Object b) { int c = $cmpnum(a, b, ">="); return c == 1 || c == 0; }
static Object $neg(Object a) {
if (a instanceof Double) return -(Double) a;
if (a instanceof Float) return -(Float) a;
if (a instanceof Long) return -(Long) a;
if (a instanceof Integer || a instanceof Short || a instanceof Byte || a instanceof Character) return -(int) $l(a);
throw $cce(a, "a number");
}
static Object $pos(Object a) {
if (a instanceof Short || a instanceof Byte || a instanceof Character) return (int) $l(a);
if ($isnum(a)) return a;
throw $cce(a, "a number");
}
static int $norm(Object i, int size) {
int k = $to_int(i);
return k < 0 ? k + size : k;
}
static int $norm(int k, int size) { return k < 0 ? k + size : k; }
static Object $idx(Object r, Object k) {
if (r instanceof Map) return ((Map) r).get(k);
if (r instanceof List) return ((List) r).get($norm(k, ((List) r).size()));
if (r != null && r.getClass().isArray()) return Array.get(r, $norm(k, Array.getLength(r)));
if (r == null) throw new NullPointerException("Cannot access an element of a null def reference");
throw new IllegalArgumentException("Attempting to address a non-array-like type [" + $type(r) + "] as an array.");
}
static Object $idxset(Object r, Object k, Object v) {
if (r instanceof Map) { ((Map) r).put(k, v); return v; }
if (r instanceof List) { ((List) r).set($norm(k, ((List) r).size()), v); return v; }
if (r != null && r.getClass().isArray()) { Array.set(r, $norm(k, Array.getLength(r)), v); return v; }
if (r == null) throw new NullPointerException("Cannot store into a null def reference");
throw new IllegalArgumentException("Attempting to address a non-array-like type [" + $type(r) + "] as an array.");
}
static Iterable $iter(Object o) {
if (o instanceof Iterable) return (Iterable) o;
if (o != null && o.getClass().isArray()) {
int n = Array.getLength(o);
List l = new ArrayList(n);
for (int i = 0; i < n; i++) l.add(Array.get(o, i));
return l;
}
if (o == null) throw new NullPointerException("Cannot iterate over a null def reference");
throw new IllegalArgumentException("Cannot iterate over [" + $type(o) + "]");
}
static final Map<Class<?>, Class<?>> BOXES = Map.of(boolean.class, Boolean.class, byte.class, Byte.class, short.class, Short.class, char.class, Character.class, int.class, Integer.class, long.class, Long.class, float.class, Float.class, double.class, Double.class);
static boolean $fits(Class<?> p, Object a) {
if (!p.isPrimitive()) return a == null || p.isInstance(a);
if (a == null) return false;
if (BOXES.get(p).isInstance(a)) return true;
int r = $rank(a);
if (r == 0) return false;
if (p == int.class) return r == 1;
if (p == long.class) return r <= 2;
if (p == float.class) return r <= 3;
if (p == double.class) return true;
return false;
}
static Method $publicMethod(Class<?> c, Method m) {
if (Modifier.isPublic(c.getModifiers()) && Modifier.isPublic(m.getDeclaringClass().getModifiers())) return m;
Deque<Class<?>> todo = new ArrayDeque<>();
todo.add(c);
Set<Class<?>> seen = new HashSet<>();
while (!todo.isEmpty()) {
Class<?> k = todo.poll();
if (k == null || !seen.add(k)) continue;
if (Modifier.isPublic(k.getModifiers())) {
try {
return k.getMethod(m.getName(), m.getParameterTypes());
} catch (NoSuchMethodException e) {
// keep looking
}
}
todo.add(k.getSuperclass());
todo.addAll(Arrays.asList(k.getInterfaces()));
}
return null;
}
static RuntimeException $unwrap(Throwable t) {
if (t instanceof RuntimeException) return (RuntimeException) t;
if (t instanceof Error) throw (Error) t;
return new RuntimeException(t);
}
static Object $call(Object r, Class<?> c, String name, Object[] args) {
for (Method m : c.getMethods()) {
if (!m.getName().equals(name) || m.getParameterCount() != args.length) continue;
if (Modifier.isStatic(m.getModifiers()) != (r == null)) continue;
Class<?>[] ps = m.getParameterTypes();
boolean ok = true;
for (int i = 0; i < ps.length && ok; i++) ok = $fits(ps[i], args[i]);
if (!ok) continue;
Method pm = $publicMethod(c, m);
if (pm == null) continue;
try {
return pm.invoke(r, args);
} catch (InvocationTargetException e) {
throw $unwrap(e.getCause());
} catch (IllegalAccessException e) {
throw new IllegalStateException(e);
}
}
throw new IllegalArgumentException("dynamic method [" + c.getName() + ", " + name + "/" + args.length + "] not found");
}
static Object $dyn(Object r, String name, Object... args) {
if (r == null) throw new NullPointerException("Cannot invoke method [" + name + "] on a null def reference");
return $call(r, r.getClass(), name, args);
}
static Object $dynf(Object r, String name) {
if (r == null) throw new NullPointerException("Cannot access field [" + name + "] of a null def reference");
if (r instanceof Map) return ((Map) r).get(name);
if (r.getClass().isArray() && name.equals("length")) return Array.getLength(r);
if (r instanceof List && name.matches("[0-9]+")) return ((List) r).get(Integer.parseInt(name));
String cap = Character.toUpperCase(name.charAt(0)) + name.substring(1);
for (String g : new String[] {"get" + cap, "is" + cap}) {
for (Method m : r.getClass().getMethods()) {
if (m.getName().equals(g) && m.getParameterCount() == 0 && !Modifier.isStatic(m.getModifiers())) {
return $call(r, r.getClass(), g, new Object[0]);
}
}
}
if (r instanceof List && name.equals("length")) return ((List) r).size();
throw new IllegalArgumentException("dynamic getter [" + r.getClass().getName() + ", " + name + "] not found");
}

// ---- the data file ----
static int pos;
static String[] toks;
static Object readValue() {
String t = toks[pos++];
char c = t.charAt(0);
switch (c) {
case 'N': return null;
case 'T': return Boolean.TRUE;
case 'F': return Boolean.FALSE;
case 'I': return Integer.valueOf(Integer.parseInt(t.substring(1)));
case 'J': return Long.valueOf(Long.parseLong(t.substring(1)));
case 'G': return new BigInteger(t.substring(1));
case 'D': return Double.valueOf(Double.longBitsToDouble(Long.parseUnsignedLong(t.substring(1), 16)));
case 'S': {
StringBuilder b = new StringBuilder();
for (int i = 1; i + 4 <= t.length(); i += 4) b.append((char) Integer.parseInt(t.substring(i, i + 4), 16));
return b.toString();
}
case 'Z': {
int colon = t.indexOf(':');
long s = Long.parseLong(t.substring(1, colon));
long n = Long.parseLong(t.substring(colon + 1));
return ZonedDateTime.ofInstant(Instant.ofEpochSecond(s, n), ZoneOffset.UTC);
}
case '[': {
List l = new ArrayList();
while (!toks[pos].equals("]")) l.add(readValue());
pos++;
return l;
}
case '{': {
Map m = new HashMap();
while (!toks[pos].equals("}")) {
Object k = readValue();
m.put(k, readValue());
}
pos++;
return m;
}
default: throw new IllegalStateException("bad token " + t);
}
}
static String hex(String s) {
StringBuilder b = new StringBuilder();
for (byte x : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", x & 0xff));
return b.toString();
}
static String describe(Throwable t) {
String m = t.getMessage();
return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
}
"""

JAVA_MAIN = r"""
public static void main(String[] args) throws Exception {
List<Map<String, String>> kinds = new ArrayList<>();
List<List<Map<String, Object[]>>> docs = new ArrayList<>();
List<List<Integer>> docIds = new ArrayList<>();
PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false, "UTF-8");
try (BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8))) {
String line;
Map<String, Object[]> cur = null;
while ((line = in.readLine()) != null) {
if (line.isEmpty()) continue;
toks = line.split(" ");
pos = 1;
switch (toks[0]) {
case "I":
kinds.add(new HashMap<>());
docs.add(new ArrayList<>());
docIds.add(new ArrayList<>());
break;
case "M": {
String name = (String) readValue();
String kind = toks[pos].equals("V") ? "" : (String) readValue();
kinds.get(kinds.size() - 1).put(name, kind);
break;
}
case "D":
cur = new HashMap<>();
docs.get(docs.size() - 1).add(cur);
docIds.get(docIds.size() - 1).add(Integer.parseInt(toks[1]));
break;
case "F": {
String name = (String) readValue();
List vs = new ArrayList();
while (pos < toks.length) vs.add(readValue());
cur.put(name, vs.toArray());
break;
}
case "S": {
int inst = Integer.parseInt(toks[1]);
int cls = Integer.parseInt(toks[2]);
int ix = Integer.parseInt(toks[3]);
pos = 4;
Map params = (Map) readValue();
Map<String, String> k = kinds.get(ix);
List<Map<String, Object[]>> ds = docs.get(ix);
List<Integer> ids = docIds.get(ix);
for (int d = 0; d < ds.size(); d++) {
String r;
try {
r = dispatch(cls, new Doc(k, ds.get(d)), params) ? "1" : "0";
} catch (Throwable t) {
r = "E" + hex(describe(t));
}
out.println("R " + inst + " " + ids.get(d) + " " + r);
}
break;
}
default:
throw new IllegalStateException("bad line " + toks[0]);
}
}
}
out.println("END");
out.flush();
}
}
"""


# =============================================================================================
# documents and mappings -> doc values
# =============================================================================================

KEYWORD_TYPES = {"keyword", "wildcard", "constant_keyword"}
TEXT_TYPES = {"text", "match_only_text", "annotated_text", "search_as_you_type", "semantic_text",
              "completion"}
INT_RANGES = {"long": (-2**63, 2**63 - 1), "integer": (-2**31, 2**31 - 1),
              "short": (-2**15, 2**15 - 1), "byte": (-2**7, 2**7 - 1)}
FLOAT_TYPES = {"double", "float", "half_float", "scaled_float"}
VALUE_TYPES = KEYWORD_TYPES | set(INT_RANGES) | FLOAT_TYPES | {"boolean", "ip", "date", "date_nanos"}


class Malformed(Exception):
    pass


class FieldSpec:
    def __init__(self, name, src, ftype, spec=None, nested=False):
        spec = spec or {}
        self.name = name
        self.src = src
        self.type = ftype
        self.spec = spec
        self.nested = nested
        self.ignore_above = spec.get("ignore_above")
        self.null_value = spec.get("null_value")
        self.ignore_malformed = spec.get("ignore_malformed") in (True, "true")
        self.coerce = spec.get("coerce", True) not in (False, "false")
        self.doc_values = spec.get("doc_values", True) not in (False, "false")
        self.normalizer = spec.get("normalizer")
        self.scaling_factor = spec.get("scaling_factor")
        self.const_value = spec.get("value")

    def read_error(self):
        """Why `doc[name]` throws for this field, or None."""
        t = self.type
        if t in TEXT_TYPES:
            if t == "text" and self.spec.get("fielddata") in (True, "true"):
                return (f"field [{self.name}]: text with fielddata=true (values are the analyzed "
                        f"terms) is not emulated")
            if t == "text":
                return ("Text fields are not optimised for operations that require per-document "
                        "field data like aggregations and sorting, so these operations are disabled "
                        f"by default. Please use a keyword field instead. Alternatively, set "
                        f"fielddata=true on [{self.name}] in order to load field data by uninverting "
                        "the inverted index. Note that this can use significant memory.")
            return f"Can't load fielddata on [{self.name}] of type [{t}]: it has no doc values"
        if t not in VALUE_TYPES:
            return f"field [{self.name}] of type [{t}]: doc values not emulated by painless_java"
        if not self.doc_values and t != "wildcard" and t != "constant_keyword":
            return (f"Can't load fielddata on [{self.name}] because fielddata is unsupported on "
                    f"fields of type [{t}]. Use doc values instead.")
        if self.normalizer is not None and self.normalizer != "lowercase":
            return f"field [{self.name}]: normalizer [{self.normalizer}] not emulated by painless_java"
        return None


def flatten(doc) -> dict:
    out: dict = {}

    def rec(obj, prefix):
        if isinstance(obj, dict):
            for k, v in obj.items():
                rec(v, f"{prefix}.{k}" if prefix else k)
        elif isinstance(obj, list):
            for v in obj:
                rec(v, prefix)
        else:
            out.setdefault(prefix, []).append(obj)

    rec(doc, "")
    return out


class RawFloat(float):
    """A JSON decimal that remembers its source text (a keyword field indexes that text)."""

    def __new__(cls, text):
        obj = float.__new__(cls, text)
        obj.raw = text
        return obj


def loads(text: str):
    """json.loads keeping the source text of decimals (as dsl_eval.load_json_text does)."""
    return json.loads(text, parse_float=RawFloat)


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _json_text(v) -> str:
    """A JSON leaf as the text Elasticsearch's parser gives a keyword field."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        raw = getattr(v, "raw", None)  # dsl_eval.RawFloat keeps the source text
        return raw if isinstance(raw, str) else json.dumps(v)
    if isinstance(v, int):
        return str(v)
    return v


def _lowercase(s: str) -> str:
    """Lucene's LowerCaseFilter: Character.toLowerCase per code point."""
    out = []
    for ch in s:
        lo = ch.lower()
        if len(lo) != 1:
            lo = "i" if ch == "\u0130" else ch
        out.append(lo)
    return "".join(out)


_DATE_RE = re.compile(
    r"(?P<y>[+-]?\d{4,9})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")


def _parse_date(v, nanos: bool):
    """-> (epoch seconds, nanoseconds), as a date (milliseconds) or date_nanos field stores it."""
    if isinstance(v, bool):
        raise Malformed("boolean for a date")
    if isinstance(v, (int, float)) or (isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v.strip())):
        # epoch_millis
        d = Decimal(_json_text(v) if not isinstance(v, str) else v.strip())
        total_ns = int((d * 1_000_000).to_integral_value(rounding="ROUND_FLOOR"))
    elif isinstance(v, str):
        m = _DATE_RE.fullmatch(v.strip())
        if not m:
            raise Malformed(f"failed to parse date field [{v}]")
        try:
            y = int(m.group("y"))
            if not 1 <= y <= 9999:
                raise Malformed(f"year {y} outside what this emulation parses")
            base = datetime(y, int(m.group("mo") or 1), int(m.group("d") or 1), int(m.group("h") or 0),
                            int(m.group("mi") or 0), int(m.group("s") or 0), tzinfo=timezone.utc)
        except ValueError as e:
            raise Malformed(f"failed to parse date field [{v}]: {e}")
        z = m.group("z")
        off = 0
        if z and z != "Z":
            sign = -1 if z[0] == "-" else 1
            digits = z[1:].replace(":", "")
            off = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
        frac = (m.group("f") or "").ljust(9, "0")
        epoch = base - datetime(1970, 1, 1, tzinfo=timezone.utc)
        secs = epoch.days * 86400 + epoch.seconds - off
        total_ns = secs * 1_000_000_000 + int(frac)
    else:
        raise Malformed(f"cannot parse {v!r} as a date")
    if not nanos:
        total_ns = (total_ns // 1_000_000) * 1_000_000
    elif total_ns < 0:
        raise Malformed("date_nanos before the epoch")
    return divmod(total_ns, 1_000_000_000)


def _parse_number(ftype, v, fs: FieldSpec):
    if isinstance(v, bool):
        raise Malformed(f"boolean {v} for a {ftype} field")
    if isinstance(v, str):
        if not fs.coerce:
            raise Malformed(f"string [{v}] for a {ftype} field with coerce=false")
        st = v.strip()
        try:
            num = int(st) if re.fullmatch(r"[+-]?\d+", st) else Decimal(st)
        except InvalidOperation:
            raise Malformed(f"For input string: \"{v}\"")
    elif isinstance(v, (int, float)):
        num = v
    else:
        raise Malformed(f"cannot parse {v!r} as a number")
    if ftype in INT_RANGES:
        if isinstance(num, int):
            iv = num
        else:
            d = Decimal(_json_text(num)) if isinstance(num, float) else num
            if not d.is_finite():
                raise Malformed("not a finite number")
            if d != d.to_integral_value() and not fs.coerce:
                raise Malformed("fractional value with coerce=false")
            iv = int(d)  # toward zero
        lo, hi = INT_RANGES[ftype]
        if not lo <= iv <= hi:
            raise Malformed(f"Value [{v}] is out of range for a {ftype}")
        return iv
    try:
        f = float(num)
    except OverflowError:
        raise Malformed("not a finite number")
    if not math.isfinite(f):
        raise Malformed(f"[{ftype}] supports only finite values, but got [{v}]")
    if ftype == "float":
        try:
            f = struct.unpack("<f", struct.pack("<f", f))[0]
        except OverflowError:
            raise Malformed(f"[float] supports only finite values, but got [{v}]")
    elif ftype == "half_float":
        try:
            f = struct.unpack("<e", struct.pack("<e", f))[0]
        except OverflowError:
            raise Malformed(f"[half_float] supports only finite values, but got [{v}]")
    elif ftype == "scaled_float":
        sf = float(fs.scaling_factor or 1)
        f = math.floor(f * sf + 0.5) / sf
    return f


def _parse_ip(v):
    if not isinstance(v, str) or "%" in v:
        raise Malformed(f"'{v}' is not an IP string literal.")
    try:
        a = ipaddress.ip_address(v.strip())
    except ValueError:
        raise Malformed(f"'{v}' is not an IP string literal.")
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a


def _ip_key(a):
    return (0xFFFF << 32) | int(a) if isinstance(a, ipaddress.IPv4Address) else int(a)


class DocIndex:
    """Documents indexed under a mapping: per mapped name, how `doc[name]` behaves, and per
    document its doc values (Python values: str, int, float, bool, ("date", s, ns))."""

    def __init__(self, docs, mapping=None, dynamic_strings=None):
        self.docs = docs
        self.fields: dict[str, FieldSpec] = {}
        self.aliases: dict[str, str] = {}
        self.disabled: list[str] = []
        self.nested: list[str] = []
        mapping = mapping or {}
        if "mappings" in mapping:
            mapping = mapping["mappings"]
        self._walk(mapping.get("properties", {}), "", False)
        flat = [flatten(d) for d in docs]
        dyn = mapping.get("dynamic", True)
        if dynamic_strings and dyn in (True, "true"):
            for fl in flat:
                for path, vals in fl.items():
                    if path in self.fields or path in self.aliases or self._under(path, self.disabled):
                        continue
                    first = next((x for x in vals if x is not None), None)
                    if first is None:
                        continue
                    self._infer(path, first, dynamic_strings)
        # constant_keyword without a value: the first document's value
        for fs in self.fields.values():
            if fs.type == "constant_keyword" and fs.const_value is None:
                for fl in flat:
                    first = next((x for x in fl.get(fs.src, []) if x is not None), None)
                    if first is not None:
                        fs.const_value = _json_text(first)
                        break
        self.kinds: dict[str, str | None] = {}
        for name, fs in self.fields.items():
            self.kinds[name] = fs.read_error()
        for name, target in self.aliases.items():
            fs = self.fields.get(target)
            self.kinds[name] = fs.read_error() if fs else f"alias [{name}] to an unknown field [{target}]"
        self.values: list[dict] = []
        self.rejected: dict[int, str] = {}
        for i, fl in enumerate(flat):
            vals = {}
            for name, fs in self.fields.items():
                try:
                    vs = self._doc_values(fs, fl)
                except Malformed as e:
                    self.rejected.setdefault(i, f"field [{name}] type [{fs.type}]: {e}")
                    continue
                if vs and self.kinds[name] is None:
                    vals[name] = vs
            for name, target in self.aliases.items():
                if target in vals:
                    vals[name] = vals[target]
            self.values.append(vals)

    @staticmethod
    def _under(path, prefixes):
        return any(path == p or path.startswith(p + ".") for p in prefixes)

    def _walk(self, props, prefix, nested):
        for name, spec in props.items():
            full = prefix + name
            t = spec.get("type", "object" if "properties" in spec else None)
            if t in ("object", "nested") or (t is None and "properties" in spec):
                if spec.get("enabled", True) in (False, "false"):
                    self.disabled.append(full)
                    continue
                self._walk(spec.get("properties", {}), full + ".", nested or t == "nested")
                continue
            if t == "alias":
                self.aliases[full] = spec.get("path")
                continue
            if t is None:
                continue
            self.fields[full] = FieldSpec(full, full, t, spec, nested)
            for sub, sspec in (spec.get("fields") or {}).items():
                if sspec.get("type"):
                    self.fields[f"{full}.{sub}"] = FieldSpec(f"{full}.{sub}", full, sspec["type"], sspec, nested)

    def _infer(self, path, v, mode):
        if isinstance(v, bool):
            self.fields[path] = FieldSpec(path, path, "boolean")
        elif isinstance(v, int):
            self.fields[path] = FieldSpec(path, path, "long")
        elif isinstance(v, float):
            self.fields[path] = FieldSpec(path, path, "float")
        elif isinstance(v, str):
            if mode == "es":
                if re.fullmatch(r"\d{4}[-/]\d{2}[-/]\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?", v):
                    self.fields[path] = FieldSpec(path, path, "date")
                else:
                    self.fields[path] = FieldSpec(path, path, "text")
                    self.fields[path + ".keyword"] = FieldSpec(path + ".keyword", path, "keyword",
                                                               {"ignore_above": 256})
            else:
                self.fields[path] = FieldSpec(path, path, "keyword")

    def _doc_values(self, fs: FieldSpec, fl):
        t = fs.type
        if t == "constant_keyword":
            raw = [x for x in fl.get(fs.src, []) if x is not None]
            for x in raw:
                if fs.const_value is not None and _json_text(x) != fs.const_value:
                    raise Malformed(f"[constant_keyword] field only accepts values that are equal to "
                                    f"the value defined in the mappings [{fs.const_value}]")
            return [fs.const_value] if fs.const_value is not None else []
        out = []
        for v in fl.get(fs.src, []):
            if v is None:
                if fs.null_value is None:
                    continue
                v = fs.null_value
            try:
                iv = self._index_value(fs, v)
            except Malformed:
                if fs.ignore_malformed:
                    continue
                raise
            if iv is not None:
                out.append(iv)
        if fs.nested:
            return []  # nested documents are separate Lucene documents
        if t in KEYWORD_TYPES:
            return sorted(set(out), key=lambda s: s.encode("utf-8", "surrogatepass"))
        if t == "ip":
            uniq = {_ip_key(a): a for a in out}
            return [_ip_str(uniq[k]) for k in sorted(uniq)]
        if t in ("date", "date_nanos"):
            return [("date", s, ns) for s, ns in sorted(out)]
        return sorted(out)

    def _index_value(self, fs: FieldSpec, v):
        t = fs.type
        if isinstance(v, dict):
            raise Malformed("an object for a concrete field")
        if t in KEYWORD_TYPES:
            s = _json_text(v)
            if fs.ignore_above is not None and _utf16_len(s) > int(fs.ignore_above):
                return None
            return _lowercase(s) if fs.normalizer == "lowercase" else s
        if t in TEXT_TYPES:
            return None
        if t in INT_RANGES or t in FLOAT_TYPES:
            return _parse_number(t, v, fs)
        if t == "boolean":
            if isinstance(v, bool):
                return v
            if v == "true":
                return True
            if v in ("false", ""):
                return False
            raise Malformed(f"Failed to parse value [{v}] as only [true] or [false] are allowed.")
        if t == "ip":
            return _parse_ip(v)
        if t in ("date", "date_nanos"):
            return _parse_date(v, t == "date_nanos")
        return None  # other types: not emulated; reading them is an error, indexing is not checked

    def doc_values(self, i, name):
        """What `doc[name]` holds for document i (Python values), or the read error (str)."""
        if name not in self.kinds:
            return f"No field found for [{name}] in mapping"
        if self.kinds[name] is not None:
            return self.kinds[name]
        return self.values[i].get(name, [])


def _ip_str(a):
    return str(a)


# =============================================================================================
# encoding values for the data file
# =============================================================================================


def _enc(v, out: list):
    if v is None:
        out.append("N")
    elif v is True:
        out.append("T")
    elif v is False:
        out.append("F")
    elif isinstance(v, int):
        if -2**31 <= v < 2**31:
            out.append(f"I{v}")
        elif -2**63 <= v < 2**63:
            out.append(f"J{v}")
        else:
            out.append(f"G{v}")
    elif isinstance(v, float):
        out.append("D" + struct.pack(">d", v).hex())
    elif isinstance(v, str):
        out.append("S" + v.encode("utf-16-be", "surrogatepass").hex())
    elif isinstance(v, tuple) and v and v[0] == "date":
        out.append(f"Z{v[1]}:{v[2]}")
    elif isinstance(v, list):
        out.append("[")
        for x in v:
            _enc(x, out)
        out.append("]")
    elif isinstance(v, dict):
        out.append("{")
        for k, x in v.items():
            _enc(str(k), out)
            _enc(x, out)
        out.append("}")
    else:
        raise TypeError(f"cannot encode {v!r}")


def _enc_doc_value(fs_type, v, out):
    """A doc value: integral field types are Longs (never Integers)."""
    if isinstance(v, int) and not isinstance(v, bool) and fs_type in INT_RANGES:
        out.append(f"J{v}")
    else:
        _enc(v, out)


# =============================================================================================
# the batch
# =============================================================================================


class Batch:
    """Scripts over indexes, run by one `java` invocation."""

    def __init__(self):
        self.indexes: list[DocIndex] = []
        self.scripts: list[tuple[dict, int]] = []

    def add_index(self, docs, mapping=None, dynamic_strings=None) -> int:
        self.indexes.append(DocIndex(docs, mapping, dynamic_strings))
        return len(self.indexes) - 1

    def add_script(self, script, index: int) -> int:
        """script: a Painless script object ({"source", "params", "lang"}) or a source string."""
        if isinstance(script, str):
            script = {"source": script}
        self.scripts.append((script, index))
        return len(self.scripts) - 1

    def run(self, java="java", timeout=600, keep_dir=None) -> dict[int, ScriptOutcome]:
        outcomes: dict[int, ScriptOutcome] = {}
        classes: dict[str, int] = {}       # source -> class number
        class_bodies: list[str] = []
        runnable = []                      # (handle, class number)
        for h, (script, ix) in enumerate(self.scripts):
            lang = script.get("lang", "painless")
            if lang != "painless":
                outcomes[h] = ScriptOutcome(error=f"script lang [{lang}] is not painless",
                                            error_kind="unsupported")
                continue
            if "id" in script or not isinstance(script.get("source"), str):
                outcomes[h] = ScriptOutcome(error="stored scripts (id) are not handled; a `source` is needed",
                                            error_kind="unsupported")
                continue
            params = script.get("params") or {}
            if not isinstance(params, dict):
                outcomes[h] = ScriptOutcome(error="params is not an object", error_kind="invalid")
                continue
            src = script["source"]
            if src not in classes:
                try:
                    class_bodies.append(translate(src))
                except TranslateError as e:
                    class_bodies.append(e)
                classes[src] = len(class_bodies) - 1
            k = classes[src]
            if isinstance(class_bodies[k], TranslateError):
                e = class_bodies[k]
                kind = "unsupported" if isinstance(e, Unsupported) else "invalid"
                outcomes[h] = ScriptOutcome(error=f"translation: {e}", error_kind=kind)
                continue
            runnable.append((h, k))
        excluded: dict[int, str] = {}
        for attempt in range(3):
            live = [(h, k) for h, k in runnable if k not in excluded]
            for h, k in runnable:
                if k in excluded:
                    outcomes[h] = ScriptOutcome(error=excluded[k], java_class=k, error_kind="compile")
            if not live:
                break
            result = self._run_java(live, class_bodies, java, timeout, keep_dir)
            if isinstance(result, dict) and "compile_errors" in result:
                errs = result["compile_errors"]
                if not errs:
                    raise RuntimeError("java failed to compile the batch outside any script:\n"
                                       + result["stderr"][-4000:])
                excluded.update({k: "Java compile error: " + msg for k, msg in errs.items()})
                continue
            for h, k in live:
                script, ix = self.scripts[h]
                index = self.indexes[ix]
                res = []
                for d in range(len(index.docs)):
                    if d in index.rejected:
                        res.append(REJECTED)
                        continue
                    r = result.get((h, d))
                    if r is None:
                        res.append(DocError("no result from java"))
                    elif r == "1":
                        res.append(True)
                    elif r == "0":
                        res.append(False)
                    else:
                        res.append(DocError(bytes.fromhex(r[1:]).decode("utf-8", "replace")))
                outcomes[h] = ScriptOutcome(results=res, java_class=k)
            break
        else:
            raise RuntimeError("java kept failing to compile the batch")
        return outcomes

    def _run_java(self, live, class_bodies, java, timeout, keep_dir):
        used = sorted({k for _, k in live})
        lines = [JAVA_PRELUDE]
        ranges = []  # (first line, last line, class)
        for k in used:
            start = sum(x.count("\n") for x in lines) + 1
            lines.append(f"static final class S{k} {{\n{class_bodies[k]}}}\n")
            end = sum(x.count("\n") for x in lines)
            ranges.append((start, end, k))
        lines.append("static boolean dispatch(int cls, Map doc, Map params) {\nswitch (cls) {\n")
        for k in used:
            lines.append(f"case {k}: return S{k}.run(doc, params);\n")
        lines.append("default: throw new IllegalStateException(\"no class \" + cls);\n}\n}\n")
        lines.append(JAVA_MAIN)
        source = "".join(lines)

        data = []
        used_ix = sorted({self.scripts[h][1] for h, _ in live})
        ix_pos = {}
        for ix in used_ix:
            ix_pos[ix] = len(ix_pos)
            index = self.indexes[ix]
            data.append("I")
            for name, kind in index.kinds.items():
                toks = []
                _enc(name, toks)
                if kind is None:
                    toks.append("V")
                else:
                    _enc(kind, toks)
                data.append("M " + " ".join(toks))
            for d, vals in enumerate(index.values):
                if d in index.rejected:
                    continue
                data.append(f"D {d}")
                for name, vs in vals.items():
                    toks = []
                    _enc(name, toks)
                    ftype = index.fields[name].type if name in index.fields else \
                        index.fields[index.aliases[name]].type
                    for v in vs:
                        _enc_doc_value(ftype, v, toks)
                    data.append("F " + " ".join(toks))
        for h, k in live:
            script, ix = self.scripts[h]
            toks = []
            _enc(script.get("params") or {}, toks)
            data.append(f"S {h} {k} {ix_pos[ix]} " + " ".join(toks))
        tmp = keep_dir or tempfile.mkdtemp(prefix="painless-java-")
        os.makedirs(tmp, exist_ok=True)
        try:
            src_path = os.path.join(tmp, "PainlessBatch.java")
            data_path = os.path.join(tmp, "painless-batch.data")
            with open(src_path, "w", encoding="utf-8") as fh:
                fh.write(source)
            with open(data_path, "w", encoding="utf-8") as fh:
                fh.write("\n".join(data) + "\n")
            cmd = [java, "-Xss16m", "-Dfile.encoding=UTF-8", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   src_path, data_path]
            try:
                p = subprocess.run(cmd, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"java did not finish within {timeout}s")
            stdout = p.stdout.decode("utf-8", "replace")
            stderr = p.stderr.decode("utf-8", "replace")
            if p.returncode != 0 or not stdout.rstrip().endswith("END"):
                if "error: compilation failed" in stderr:
                    return {"compile_errors": _attribute_compile_errors(stderr, ranges, src_path),
                            "stderr": stderr}
                raise RuntimeError(f"java exited {p.returncode}:\n{stderr[-4000:]}")
            result = {}
            for ln in stdout.splitlines():
                if ln.startswith("R "):
                    _, h, d, r = ln.split(" ", 3)
                    result[(int(h), int(d))] = r
            return result
        finally:
            if keep_dir is None:
                shutil.rmtree(tmp, ignore_errors=True)


def _attribute_compile_errors(stderr, ranges, src_path):
    errs: dict[int, str] = {}
    base = os.path.basename(src_path)
    lines = stderr.splitlines()
    for idx, ln in enumerate(lines):
        m = re.match(r".*?" + re.escape(base) + r":(\d+): error: (.*)", ln)
        if not m:
            continue
        line = int(m.group(1))
        for start, end, k in ranges:
            if start <= line <= end:
                detail = m.group(2)
                if idx + 1 < len(lines) and not re.match(r".*\.java:\d+: ", lines[idx + 1]):
                    detail += " | " + lines[idx + 1].strip()
                errs.setdefault(k, detail)
                break
        else:
            return {}  # an error outside the scripts: the runtime is broken
    return errs


def evaluate(scripts, docs, mapping=None, dynamic_strings=None, java="java"):
    """One list per script: for each document True, False, DocError(message) or REJECTED; a
    script that cannot run at all gives a ScriptOutcome-style error string instead of a list."""
    b = Batch()
    ix = b.add_index(docs, mapping, dynamic_strings)
    hs = [b.add_script(s, ix) for s in scripts]
    out = b.run(java=java)
    return [out[h].error if out[h].error else out[h].results for h in hs]


# =============================================================================================
# self-test
# =============================================================================================


def _self_test():
    """Doc values and Painless semantics on small cases; returns an exit status."""
    mapping = {"properties": {
        "k": {"type": "keyword", "ignore_above": 5, "null_value": "NULL"},
        "t": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "n": {"type": "long"}, "i": {"type": "integer"}, "f": {"type": "float"},
        "sf": {"type": "scaled_float", "scaling_factor": 100}, "b": {"type": "boolean"},
        "ip": {"type": "ip"}, "ts": {"type": "date"}, "tn": {"type": "date_nanos"},
        "al": {"type": "alias", "path": "k"}, "lc": {"type": "keyword", "normalizer": "lowercase"},
        "o": {"properties": {"x": {"type": "keyword"}}},
        "ne": {"type": "nested", "properties": {"y": {"type": "keyword"}}},
        "ck": {"type": "constant_keyword", "value": "const"},
        "w": {"type": "wildcard"}, "m": {"type": "long", "ignore_malformed": True},
        "nodv": {"type": "keyword", "doc_values": False}, "g": {"type": "geo_point"},
    }}
    docs = [
        {"k": ["b", "a", "b", "toolong", None], "t": "Hello World", "n": [3, 1, 3], "i": 5.9,
         "f": 0.1, "sf": 1.234, "b": ["true", False, True], "ip": ["::ffff:10.0.0.1", "2001:db8:0:0:0:0:0:1", "10.0.0.1"],
         "ts": "2020-01-02T03:04:05.123456Z", "tn": "2020-01-02T03:04:05.123456789+01:00",
         "lc": "MiXeD", "o": [{"x": "q"}, {"x": "p"}], "ne": [{"y": "z"}], "w": ["b", "a", "b"],
         "m": "junk", "nodv": "x"},
        loads('{"o.x": "dotted", "n": "7", "ts": 1577934245000, "k": 1.50}'),
        {"n": "not a number"},
    ]
    show = ("String show(def v) { if (v instanceof ZonedDateTime) { return 'Z' + v; } "
            "return v == null ? 'null' : v.getClass().getSimpleName() + ':' + v; }\n"
            "String all(def d, String n) { if (!d.containsKey(n)) { return 'unmapped'; } "
            "List r = []; for (def x : d[n]) { r.add(show(x)); } return r.toString(); }\n"
            "return all(doc, params.f) == params.want;")
    cases0 = [  # (field, doc[field] of document 0)
        ("k", "[String:NULL, String:a, String:b]"), ("al", "[String:NULL, String:a, String:b]"),
        ("t.keyword", "[String:Hello World]"),
        ("n", "[Long:1, Long:3, Long:3]"), ("i", "[Long:5]"), ("f", "[Double:0.10000000149011612]"),
        ("sf", "[Double:1.23]"), ("b", "[Boolean:false, Boolean:true, Boolean:true]"),
        ("ip", "[String:10.0.0.1, String:2001:db8::1]"), ("ts", "[Z2020-01-02T03:04:05.123Z]"),
        ("tn", "[Z2020-01-02T02:04:05.123456789Z]"), ("lc", "[String:mixed]"),
        ("o.x", "[String:p, String:q]"), ("ne.y", "[]"), ("ck", "[String:const]"),
        ("w", "[String:a, String:b]"), ("m", "[]"), ("nope", "unmapped"),
    ]
    cases1 = [("o.x", "[String:dotted]"), ("n", "[Long:7]"), ("ts", "[Z2020-01-02T03:04:05Z]"),
              ("k", "[String:1.50]"), ("ck", "[String:const]"), ("b", "[]")]
    b = Batch()
    ix = b.add_index(docs, mapping)
    h0 = [(b.add_script({"source": show, "params": {"f": f, "want": w}}, ix), f, w) for f, w in cases0]
    h1 = [(b.add_script({"source": show, "params": {"f": f, "want": w}}, ix), f, w) for f, w in cases1]
    errors = {
        "t": "Text fields are not optimised", "nodv": "Use doc values instead", "g": "not emulated",
        "nope": "No field found for [nope] in mapping",
    }
    he = {f: b.add_script({"source": "return doc[params.f].size() > 0", "params": {"f": f}}, ix)
          for f in errors}
    semantics = [  # (source, params, document 0 result)
        ("def x = params.a; def y = params.b; return x == y && x + 1 == 3", {"a": 2, "b": 2}, True),
        ("return params.a == params.b", {"a": 2, "b": 2 ** 40 // 2 ** 39}, True),      # Integer 2 == Integer 2
        ("long x = 2; return params.a == x", {"a": 2}, True),                       # Integer == long
        ("String a = params.s; String b = 'a' + 'b'; return a == b", {"s": "ab"}, True),  # equals
        ("String a = params.s; String b = 'a' + 'b'; return a === b", {"s": "ab"}, False),  # identity
        ("return params.l[-1] == 'z' && [1, 2].size() == 2 && ['a': 1].a == 1", {"l": ["y", "z"]}, True),
        ("def s = 0; for (x in params.l) { s = s + x; } s == 6", {"l": [1, 2, 3]}, True),  # implicit return
        ("int n = 0; for (int j = 0; j < 3; j++) { n += j; } return n == 3", {}, True),
        ("return doc['w'].value == 'a' && doc['n'].length == 3 && doc['n'][-1] == 3L", {}, True),
        ("return doc['n'].get(0) instanceof Long && params.i instanceof Integer && params.j instanceof Long "
         "&& params.d instanceof Double", {"i": 1, "j": 2 ** 40, "d": 1.0}, True),
        ("def v = params.x; if (v) { return true; } return false", {"x": True}, True),
        ("return params.s.length() == 3 && params.s.substring(1) == 'bc'", {"s": "abc"}, True),
        ("int x; boolean b; return x == 0 && !b", {}, True),
        ("return doc['k'].value == 'q'", {}, False),
    ]
    hs = [(b.add_script({"source": src, "params": prm}, ix), src, want) for src, prm, want in semantics]
    loop = b.add_script("int i = 0; while (true) { i++; }", ix)
    lam = b.add_script("return x -> x;", ix)
    syntax = b.add_script("return 1 +;", ix)
    nojava = b.add_script("int x = 'a'; return true;", ix)   # Painless and Java both reject it
    throws = b.add_script("return doc['n'].value / 0 == 1", ix)
    out = b.run()
    failures = []

    def expect(label, cond, got):
        if not cond:
            failures.append(f"{label}: {got}")

    for d, hl in ((0, h0), (1, h1)):
        for h, f, w in hl:
            r = out[h]
            expect(f"doc[{f!r}] of document {d} should be {w}", not r.error and r.results[d] is True, r)
    for f, msg in errors.items():
        r = out[he[f]].results[0]
        expect(f"reading {f}", isinstance(r, DocError) and msg in r.message, r)
    expect("document 2 (n: 'not a number') is rejected", out[he["t"]].results[2] is REJECTED,
           out[he["t"]].results[2])
    for h, src, want in hs:
        r = out[h]
        expect(f"{src!r} should be {want}", not r.error and r.results[0] is want, r)
    r = out[loop].results[0]
    expect("loop limit", isinstance(r, DocError) and "maximum number" in r.message, r)
    expect("lambda is unsupported", out[lam].error_kind == "unsupported", out[lam])
    expect("syntax error is invalid", out[syntax].error_kind == "invalid", out[syntax])
    expect("Java compile error is confined to its script",
           out[nojava].error_kind == "compile" and out[h0[0][0]].results[0] is True, out[nojava])
    r = out[throws].results[0]
    expect("division by zero throws", isinstance(r, DocError) and "ArithmeticException" in r.message, r)
    # dynamic mapping as Elasticsearch does it ("es"): strings are text + .keyword, dates detected
    b2 = Batch()
    ix2 = b2.add_index([{"s": "Abc", "d": "2020-01-01", "x": 1, "y": 1.5}], None, "es")
    hd = [(b2.add_script({"source": show, "params": {"f": f, "want": w}}, ix2), f, w) for f, w in [
        ("s.keyword", "[String:Abc]"), ("d", "[Z2020-01-01T00:00Z]"), ("x", "[Long:1]"), ("y", "[Double:1.5]")]]
    ht = b2.add_script("return doc['s'].size() > 0", ix2)
    o2 = b2.run()
    for h, f, w in hd:
        expect(f"es dynamic: doc[{f!r}] should be {w}", not o2[h].error and o2[h].results[0] is True, o2[h])
    expect("es dynamic: s is text", isinstance(o2[ht].results[0], DocError), o2[ht])
    if failures:
        print("painless_java self-test FAILED:\n  " + "\n  ".join(map(str, failures)))
        return 1
    print(f"painless_java self-test: ok ({len(cases0) + len(cases1) + len(errors) + len(semantics) + 12} checks)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(_self_test())
    print(__doc__)
    sys.exit(2)
