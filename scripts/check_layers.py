#!/usr/bin/env python3
"""Check that the crate's top-level modules import each other only downwards.

    python3 scripts/check_layers.py [SRC_DIR]      # default ./src
    python3 scripts/check_layers.py --edges [SRC]  # print every edge found, allowed or not
    python3 scripts/check_layers.py --self-test    # prove the check catches a planted import

Every .rs file under SRC_DIR belongs to one top-level module (`src/tcp/input.rs`
to `tcp`, `src/time.rs` to `time`); the crate roots (`lib.rs`, `main.rs`) may use
anything and are not checked. In each file, comments, doc comments and string
literals are blanked out, then every path that names another top-level module is an
edge: `crate::X` (in `use` trees, groups included, and in code), `super::` chains
that climb out of the top-level module, a crate-root re-export such as
`crate::Stack` (resolved to `stack` through `lib.rs`'s `use` lines), and, in the
binary's modules (`mod cli;` in `main.rs`), `tunstack::X`. An edge is allowed if
LAYERS below lists X for the importing module. Not followed: `#[path]`
attributes, `crate::*` globs, and imports re-exported through another module (an
edge is charged to the module whose path is written).

Exit 0 with a one-line summary; exit 1 listing each forbidden edge as
`file:line: from -> to (path)`, each module found in the tree but missing from
LAYERS, and any cycle in LAYERS itself. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The layer table: for each top-level module, the top-level modules it may import.
# It encodes the layering of issue 10 and DESIGN.md, bottom to top; "arrows point
# down only", so the table must be acyclic (checked on every run).
#
#  * Leaves: time, rng, counters; shared holds what every layer shares (events,
#    drop reasons, handles, the per-call context) and may use time and counters.
#  * wire turns bytes into headers and back and uses nothing of the crate.
#  * ports (the port tables) needs rng for ephemeral ports.
#  * ip sits on wire; icmp, udp, tcp, raw (IP protocol sockets) and proto (the
#    trait for a program's own protocols, and their table) sit on ip and
#    never import each other
#    (an ICMP error is handed back to stack as a value and routed from there),
#    nor config or stack.
#  * config knows the protocol modules' settings; stack owns them all;
#    invariants inspects a stack.
#  * The tool modules sit above the core. device and capture move packets and may
#    not reach into ip/icmp/udp/tcp/stack (a drop reason comes from shared);
#    capture may use device because it is a device decorator (it wraps one and
#    records what passes). Every other tool may use the core's face — stack (the
#    one `impl Stack`), config, shared, ports, wire, counters, time, rng,
#    invariants, proto (the trait a program implements) — but never the protocol modules ip/icmp/udp/tcp behind it; and
#    device, capture and the tools listed in its row:
#    what it imports today (measured with --edges), each row a strict layer above
#    the tools it names, bottom to top:
#      runtime < socket < aio < services, socket < control < services;  script < sim;
#      testutil;  cli (all).
#    (sim prints packets with script's parser; services' HTTP status page formats
#    with control's formatter.)
#
# Test code inside a module (`#[cfg(test)]` items, inline modules and files) is not
# checked unless --include-tests: a tcp test may drive a whole Stack through testutil
# without tcp depending on either.
_CORE = ["config", "ip", "icmp", "udp", "tcp", "raw", "proto", "ports", "wire", "shared", "counters", "time", "rng"]
# What a tool sees of the core: its face, not the protocol modules behind it.
_FACE = ["invariants", "stack", "config", "proto", "ports", "wire", "shared", "counters", "time", "rng"]
_BELOW_TOOLS = ["device", "capture", *_FACE]
LAYERS: dict[str, list[str]] = {
    "time": [],
    "rng": [],
    "counters": [],
    "shared": ["time", "counters"],
    "wire": [],
    "ports": ["rng"],
    "ip": ["wire", "shared", "counters", "time"],
    "icmp": ["ip", "wire", "ports", "shared", "counters", "time", "rng"],
    "udp": ["ip", "wire", "ports", "shared", "counters", "time", "rng"],
    "tcp": ["ip", "wire", "ports", "shared", "counters", "time", "rng"],
    "raw": ["ip", "wire", "shared", "counters", "time"],
    "proto": ["ip", "wire", "shared", "counters", "time"],
    "config": ["ip", "ports", "udp", "tcp", "icmp", "raw", "shared", "time"],
    "stack": _CORE,
    "invariants": ["stack", *_CORE],
    # Tools.
    "device": ["shared", "time", "wire", "config", "rng", "counters"],
    "capture": ["device", "shared", "time", "wire", "config", "rng", "counters"],
    "runtime": _BELOW_TOOLS,
    "socket": ["runtime", *_BELOW_TOOLS],
    "aio": ["socket", "runtime", *_BELOW_TOOLS],
    "control": ["socket", "runtime", *_BELOW_TOOLS],
    "services": ["control", "socket", "aio", "runtime", *_BELOW_TOOLS],
    "script": _BELOW_TOOLS,
    "sim": ["script", *_BELOW_TOOLS],
    "testutil": _BELOW_TOOLS,
    # Drawing captures: reads files with pcap-file and etherparse; wire's TCP flags.
    "plot": ["wire"],
    # The narrated trace: a tracing layer stamped with script's virtual time.
    "explain": ["script"],
    # The binary's command line (`mod cli;` in main.rs): anything the library
    # exports (the compiler keeps it to the public API; `tunstack::TcpSocketInfo`
    # resolves to tcp through lib.rs's re-exports).
    "cli": ["services", "control", "socket", "runtime", "sim", "script", "plot", "explain", "tcp", "udp", "raw", *_BELOW_TOOLS],
}

DEFAULT_CRATE = "tunstack"


# --- Lexing: blank out comments and literals, keeping offsets and newlines. ---


def strip_rust(text: str) -> str:
    """`text` with comments (line, doc, nested block) and the contents of string,
    byte-string, raw-string and char literals replaced by spaces; newlines kept, so
    offsets and line numbers stay valid. Lifetimes and labels are kept."""
    out = list(text)
    n = len(text)
    i = 0

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c in "rb" and (m := re.compile(r'(?:br|rb|r)(#*)"').match(text, i)) and not _ident_char_before(text, i):
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            blank(m.end(), end - 1 - len(m.group(1)))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}', '\''), or a lifetime/label ('a).
            if i + 1 < n and text[i + 1] == "\\":
                j = i + 2
                j = text.find("'", j + 1) if j < n else n
                j = n if j < 0 else j
                blank(i + 1, j)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i + 1, i + 2)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def _ident_char_before(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


# --- Module structure. ---


MOD_DECL = re.compile(r"^\s*((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
CFG_TEST = re.compile(r"#\[cfg\((?:test|any\([^\]]*\btest\b[^\]]*\))\)\]")
INLINE_MOD = re.compile(r"\bmod\s+(\w+)\s*\{")
USE_STMT = re.compile(r"\buse\s+([^;]*);")
PATH_HEAD = r"(?<![\w$:])(?:::\s*)?(\$?crate|super|{crate})\s*::"
PATH = re.compile(r"(?:\$?\w+\s*::\s*)+\w*")


@dataclass
class Crate:
    """One crate's top-level modules and root re-exports (name -> module)."""

    root: str  # "lib.rs" or "main.rs"
    modules: set[str]
    reexports: dict[str, str]


def crate_of(src: Path, root_file: str, lib_modules: set[str] | None = None) -> Crate | None:
    path = src / root_file
    if not path.exists():
        return None
    text = strip_rust(path.read_text(encoding="utf-8"))
    modules = {name for _attrs, name in MOD_DECL.findall(text)}
    reexports: dict[str, str] = {}
    for m in USE_STMT.finditer(text):
        for full, alias in expand_use(m.group(1)):
            if full and full[0] in modules and len(full) > 1:
                reexports[alias] = full[0]
    return Crate(root_file, modules, reexports)


def expand_use(tree: str) -> list[tuple[list[str], str]]:
    """The paths a `use` tree names, each as (segments, name bound): `crate::{a::B,
    c as D}` gives (['crate','a','B'], 'B') and (['crate','c'], 'D')."""
    tree = re.sub(r"\s*(::|\{|\}|,)\s*", r"\1", tree.strip())
    tree = re.sub(r"\s+", " ", tree)
    results: list[tuple[list[str], str]] = []

    def walk(prefix: list[str], s: str) -> None:
        s = s.strip()
        if s.startswith("::"):
            s = s[2:]
        brace = s.find("{")
        if brace >= 0 and s.endswith("}"):
            head = [p for p in s[:brace].split("::") if p]
            for part in split_top(s[brace + 1 : -1]):
                if part.strip():
                    walk(prefix + head, part)
            return
        alias = None
        m = re.match(r"^(.*?) as (\w+)$", s)
        if m:
            s, alias = m.group(1), m.group(2)
        full = prefix + [p for p in s.split("::") if p]
        if full and full[-1] == "self":
            full = full[:-1]
        results.append((full, alias or (full[-1] if full else "")))

    walk([], tree)
    return results


def split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def module_path(src: Path, file: Path) -> list[str]:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


def inline_mods_at(text: str, positions: list[int]) -> dict[int, list[str]]:
    """For each position, the inline `mod name { ... }` blocks enclosing it."""
    opens = {m.end() - 1: m.group(1) for m in INLINE_MOD.finditer(text)}
    want = sorted(set(positions))
    result: dict[int, list[str]] = {}
    stack: list[tuple[str, int]] = []
    depth, w = 0, 0
    for i, ch in enumerate(text):
        while w < len(want) and want[w] <= i:
            result[want[w]] = [name for name, _ in stack]
            w += 1
        if ch == "{":
            depth += 1
            if i in opens:
                stack.append((opens[i], depth))
        elif ch == "}":
            if stack and stack[-1][1] == depth:
                stack.pop()
            depth -= 1
    while w < len(want):
        result[want[w]] = [name for name, _ in stack]
        w += 1
    return result


def test_spans(text: str) -> list[tuple[int, int]]:
    """The spans of items under `#[cfg(test)]` (or `cfg(any(.., test, ..))`): to
    the end of the item's `;`, or of its `{ ... }` block."""
    spans = []
    for m in CFG_TEST.finditer(text):
        pos = re.compile(r"(?:\s*#\[[^\]]*\])*").match(text, m.end()).end()
        semi, brace = text.find(";", pos), text.find("{", pos)
        if brace < 0 or 0 <= semi < brace:
            spans.append((m.start(), len(text) if semi < 0 else semi))
            continue
        depth, j = 0, brace
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        spans.append((m.start(), j))
    return spans


def cfg_test_modules(src: Path) -> set[tuple[str, ...]]:
    """Module paths declared `#[cfg(test)] mod x;` in some file (test-only files)."""
    found = set()
    for file in src.rglob("*.rs"):
        parent = module_path(src, file)
        if parent and parent[0] in ("lib", "main"):
            parent = []
        text = strip_rust(file.read_text(encoding="utf-8"))
        for attrs, name in MOD_DECL.findall(text):
            if CFG_TEST.search(attrs):
                found.add(tuple(parent + [name]))
    return found


# --- Edges. ---


@dataclass(frozen=True)
class Edge:
    file: str
    line: int
    src: str
    dst: str
    path: str
    test: bool  # in test-only code inside the module (see check())


def find_edges(src: Path, crate_name: str = DEFAULT_CRATE) -> tuple[list[Edge], set[str]]:
    """Every reference from one top-level module to another, and the set of
    top-level modules present."""
    lib = crate_of(src, "lib.rs")
    binary = crate_of(src, "main.rs")
    if lib is None:
        raise SystemExit(f"{src}/lib.rs not found: is {src} a crate's src directory?")
    bin_modules = binary.modules if binary else set()
    test_mods = cfg_test_modules(src)
    edges: list[Edge] = []
    for file in sorted(src.rglob("*.rs")):
        mpath = module_path(src, file)
        if not mpath or mpath[0] in ("lib", "main"):
            continue
        top = mpath[0]
        in_binary = top in bin_modules
        own = binary if in_binary and binary else lib
        raw = file.read_text(encoding="utf-8")
        text = strip_rust(raw)
        refs: list[tuple[int, list[str]]] = []  # (offset, path segments as written)
        use_spans = []
        for m in USE_STMT.finditer(text):
            use_spans.append((m.start(), m.end()))
            for full, _alias in expand_use(m.group(1)):
                # Charge the path to the line where its second segment (the module,
                # for `crate::x`) is written, so grouped imports point at their line.
                name = full[1] if len(full) > 1 else (full[0] if full else "")
                at = re.search(r"\b" + re.escape(name) + r"\b", text[m.start() : m.end()]) if name else None
                refs.append((m.start() + (at.start() if at else 0), full))
        masked = list(text)
        for a, b in use_spans:
            for k in range(a, b):
                if masked[k] != "\n":
                    masked[k] = " "
        code = "".join(masked)
        for m in re.finditer(PATH_HEAD.format(crate=re.escape(crate_name)), code):
            path = PATH.match(code, m.start(1))
            segs = re.findall(r"\$?\w+", path.group(0)) if path else []
            refs.append((m.start(1), segs))
        mods_at = inline_mods_at(text, [off for off, _ in refs])
        # A top-level module is never test code as a whole (testutil has its row).
        file_is_test = any(tuple(mpath[:k]) in test_mods for k in range(2, len(mpath) + 1))
        spans = test_spans(text)
        line_starts = [0] + [i + 1 for i, ch in enumerate(raw) if ch == "\n"]
        seen = set()
        for off, segs in refs:
            here = mpath + mods_at.get(off, [])
            target = resolve(segs, here, own, lib, in_binary, crate_name)
            if target is None or target == top:
                continue
            line = _line_of(line_starts, off)
            key = (line, target, "::".join(segs))
            if key in seen:
                continue
            seen.add(key)
            test = file_is_test or any(a <= off <= b for a, b in spans)
            edges.append(Edge(str(file.relative_to(src.parent)), line, top, target, "::".join(segs), test))
    present = lib.modules | bin_modules
    return edges, present


def _line_of(line_starts: list[int], off: int) -> int:
    lo, hi = 0, len(line_starts)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if line_starts[mid] <= off:
            lo = mid
        else:
            hi = mid
    return lo + 1


def resolve(segs: list[str], here: list[str], own: Crate, lib: Crate, in_binary: bool, crate_name: str) -> str | None:
    """The top-level module a path names, or None (std, an extern crate, a local)."""
    if not segs:
        return None
    head = segs[0]
    if head in ("crate", "$crate"):
        return _top(segs[1:], own)
    if head == crate_name and in_binary:
        return _top(segs[1:], lib)
    if head == "super":
        at = list(here)
        rest = list(segs)
        while rest and rest[0] == "super":
            at = at[:-1]
            rest = rest[1:]
        if at:
            return at[0]
        return _top(rest, own)
    return None


def _top(rest: list[str], crate: Crate) -> str | None:
    if not rest:
        return None
    if rest[0] in crate.modules:
        return rest[0]
    return crate.reexports.get(rest[0])


# --- The table. ---


def table_cycle(table: dict[str, list[str]]) -> list[str] | None:
    """A cycle in the allowed-imports graph, as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in table.get(node, []):
            if nxt == node:
                return [node, node]
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in table:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def table_problems(table: dict[str, list[str]]) -> list[str]:
    problems = []
    for module, allowed in table.items():
        for dep in allowed:
            if dep not in table:
                problems.append(f"table: {module} may import {dep}, which has no row of its own")
    cycle = table_cycle(table)
    if cycle:
        problems.append("table: cycle " + " -> ".join(cycle))
    return problems


def check(
    src: Path, table: dict[str, list[str]], crate_name: str = DEFAULT_CRATE, include_tests: bool = False
) -> tuple[list[str], str]:
    """(problems, summary). No problems means the tree obeys the table.

    Test code inside a module (its `#[cfg(test)]` submodules, files and items) is
    not checked unless `include_tests`: a test of `tcp` may drive a whole `Stack`
    through `testutil` without `tcp` depending on either. Top-level modules, test
    ones (`testutil`) included, are always checked."""
    problems = table_problems(table)
    edges, present = find_edges(src, crate_name)
    for module in sorted(present - table.keys()):
        problems.append(f"{module}: top-level module not in the table (add a row to LAYERS)")
    checked = [e for e in edges if include_tests or not e.test]
    bad = [e for e in checked if e.src in table and e.dst not in table.get(e.src, [])]
    for e in bad:
        problems.append(f"{e.file}:{e.line}: {e.src} -> {e.dst} ({e.path})")
    pairs = {(e.src, e.dst) for e in bad}
    if bad:
        problems.append(f"{len(bad)} forbidden references, {len(pairs)} forbidden edges: " + ", ".join(f"{a}->{b}" for a, b in sorted(pairs)))
    allowed = {(e.src, e.dst) for e in checked} - pairs
    skipped = len(edges) - len(checked)
    summary = (
        f"layers ok: {len(present)} top-level modules, {len(allowed)} module edges, all downward"
        + (f" ({skipped} references from test code not checked; --include-tests checks them)" if skipped else "")
    )
    return problems, summary


# --- Self-test. ---

PLANT = "use crate::stack::Stack;\n"

SYNTHETIC = {
    "lib.rs": "pub mod time;\npub mod wire;\npub mod ip;\npub mod stack;\n#[cfg(test)]\nmod testutil;\npub use stack::Stack;\n",
    "main.rs": "mod cli;\nfn main() { cli::run(); }\n",
    "time.rs": "//! Time. Not an import: crate::stack::Stack\npub struct Instant;\n",
    "wire/mod.rs": (
        "//! Bytes. `use crate::stack::Stack;` in a doc comment is no import.\n"
        "pub mod ipv4;\n"
        "/* a block /* nested */ comment naming crate::ip::x */\n"
        'pub const S: &str = "crate::stack::Stack";\n'
        'pub const R: &str = r#"super::stack "crate::ip" "#;\n'
        "pub const C: char = '\"';\n"
        "pub fn f<'a>(x: &'a str) -> &'a str { x }\n"
    ),
    "wire/ipv4.rs": (
        "use super::S;\n"
        "#[cfg(test)]\n"
        "mod tests {\n"
        "    use super::super::S;\n"
        "    use crate::wire::ipv4::*;\n"
        "    fn drive(_: crate::Stack) {}\n"  # test code: not checked by default
        "}\n"
    ),
    "ip/mod.rs": "use crate::{time::Instant, wire::{self, ipv4}};\npub fn f(_: crate::wire::ipv4::X) {}\n",
    "stack.rs": "use crate::ip;\nmod inner { use super::super::time::Instant; }\npub struct Stack;\n",
    "testutil.rs": "use crate::Stack;\n",
    "cli/mod.rs": 'use tunstack::Stack;\npub fn run() { let _ = tunstack::wire::S; let _ = "tunstack::nothing"; }\n',
}
SYNTHETIC_TABLE = {
    "time": [],
    "wire": [],
    "ip": ["wire", "time"],
    "stack": ["ip", "wire", "time"],
    "testutil": ["stack"],
    "cli": ["stack", "wire"],
}


def plant(src: Path) -> int:
    """Put PLANT after wire/mod.rs's inner doc comment; return its line number."""
    path = src / "wire" / "mod.rs"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = 0
    while at < len(lines) and lines[at].lstrip().startswith("//!"):
        at += 1
    lines.insert(at, PLANT)
    path.write_text("".join(lines), encoding="utf-8")
    return at + 1


def self_test(real_src: Path, crate_name: str) -> int:
    failures = []

    def expect(cond: bool, what: str) -> None:
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        # 1. A tiny synthetic tree that obeys its table, with forbidden-looking text
        #    in comments, strings and raw strings, passes; planted, it fails.
        syn = Path(tmp) / "synthetic" / "src"
        for rel, body in SYNTHETIC.items():
            (syn / rel).parent.mkdir(parents=True, exist_ok=True)
            (syn / rel).write_text(body, encoding="utf-8")
        problems, _ = check(syn, SYNTHETIC_TABLE, "tunstack")
        expect(not problems, f"synthetic tree passes (got {problems})")
        edges, _ = find_edges(syn, "tunstack")
        got = {(e.src, e.dst) for e in edges if not e.test}
        want = {("ip", "time"), ("ip", "wire"), ("stack", "ip"), ("stack", "time"), ("testutil", "stack"), ("cli", "stack"), ("cli", "wire")}
        expect(got == want, f"synthetic edges found exactly: {sorted(got)}")
        problems, _ = check(syn, SYNTHETIC_TABLE, "tunstack", include_tests=True)
        expect(problems[:1] == ["src/wire/ipv4.rs:6: wire -> stack (crate::Stack)"], f"test code checked on request: {problems}")
        line = plant(syn)
        problems, _ = check(syn, SYNTHETIC_TABLE, "tunstack")
        planted = f"src/wire/mod.rs:{line}: wire -> stack (crate::stack::Stack)"
        expect(planted in problems, f"planted synthetic import reported as {planted!r} (got {problems})")

        # 2. A copy of the real tree with the plant reports it, whatever else the
        #    tree does today.
        copy = Path(tmp) / "real" / "src"
        shutil.copytree(real_src, copy)
        line = plant(copy)
        problems, _ = check(copy, LAYERS, crate_name)
        planted = f"src/wire/mod.rs:{line}: wire -> stack (crate::stack::Stack)"
        expect(planted in problems, f"planted import in a copy of {real_src} reported as {planted!r}")

    # 3. The table checks themselves.
    expect(table_cycle(LAYERS) is None, "LAYERS is acyclic")
    expect(table_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"], "a cycle is found")
    expect(any("no row" in p for p in table_problems({"a": ["b"]})), "a row naming an unknown module is refused")
    expect(strip_rust("a /* b /* c */ d */ e").split() == ["a", "e"], "nested block comments are stripped")
    if failures:
        print(f"self-test: {len(failures)} failed")
        return 1
    print("self-test: all passed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", default="src", help="the crate's src directory (default ./src)")
    parser.add_argument("--self-test", action="store_true", help="check the checker on planted imports")
    parser.add_argument("--edges", action="store_true", help="print every edge found as 'from -> to: count'")
    parser.add_argument("--include-tests", action="store_true", help="check test code inside modules too")
    parser.add_argument("--crate-name", default=None, help="the library's name in the binary's paths (default: from Cargo.toml)")
    args = parser.parse_args()
    src = Path(args.src)
    crate_name = args.crate_name or _crate_name(src)
    if args.self_test:
        return self_test(src, crate_name)
    if args.edges:
        edges, present = find_edges(src, crate_name)
        counts: dict[tuple[str, str], list[int]] = {}
        for e in edges:
            counts.setdefault((e.src, e.dst), [0, 0])[e.test] += 1
        for (a, b), (code, tests) in sorted(counts.items()):
            verdict = "ok" if b in LAYERS.get(a, []) else "FORBIDDEN"
            verdict += "" if code else " (tests only)"
            print(f"{a} -> {b}: {code} in code, {tests} in tests: {verdict}")
        return 0
    problems, summary = check(src, LAYERS, crate_name, args.include_tests)
    if problems:
        print("\n".join(problems))
        return 1
    print(summary)
    return 0


def _crate_name(src: Path) -> str:
    cargo = src.resolve().parent / "Cargo.toml"
    try:
        text = cargo.read_text(encoding="utf-8")
    except OSError:
        return DEFAULT_CRATE
    m = re.search(r'^\[package\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
    return m.group(1).replace("-", "_") if m else DEFAULT_CRATE


if __name__ == "__main__":
    sys.exit(main())
