#!/usr/bin/env python3
"""Build time of eventsmith's generated code against typify 0.8's, on one large contract set.

The contract set is tests/codegen/realworld replicated `--copies` times: copy `k` gets a prefix
(`retail`, `wholesale`, ...), so aggregate `order` becomes `retail_order` (directory, stream,
`emits` and `subscribes` entries renamed), each document's root title becomes `RetailOrder...`,
projection files `retail_order_overview.json`; the shared `schema/types/` files are copied once,
as in the original project, and every copy refers to them.

Two throwaway crates are built from it, each with its own CARGO_TARGET_DIR:

- eventsmith: `eventsmith generate --no-tests --out <crate>/src/events`, in a library crate
  depending on `eventsmith = { path = <runtime>, default-features = false }`;
- typify: every document eventsmith makes types of (event versions, commands, aggregate states,
  projection rows) is bundled into one self-contained schema (cross-file `$ref`s inlined into
  `definitions`) and run through `cargo typify` 0.8 into a module of its own; the crate's lib.rs
  adds, per module, a round-trip function (`serde_json::from_slice` into the root type, then
  `serde_json::to_vec`), so that the serde impls are compiled as eventsmith's decode/encode
  functions compile theirs.

Then, per profile (debug, release), the dependencies are built once, untimed, and timed are:
full builds (`cargo clean -p <crate>` first), incremental builds after one schema edit (an
optional property added to, or removed from, one event version: eventsmith regenerates its
mod.rs, typify regenerates that event's module) and, in debug, builds after a touch without
change. Runs alternate between the two crates. No cargo command runs without /tmp/cargo.lock:
the script takes that lock itself (flock(2), as `flock /tmp/cargo.lock` does) once for the whole
run, or once per profile with `--lock-per-profile`, and times each build on its own inside it;
a cargo command it runs while not holding the lock runs as `flock /tmp/cargo.lock cargo ...`.
See tests/probe/README.md.

Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REALWORLD = os.path.join(REPO, "tests", "codegen", "realworld")
TYPIFY_VERSION = "^0.8"
LOCK = "/tmp/cargo.lock"

# One per copy of the project: snake_case, and a letter first.
PREFIXES = [
    "retail", "wholesale", "marketplace", "outlet", "corporate", "education", "healthcare",
    "travel", "grocery", "pharmacy", "fashion", "electronics", "furniture", "garden", "sports",
    "books", "music", "toys", "beauty", "automotive", "pets", "office", "hardware", "jewelry",
    "luxury", "kids", "outdoor", "kitchen", "crafts", "gaming", "software", "rental", "refurb",
    "clearance", "wine", "florist", "optics", "bicycles", "tickets", "catering",
]

# The dependencies typify 0.8's output uses (serde derives, serde_json values and maps,
# `regress` for `pattern`, chrono for `date`/`date-time`, uuid for `uuid`); regress at the
# version typify-impl 0.8 itself depends on.
TYPIFY_DEPS = """\
serde = { version = "1", features = ["derive"] }
serde_json = "1"
regress = "0.12"
chrono = { version = "0.4", default-features = false, features = ["serde", "std", "clock"] }
uuid = { version = "1", features = ["serde"] }
"""

# The schema edit of the incremental builds: an optional property of one event version.
EDIT_PROPERTY = "build_probe_note"
EDIT_SCHEMA = {"type": "string", "maxLength": 200,
               "description": "A note added by the build-time probe's incremental edit."}


def log(msg: str) -> None:
    print(f"[build-time {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


HELD = False  # whether this process holds /tmp/cargo.lock (Timer.lock)


def locked(cmd: list[str]) -> list[str]:
    """Serialises cargo runs on this machine: `flock /tmp/cargo.lock cmd`, unless this process
    already holds the lock (then flock would wait for ourselves)."""
    if shutil.which("flock") and not HELD:
        return ["flock", LOCK, *cmd]
    return cmd


def run(cmd: list[str], cwd: str | None = None, env: dict | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"build-time: `{' '.join(cmd)}` failed ({p.returncode}):\n"
                 f"{p.stdout[-3000:]}\n{p.stderr[-6000:]}")
    return p


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path: str, value: Any) -> None:
    write(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]+", snake) if part)


# --------------------------------------------------------------------------------------------
# The contract set


def replicate(src: str, dst: str, copies: int) -> dict:
    """Writes the realworld project `copies` times over into `dst`. Returns counts."""
    if copies > len(PREFIXES):
        sys.exit(f"build-time: at most {len(PREFIXES)} copies")
    schema = os.path.join(src, "schema")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    write(os.path.join(dst, "eventsmith.toml"), '[project]\nname = "buildtime"\n')
    shutil.copytree(os.path.join(schema, "types"), os.path.join(dst, "schema", "types"))
    aggregates = sorted(f[:-5] for f in os.listdir(os.path.join(schema, "aggregates"))
                        if f.endswith(".json"))

    def load(path: str) -> dict:
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    counts = {"events": 0, "versions": 0, "commands": 0, "aggregates": 0, "projections": 0}
    for prefix in PREFIXES[:copies]:
        P = pascal(prefix)

        def rename_type(event_type: str) -> str:
            agg, name = event_type.split(".", 1)
            return f"{prefix}_{agg}.{name}"

        for agg in aggregates:
            doc = load(os.path.join(schema, "aggregates", f"{agg}.json"))
            doc["title"] = P + doc.get("title", pascal(agg))
            ext = doc.get("x-eventsmith", {})
            if "stream" in ext:
                ext["stream"] = f"{prefix}_{ext['stream']}"
            write_json(os.path.join(dst, "schema", "aggregates", f"{prefix}_{agg}.json"), doc)
            counts["aggregates"] += 1
            events_dir = os.path.join(schema, "events", agg)
            names = set()
            for f in sorted(os.listdir(events_dir)):
                doc = load(os.path.join(events_dir, f))
                doc["title"] = P + doc["title"]
                write_json(os.path.join(dst, "schema", "events", f"{prefix}_{agg}", f), doc)
                counts["versions"] += 1
                names.add(f.split(".")[0])
            counts["events"] += len(names)
            commands_dir = os.path.join(schema, "commands", agg)
            for f in sorted(os.listdir(commands_dir)) if os.path.isdir(commands_dir) else []:
                doc = load(os.path.join(commands_dir, f))
                doc["title"] = P + doc["title"]
                ext = doc.get("x-eventsmith", {})
                ext["emits"] = [rename_type(t) for t in ext.get("emits", [])]
                write_json(os.path.join(dst, "schema", "commands", f"{prefix}_{agg}", f), doc)
                counts["commands"] += 1
        for f in sorted(os.listdir(os.path.join(schema, "projections"))):
            doc = load(os.path.join(schema, "projections", f))
            doc["title"] = P + doc["title"]
            ext = doc.get("x-eventsmith", {})
            ext["subscribes"] = [rename_type(t) for t in ext.get("subscribes", [])]
            write_json(os.path.join(dst, "schema", "projections", f"{prefix}_{f}"), doc)
            counts["projections"] += 1
    return counts


def documents(project: str) -> list[str]:
    """Every document eventsmith makes a type of: events, commands, aggregates, projections,
    as paths relative to `schema/`."""
    schema = os.path.join(project, "schema")
    out = []
    for kind in ("events", "commands", "aggregates", "projections"):
        for root, _, files in os.walk(os.path.join(schema, kind)):
            out += [os.path.relpath(os.path.join(root, f), schema) for f in files
                    if f.endswith(".json")]
    return sorted(out)


def edit_target(project: str, copies: int) -> str:
    """The event version the incremental builds edit: the middle copy's order.placed v2."""
    return os.path.join("events", f"{PREFIXES[(copies - 1) // 2]}_order", "placed.v2.json")


def set_edit(path: str, on: bool) -> None:
    """Adds (on) or removes the incremental edit's optional property in a schema document."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    props = doc["properties"]
    if on:
        props[EDIT_PROPERTY] = dict(EDIT_SCHEMA)
    else:
        props.pop(EDIT_PROPERTY, None)
    write_json(path, doc)


# --------------------------------------------------------------------------------------------
# The bundler: typify 0.8 resolves only `#/definitions/...` (or `#/$defs/...`) in the document it
# is given, so each document's cross-file references are inlined as definitions of its own.


def _pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    for raw in pointer.split("/")[1:] if pointer else []:
        key = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


class Bundler:
    """Inlines every `$ref` into another file as `#/definitions/<Name>` of the root document.
    The name is the target's last pointer segment (`Amount`), or the file's stem for a whole
    file; a name taken by another target gets the file's stem in front (`MoneyAmount`)."""

    def __init__(self, schema_root: str):
        self.schema_root = schema_root
        self.files: dict[str, Any] = {}

    def load(self, path: str) -> Any:
        if path not in self.files:
            with open(path, encoding="utf-8") as f:
                self.files[path] = json.load(f)
        return self.files[path]

    def bundle(self, path: str, overrides: dict[str, Any] | None = None) -> dict:
        path = os.path.abspath(path)
        root = copy.deepcopy((overrides or {}).get(path) or self.load(path))
        root.pop("x-eventsmith", None)
        defs_key = "$defs" if "$defs" in root else "definitions"
        defs = root.setdefault(defs_key, {})
        names: dict[tuple[str, str], str] = {}  # (file, pointer) -> definition name
        taken = set(defs)
        pending: list[tuple[str, str, str]] = []

        def name_for(file: str, pointer: str) -> str:
            key = (file, pointer)
            if key in names:
                return names[key]
            stem = pascal(os.path.splitext(os.path.basename(file))[0])
            base = pointer.rsplit("/", 1)[-1] if pointer else stem
            name = base
            if name in taken:
                name = stem + base
            n = 2
            while name in taken:
                name = f"{stem}{base}{n}"
                n += 1
            taken.add(name)
            names[key] = name
            pending.append((file, pointer, name))
            return name

        def rewrite(node: Any, base_file: str) -> Any:
            if isinstance(node, dict):
                out = {}
                for k, v in node.items():
                    if k == "x-eventsmith":
                        continue
                    if k == "$ref" and isinstance(v, str):
                        ref_file, _, pointer = v.partition("#")
                        target = os.path.normpath(os.path.join(os.path.dirname(base_file),
                                                               ref_file)) if ref_file else base_file
                        if target == path:
                            out[k] = "#" + pointer  # the root's own definitions stay
                        else:
                            out[k] = f"#/{defs_key}/{name_for(target, pointer)}"
                    else:
                        out[k] = rewrite(v, base_file)
                return out
            if isinstance(node, list):
                return [rewrite(v, base_file) for v in node]
            return node

        root = rewrite(root, path)
        defs = root.setdefault(defs_key, {})
        while pending:
            file, pointer, name = pending.pop()
            target = copy.deepcopy(_pointer_get(self.load(file), pointer))
            if isinstance(target, dict):
                for k in ("$schema", "$id", "definitions", "$defs") if not pointer else ("$id",):
                    target.pop(k, None)
            defs[name] = rewrite(target, file)
        return root


# --------------------------------------------------------------------------------------------
# The crates


def cargo_toml(name: str, deps: str) -> str:
    return textwrap.dedent(f"""\
        [package]
        name = "{name}"
        version = "0.0.0"
        edition = "2021"
        publish = false

        [lib]
        path = "src/lib.rs"

        [dependencies]
        """) + deps + "\n[workspace]\n"


def count_lines(paths: list[str]) -> dict:
    lines = code = nbytes = 0
    items = 0
    for p in paths:
        with open(p, encoding="utf-8") as f:
            text = f.read()
        nbytes += len(text.encode())
        for line in text.splitlines():
            lines += 1
            s = line.strip()
            if s and not s.startswith("//"):
                code += 1
            if re.match(r"\s*(pub(\([^)]*\))? )?(struct|enum) ", line):
                items += 1
    return {"lines": lines, "code_lines": code, "bytes": nbytes, "types": items}


class Crate:
    """One generated crate: how it is (re)generated, its file, its target directory."""

    name: str
    dir: str
    target: str
    gen_seconds: float = 0.0

    def files(self) -> list[str]:
        raise NotImplementedError

    def regenerate_edited(self, on: bool) -> None:
        raise NotImplementedError

    def edited_file(self) -> str:
        raise NotImplementedError


class EventsmithCrate(Crate):
    def __init__(self, work: str, es: str, runtime: str, project: str, edit: str, target: str,
                 lockfile: str | None):
        self.name = "buildtime-eventsmith"
        self.dir = os.path.join(work, "eventsmith-crate")
        self.target = target
        self.es = es
        self.project = project
        self.edit = os.path.join(project, "schema", edit)
        self.out = os.path.join(self.dir, "src", "events")
        write(os.path.join(self.dir, "Cargo.toml"), cargo_toml(
            self.name, f'eventsmith = {{ path = "{runtime}", default-features = false }}\n'))
        if lockfile and not os.path.exists(os.path.join(self.dir, "Cargo.lock")):
            shutil.copy(lockfile, os.path.join(self.dir, "Cargo.lock"))
        write(os.path.join(self.dir, "src", "lib.rs"),
              "//! eventsmith's generated code, for the build-time probe.\n"
              "#[allow(warnings, clippy::all)]\npub mod events;\n")

    def generate(self) -> None:
        t0 = time.time()
        run([self.es, "--quiet", "generate", "--project", self.project, "--no-tests",
             "--out", self.out])
        self.gen_seconds = time.time() - t0

    def files(self) -> list[str]:
        return [os.path.join(self.out, "mod.rs")]

    def regenerate_edited(self, on: bool) -> None:
        set_edit(self.edit, on)
        self.generate()

    def edited_file(self) -> str:
        return os.path.join(self.out, "mod.rs")


class TypifyCrate(Crate):
    def __init__(self, work: str, typify: str, project: str, edit: str, target: str,
                 builder: bool):
        self.name = "buildtime-typify"
        self.dir = os.path.join(work, "typify-crate")
        self.target = target
        self.typify = typify
        self.builder = builder
        self.schema = os.path.join(project, "schema")
        self.bundles = os.path.join(work, "bundles")
        self.edit = edit
        self.docs = documents(project)
        self.modules: dict[str, str] = {}  # document -> module path (agg::name_v1)
        self.roots: dict[str, str] = {}  # document -> root type name
        write(os.path.join(self.dir, "Cargo.toml"), cargo_toml(self.name, TYPIFY_DEPS))
        shutil.rmtree(os.path.join(self.dir, "src"), ignore_errors=True)

    def module_of(self, doc: str) -> tuple[str, str]:
        """(group module, leaf module) of a document: events/retail_order/placed.v2.json is
        `retail_order::placed_v2`, commands/.../place_order.json `retail_order::cmd_place_order`,
        aggregates/retail_order.json `retail_order::state`, projections/x.json
        `projections::x`."""
        parts = doc[:-5].split("/")
        leaf = lambda s: re.sub(r"[^A-Za-z0-9_]", "_", s)
        if parts[0] == "events":
            return parts[1], leaf(parts[2])
        if parts[0] == "commands":
            return parts[1], "cmd_" + leaf(parts[2])
        if parts[0] == "aggregates":
            return parts[1], "state"
        return "projections", leaf(parts[1])

    def _typify_one(self, doc: str, bundler: Bundler) -> None:
        bundled = bundler.bundle(os.path.join(self.schema, doc))
        src = os.path.join(self.bundles, doc)
        write_json(src, bundled)
        group, leaf = self.module_of(doc)
        out = os.path.join(self.dir, "src", group, f"{leaf}.rs")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cmd = [self.typify, "typify", src, "--output", out]
        if not self.builder:
            cmd.append("--no-builder")
        run(cmd)
        with open(out, encoding="utf-8") as f:
            code = f.read()
        # The root type: typify names it after the root's title.
        title = bundled.get("title", "")
        want = pascal(re.sub(r"[^A-Za-z0-9_]", "_", title)) if title else ""
        names = re.findall(r"^pub (?:struct|enum) (\w+)", code, re.M)
        if want not in names:
            candidates = [n for n in names if n.lower() == want.lower()]
            if not candidates:
                sys.exit(f"build-time: no root type {want!r} in typify's output for {doc}")
            want = candidates[0]
        self.modules[doc] = f"{group}::{leaf}"
        self.roots[doc] = want

    def generate(self) -> None:
        t0 = time.time()
        bundler = Bundler(self.schema)
        for doc in self.docs:
            self._typify_one(doc, bundler)
        self.gen_seconds = time.time() - t0
        self._write_lib()

    def _write_lib(self) -> None:
        groups: dict[str, list[str]] = {}
        for doc in self.docs:
            g, leaf = self.module_of(doc)
            groups.setdefault(g, []).append(leaf)
        for g, leaves in groups.items():
            write(os.path.join(self.dir, "src", g, "mod.rs"),
                  "".join(f"pub mod {leaf};\n" for leaf in sorted(leaves)))
        lib = ["//! typify's generated code, one module per schema document, for the build-time",
               "//! probe; each module's root type gets a serde_json round trip, so its serde",
               "//! impls are compiled as eventsmith's decode and encode functions compile its.",
               ""]
        lib += [f"#[allow(warnings, clippy::all)]\npub mod {g};" for g in sorted(groups)]
        lib.append("")
        for doc in self.docs:
            m = self.modules[doc]
            fn = m.replace("::", "__")
            lib.append(f"pub fn {fn}(payload: &[u8]) -> Result<Vec<u8>, serde_json::Error> {{\n"
                       f"    let value: {m}::{self.roots[doc]} = serde_json::from_slice(payload)?;"
                       f"\n    serde_json::to_vec(&value)\n}}")
        write(os.path.join(self.dir, "src", "lib.rs"), "\n".join(lib) + "\n")

    def files(self) -> list[str]:
        out = []
        for root, _, files in os.walk(os.path.join(self.dir, "src")):
            out += [os.path.join(root, f) for f in files
                    if f.endswith(".rs") and not (root.endswith("src") and f == "lib.rs")
                    and f != "mod.rs"]
        return sorted(out)

    def harness_files(self) -> list[str]:
        out = [os.path.join(self.dir, "src", "lib.rs")]
        for root, _, files in os.walk(os.path.join(self.dir, "src")):
            out += [os.path.join(root, f) for f in files if f == "mod.rs"]
        return out

    def regenerate_edited(self, on: bool) -> None:
        path = os.path.join(self.schema, self.edit)
        set_edit(path, on)
        t0 = time.time()
        self._typify_one(self.edit, Bundler(self.schema))
        self.gen_seconds = time.time() - t0

    def edited_file(self) -> str:
        g, leaf = self.module_of(self.edit)
        return os.path.join(self.dir, "src", g, f"{leaf}.rs")


# --------------------------------------------------------------------------------------------
# Timing


class Timer:
    """Runs cargo in the crates and times it. Cargo runs only while the timer holds
    /tmp/cargo.lock (`with timer.lock():`), the flock(2) lock `flock /tmp/cargo.lock cmd` takes,
    so no other cargo build on the machine runs meanwhile; the script takes it once for the run
    (or per profile) rather than once per command, so that a busy machine's other builds do not
    slip in between every two of its commands (each costing a wait)."""

    def __init__(self):
        self.lock_wait = 0.0
        self.held = False

    @contextlib.contextmanager
    def lock(self):
        """Holds the lock (re-entrant: an inner `with` under an outer one does nothing)."""
        global HELD
        if self.held:
            yield
            return
        with open(LOCK, "a") as f:
            asked = time.time()
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            waited = time.time() - asked
            self.lock_wait += waited
            if waited > 1:
                log(f"  waited {waited:.0f} s for {LOCK}")
            self.held = HELD = True
            try:
                yield
            finally:
                self.held = HELD = False
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def cargo(self, crate: Crate, args: list[str]) -> tuple[float, str, float]:
        """Runs `cargo ARGS` in the crate, under the lock; returns the seconds it took, cargo's
        stderr and the 1-minute load average when it started."""
        assert self.held, "cargo runs only under /tmp/cargo.lock"
        env = dict(os.environ, CARGO_TARGET_DIR=crate.target)
        for var in ("RUSTFLAGS", "CARGO_INCREMENTAL", "CARGO_BUILD_RUSTFLAGS"):
            env.pop(var, None)
        cmd = ["cargo", *args, "--manifest-path", os.path.join(crate.dir, "Cargo.toml")]
        load = os.getloadavg()[0]
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.time() - t0
        if p.returncode != 0:
            sys.exit(f"build-time: cargo {' '.join(args)} failed in {crate.dir}:\n"
                     f"{p.stderr[-8000:]}")
        return seconds, p.stderr, load

    def build(self, crate: Crate, profile: str) -> tuple[float, float]:
        args = ["build"] + (["--release"] if profile == "release" else [])
        seconds, err, load = self.cargo(crate, args)
        if f"Compiling {crate.name}" not in err:
            sys.exit(f"build-time: cargo build did not compile {crate.name}:\n{err[-2000:]}")
        return seconds, load

    def clean(self, crate: Crate, profile: str) -> None:
        self.cargo(crate, ["clean", "-p", crate.name] +
                   (["--release"] if profile == "release" else []))


KINDS = ("full", "incremental", "touch")


def measure(crates: list[Crate], profiles: list[str], runs: dict[str, int],
            timer: Timer) -> tuple[dict, dict]:
    """Returns {crate: {profile: {kind: [seconds per run]}}} and the same with load averages.
    The lock is held for one profile at a time: its dependency builds, then its timed builds."""
    out: dict = {c.name: {p: {k: [] for k in KINDS} for p in profiles} for c in crates}
    loads: dict = {c.name: {p: {k: [] for k in KINDS} for p in profiles} for c in crates}
    state = {c.name: False for c in crates}

    def record(c: Crate, profile: str, kind: str, r: int, what: str) -> None:
        s, load = timer.build(c, profile)
        out[c.name][profile][kind].append(s)
        loads[c.name][profile][kind].append(load)
        log(f"{c.name}: {profile} {what}, run {r + 1}: {s:.1f} s (load {load:.2f})")

    for profile in profiles:
        flag = ["--release"] if profile == "release" else []
        n = runs[profile]
        for c in crates:
            if state[c.name]:
                c.regenerate_edited(False)
                state[c.name] = False
        with timer.lock():
            for c in crates:
                log(f"{c.name}: {profile} build of the dependencies (untimed)")
                s, _, _ = timer.cargo(c, ["build", *flag])
                log(f"  {s:.0f} s")
            for r in range(n):
                for c in crates:
                    timer.clean(c, profile)
                    record(c, profile, "full", r, "full build")
            for r in range(n):
                for c in crates:
                    state[c.name] = not state[c.name]
                    c.regenerate_edited(state[c.name])
                    record(c, profile, "incremental", r, "incremental build (property "
                           + ("added)" if state[c.name] else "removed)"))
            # Release builds are not incremental (cargo's default): a touch rebuilds the crate
            # as the edit did, so it is measured in debug only.
            if profile == "debug":
                for r in range(n):
                    for c in crates:
                        os.utime(c.edited_file())
                        record(c, profile, "touch", r, "build after a touch")
    for c in crates:
        if state[c.name]:
            c.regenerate_edited(False)
    return out, loads


# --------------------------------------------------------------------------------------------
# The report


def fmt(xs: list[float]) -> str:
    if not xs:
        return "-"
    best = min(xs)
    if len(xs) == 1:
        return f"{best:.1f} s"
    return f"{best:.1f} s (runs {', '.join(f'{x:.1f}' for x in xs)})"


def report(meta: dict, sizes: dict, times: dict, es: str, ty: str, profiles: list[str]) -> str:
    lines = ["# eventsmith vs typify 0.8: build time of the generated code", ""]
    for k, v in meta.items():
        lines.append(f"- {k}: {v}")
    lines += ["", "| | eventsmith | typify | typify / eventsmith |", "|---|---|---|---|"]
    for key, label in (("lines", "lines generated"), ("code_lines", "  of them code (no comments, "
                       "no blank lines)"), ("bytes", "bytes generated"),
                       ("types", "struct and enum items")):
        a, b = sizes[es][key], sizes[ty][key]
        lines.append(f"| {label} | {a:,} | {b:,} | {b / a:.2f}x |")
    lines.append(f"| generation (all documents) | {sizes[es]['gen_seconds']:.1f} s | "
                 f"{sizes[ty]['gen_seconds']:.1f} s | |")
    for profile in profiles:
        for kind, label in (("full", "full build"),
                            ("incremental", "incremental (one event edited)"),
                            ("touch", "rebuild after a touch")):
            a, b = times[es][profile][kind], times[ty][profile][kind]
            if not a or not b:
                continue
            ratio = min(b) / min(a)
            lines.append(f"| {profile} {label} | {min(a):.1f} s | {min(b):.1f} s | {ratio:.2f}x |")
    lines += ["", "Best of the runs; every run:", ""]
    for profile in profiles:
        for kind in KINDS:
            if not times[es][profile][kind] and not times[ty][profile][kind]:
                continue
            lines.append(f"- {profile} {kind}: eventsmith {fmt(times[es][profile][kind])}; "
                         f"typify {fmt(times[ty][profile][kind])}")
    return "\n".join(lines) + "\n"


def snapshot(rev: str) -> tuple[str, str]:
    """Exports commit REV to /tmp/eventsmith-probe-src/<sha> (the directory probe.py uses too)
    and builds its eventsmith binary there. Returns (binary, runtime crate)."""
    sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--verify", f"{rev}^{{commit}}"],
                         capture_output=True, text=True, check=True).stdout.strip()
    root = "/tmp/eventsmith-probe-src"
    src = os.path.join(root, sha[:12])
    if not os.path.isdir(src):
        log(f"git archive {sha[:12]} into {src}")
        tmp = src + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        archive = subprocess.Popen(["git", "-C", REPO, "archive", sha], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            sys.exit(f"build-time: git archive {sha} failed")
        os.rename(tmp, src)
    target = os.path.join(root, "target")
    log(f"cargo build --bin eventsmith in {src}")
    subprocess.run(locked(["cargo", "build", "--quiet", "--bin", "eventsmith"]), cwd=src,
                   env=dict(os.environ, CARGO_TARGET_DIR=target), check=True)
    return os.path.join(target, "debug", "eventsmith"), os.path.join(src, "runtime")


def find_typify(args) -> str:
    if args.typify:
        return os.path.abspath(args.typify)
    binary = os.path.join(args.typify_root, "bin", "cargo-typify")
    if not os.path.exists(binary):
        log(f"cargo install cargo-typify --version '{TYPIFY_VERSION}' --root {args.typify_root}")
        subprocess.run(locked(["cargo", "install", "--quiet", "cargo-typify", "--version",
                               TYPIFY_VERSION, "--root", args.typify_root]), check=True)
    return binary


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            Every cargo command runs under /tmp/cargo.lock (flock), one at a time; each build is
            timed inside the lock. The first run also builds the dependencies of both
            crates in both profiles (untimed, several minutes); a run with the defaults takes
            about half an hour on 2 cores."""))
    ap.add_argument("--eventsmith", help="the eventsmith binary (default: <repo>/target/debug/"
                    "eventsmith, built with `cargo build --bin eventsmith` if missing)")
    ap.add_argument("--runtime", help="the runtime crate the eventsmith crate depends on "
                    "(default: <repo>/runtime; it must match the binary)")
    ap.add_argument("--rev", help="measure a commit instead of the work tree: `git archive REV` "
                    "into /tmp/eventsmith-probe-src/<sha>, whose eventsmith and runtime are used")
    ap.add_argument("--copies", type=int, default=3,
                    help="copies of tests/codegen/realworld (66 event versions each; default 3)")
    ap.add_argument("--runs", type=int, default=2, help="runs of each debug build (default 2; "
                    "the best is reported)")
    ap.add_argument("--release-runs", type=int, default=1,
                    help="runs of each release build (default 1)")
    ap.add_argument("--profiles", default="debug,release",
                    help="debug, release or both (default), comma-separated")
    ap.add_argument("--typify", help="a cargo-typify 0.8 binary (default: <typify-root>/bin/"
                    "cargo-typify, installed with `cargo install` if missing)")
    ap.add_argument("--typify-root", default="/tmp/typify-bin",
                    help="where cargo-typify is installed (default /tmp/typify-bin)")
    ap.add_argument("--no-builder", action="store_true",
                    help="typify without its builder types (`cargo typify --no-builder`); "
                    "by default typify's defaults, builders included")
    ap.add_argument("--work", default="/tmp/eventsmith-build-time",
                    help="the work directory: project, bundles, both crates (default "
                    "/tmp/eventsmith-build-time); kept")
    ap.add_argument("--target-root", default="/tmp/eventsmith-build-time-target",
                    help="the CARGO_TARGET_DIRs go in <this>-eventsmith and <this>-typify")
    ap.add_argument("--lock-per-profile", action="store_true",
                    help="take /tmp/cargo.lock once per profile (and for each untimed build) "
                    "instead of once for the whole run")
    ap.add_argument("--report", default="/tmp/build-time-report.md",
                    help="the report (default /tmp/build-time-report.md); REPORT.json gets the "
                    "figures")
    args = ap.parse_args()
    started = time.time()
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    for p in profiles:
        if p not in ("debug", "release"):
            ap.error(f"unknown profile {p!r}")
    if args.copies < 1 or args.runs < 1 or args.release_runs < 1:
        ap.error("--copies, --runs and --release-runs must be at least 1")

    timer = Timer()
    # One lock for the whole run by default (the builds of a profile must not be split by
    # other builds anyway); --lock-per-profile takes it per profile instead.
    with (contextlib.nullcontext() if args.lock_per_profile else timer.lock()):
        if args.rev:
            if args.eventsmith or args.runtime:
                ap.error("--rev builds its own eventsmith and runtime: leave out "
                         "--eventsmith/--runtime")
            args.eventsmith, args.runtime = snapshot(args.rev)
        es = args.eventsmith or os.path.join(REPO, "target", "debug", "eventsmith")
        if not args.eventsmith and not os.path.exists(es):
            log(f"building eventsmith in {REPO}")
            subprocess.run(locked(["cargo", "build", "--bin", "eventsmith"]), cwd=REPO, check=True)
        es = os.path.abspath(es)
        source = (f"commit {os.path.basename(os.path.dirname(args.runtime))}" if args.rev else
                  "the work tree" if not (args.eventsmith or args.runtime) else "a given build")
        runtime = os.path.abspath(args.runtime or os.path.join(REPO, "runtime"))
        if not os.path.isfile(os.path.join(runtime, "Cargo.toml")):
            ap.error(f"{runtime} has no Cargo.toml")
        typify = find_typify(args)
        es_version = run([es, "--version"]).stdout.strip()
        ty_version = run([typify, "typify", "--version"]).stdout.strip()
        lockfile = os.path.join(os.path.dirname(runtime), "Cargo.lock")

        work = os.path.abspath(args.work)
        os.makedirs(work, exist_ok=True)
        project = os.path.join(work, "project")
        counts = replicate(REALWORLD, project, args.copies)
        log(f"contract set: {args.copies} copies of tests/codegen/realworld: "
            f"{counts['aggregates']} "
            f"aggregates, {counts['events']} events ({counts['versions']} versions), "
            f"{counts['commands']} commands, {counts['projections']} projections")
        v = run([es, "--quiet", "validate", "--project", project], check=False)
        if v.returncode != 0:
            sys.exit(f"build-time: the contract set does not validate:\n{v.stdout[-4000:]}"
                     f"{v.stderr[-4000:]}")
        edit = edit_target(project, args.copies)

        es_crate = EventsmithCrate(work, es, runtime, project, edit,
                                   args.target_root + "-eventsmith",
                                   lockfile if os.path.isfile(lockfile) else None)
        ty_crate = TypifyCrate(work, typify, project, edit, args.target_root + "-typify",
                               not args.no_builder)
        log("eventsmith generate")
        es_crate.generate()
        log(f"typify: bundling and generating {len(ty_crate.docs)} documents")
        ty_crate.generate()
        sizes = {c.name: dict(count_lines(c.files()), gen_seconds=c.gen_seconds)
                 for c in (es_crate, ty_crate)}
        harness = count_lines(ty_crate.harness_files())
        for c in (es_crate, ty_crate):
            log(f"{c.name}: {sizes[c.name]['lines']:,} lines in {len(c.files())} files "
                f"(generated in {c.gen_seconds:.1f} s)")

        times: dict = {}
        loads: dict = {}
        done: list[str] = []
        for profile in profiles:  # the report is written after each profile
            t, l = measure([es_crate, ty_crate], [profile],
                           {"debug": args.runs, "release": args.release_runs}, timer)
            for name in t:
                times.setdefault(name, {}).update(t[name])
                loads.setdefault(name, {}).update(l[name])
            done.append(profile)
            meta = {
                "contract set": f"{args.copies} copies of tests/codegen/realworld: "
                                f"{counts['aggregates']} aggregates, {counts['events']} events "
                                f"({counts['versions']} versions), {counts['commands']} commands, "
                                f"{counts['projections']} projections, 9 shared type files",
                "eventsmith": f"{es_version} of {source} ({es}); runtime {runtime}; "
                              "`generate --no-tests`, one mod.rs",
                "typify": f"{ty_version} ({typify}), {'without' if args.no_builder else 'with'} "
                          f"builders; {len(ty_crate.docs)} bundled documents, one module each; "
                          f"harness (lib.rs, mod.rs files, not counted above) {harness['lines']} "
                          "lines",
                "incremental edit": f"optional property `{EDIT_PROPERTY}` added to / removed from "
                                    f"`{edit}`, then regenerated",
                "runs": f"debug {args.runs}, release {args.release_runs}; profiles measured: "
                        f"{', '.join(done)}",
                "machine": f"{os.cpu_count()} cores; {run(['rustc', '--version']).stdout.strip()}",
                "time": f"{time.time() - started:.0f} s in all, {timer.lock_wait:.0f} s of it "
                        f"waiting for {LOCK}",
                "work directory": f"{work}; target directories "
                                  f"{args.target_root}-{{eventsmith,typify}}",
            }
            text = report(meta, sizes, times, es_crate.name, ty_crate.name, done)
            write(args.report, text)
            with open(args.report + ".json", "w", encoding="utf-8") as f:
                json.dump({"meta": meta, "counts": counts, "sizes": sizes, "harness": harness,
                           "seconds": times, "load_average_at_start": loads}, f, indent=1)
            log(f"{profile} done; report: {args.report}")
    print(text)
    print(f"report: {args.report} (figures as JSON: {args.report}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
