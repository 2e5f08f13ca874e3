#!/usr/bin/env python3
"""Probe: how well do eventsmith's generated decoders agree with JSON Schema validity?

Every test group of the JSON-Schema-Test-Suite (draft-07 and 2020-12, as vendored in the sdist
of PyPI's `jsonschema`) and every SchemaStore schema vendored by PyPI's `check-jsonschema` that
comes with example documents becomes one event of a schema project: the group's schema sits in
`schema/types/<group>.json` and the event `schema/events/<group>/probe.v1.json` is

    {"type": "object", "properties": {"value": {"$ref": "../../types/<group>.json"}},
     "required": ["value"], "additionalProperties": false}

Each test instance `i` becomes the payload `{"value": i}`. The projects are generated with the
eventsmith CLI into one harness crate, which decodes every payload with the generated
`decode_probe`, re-encodes the decoded value and compares it with the payload. Groups the loader
rejects or whose code does not compile are isolated and counted apart.

See tests/probe/README.md. Python 3.11, standard library only (PyYAML and python-jsonschema,
for the real-world documents, are installed with pip into the cache directory).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import urllib.parse
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

JSONSCHEMA_VERSION = "4.23.0"
CHECK_JSONSCHEMA_VERSION = "0.39.0"

SUITES = {
    # suite name -> (directory in the test suite, eventsmith draft name, $schema URI)
    "draft7": ("draft7", "draft-07", "http://json-schema.org/draft-07/schema#"),
    "draft2020-12": ("draft2020-12", "2020-12", "https://json-schema.org/draft/2020-12/schema"),
}
REALWORLD = "realworld"

META_SCHEMA_URIS = {
    "http://json-schema.org/draft-07/schema",
    "https://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-04/schema",
    "http://json-schema.org/draft-06/schema",
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
}

# Outcomes the harness reports for one payload.
ACCEPT_EXACT = "ACCEPT_EXACT"  # decoded; re-encoded value == payload, same key order
ACCEPT_ORDER = "ACCEPT_ORDER"  # decoded; re-encoded value == payload, other key order
ACCEPT_DIFF = "ACCEPT_DIFF"  # decoded; re-encoded value != payload
ENCODE_ERR = "ENCODE_ERR"  # decoded; serde_json::to_vec failed
REJECT = "REJECT"  # decode_probe returned an error
PANIC = "PANIC"  # decode or encode panicked
CRASH = "CRASH"  # the harness process died on this payload (stack overflow, abort)
TIMEOUT = "TIMEOUT"  # no answer within --case-timeout seconds

ACCEPTED = {ACCEPT_EXACT, ACCEPT_ORDER, ACCEPT_DIFF, ENCODE_ERR}


def log(msg: str) -> None:
    print(f"[probe {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Material from the package registries


def cache_dir(args) -> str:
    if args.cache:
        d = args.cache
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "eventsmith-probe")
    os.makedirs(d, exist_ok=True)
    return d


def fetch_sdist(cache: str, package: str, version: str) -> str:
    """Downloads PyPI's sdist of package==version into the cache (once) and unpacks it.

    Returns the unpacked directory."""
    dist = package.replace("-", "_")
    unpacked = os.path.join(cache, f"{dist}-{version}")
    if os.path.isdir(unpacked):
        return unpacked
    tarballs = glob.glob(os.path.join(cache, f"{dist}-{version}.tar.gz"))
    if not tarballs:
        log(f"pip download {package}=={version} (sdist) into {cache}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--quiet", "-d", cache, f"{package}=={version}"],
            check=True,
        )
        tarballs = glob.glob(os.path.join(cache, f"{dist}-{version}.tar.gz"))
        if not tarballs:
            sys.exit(f"probe: pip did not leave {dist}-{version}.tar.gz in {cache}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(cache, filter="data")
    if not os.path.isdir(unpacked):
        sys.exit(f"probe: {tarballs[0]} did not unpack to {unpacked}")
    return unpacked


def yaml_module(cache: str):
    """PyYAML, imported from the environment or installed with pip into the cache."""
    lib = os.path.join(cache, "pylib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    try:
        import yaml  # noqa: PLC0415

        return yaml
    except ImportError:
        pass
    log(f"pip install pyyaml into {lib}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", lib, "pyyaml"],
                   check=True)
    import yaml  # noqa: PLC0415

    return yaml


def yaml_loader(yaml):
    """A safe loader closer to YAML 1.2 (what check-jsonschema's ruamel.yaml reads): `on`,
    `yes`, `no` stay strings and timestamps stay strings."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers
                if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"))

    def untagged(loader, suffix, node):  # GitLab's `!reference [...]` and the like: the plain node
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    return Loader


def reference_validator(cache: str, version: str):
    """PyPI's `jsonschema` (the library, same version as the test suite's sdist), imported from
    the cache directory, where pip installs it on first use; None when that fails."""
    lib = os.path.join(cache, "pylib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    marker = os.path.join(lib, f"jsonschema-{version}.dist-info")
    if not os.path.isdir(marker):
        log(f"pip install jsonschema=={version} into {lib}")
        p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", lib,
                            f"jsonschema=={version}"], capture_output=True, text=True)
        if p.returncode != 0 or not os.path.isdir(marker):
            log(f"could not install jsonschema: {p.stderr.strip()[-300:]}")
            return None
    try:
        import jsonschema  # noqa: PLC0415
    except ImportError:
        return None
    if getattr(jsonschema, "__file__", "").startswith(lib):
        return jsonschema
    return None


# --------------------------------------------------------------------------------------------
# Test groups


@dataclasses.dataclass
class Case:
    desc: str
    data: Any
    valid: bool
    outcome: str = ""
    detail: str = ""


@dataclasses.dataclass
class Group:
    gid: int
    suite: str
    file: str  # test file stem (realworld: the vendored schema's name)
    desc: str
    schema: Any
    draft: str  # eventsmith draft name
    schema_uri: str
    cases: list[Case]
    status: str = "pending"  # skipped | rejected-validate | rejected-generate | rejected-compile | tested
    reason: str = ""
    kind: str = ""  # the reason's category: a rule id, a compiler message, "remote $ref"
    ids: set[str] = dataclasses.field(default_factory=set)
    warnings: list[str] = dataclasses.field(default_factory=list)
    batch: str = ""

    @property
    def name(self) -> str:
        return f"g{self.gid:04d}"


SUBSCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
SUBSCHEMA_ONE = {"additionalProperties", "additionalItems", "contains", "propertyNames", "if",
                 "then", "else", "not", "unevaluatedItems", "unevaluatedProperties",
                 "contentSchema", "items"}
SUBSCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems", "items"}
DATA_KEYWORDS = {"const", "enum", "examples", "default", "required", "type"}


def _defrag(uri: str) -> str:
    return urllib.parse.urldefrag(uri)[0]


def _join(base: str, ref: str) -> str:
    if ref.startswith("#"):
        return _defrag(base) + ref
    if base.startswith("urn:") and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", ref):
        return ref  # a relative reference against a URN: unresolvable, treated as remote
    return urllib.parse.urljoin(base, ref)


def scan_refs(schema: Any, draft: str) -> tuple[set[str], list[str]]:
    """The resources (`$id`s, defragmented) a schema declares and the `$ref`s it makes, resolved
    against their base URIs. Keyword-aware, so a property named `$ref` is not a reference."""
    root = "https://probe.invalid/root.json"
    ids = {root}
    refs: list[str] = []

    def walk(node: Any, base: str) -> None:
        if not isinstance(node, dict):
            return
        ident = node.get("$id")
        if isinstance(ident, str) and not (draft == "draft-07" and "$ref" in node):
            if not ident.startswith("#"):
                base = _defrag(_join(base, ident))
                ids.add(base)
        for key in ("$ref", "$dynamicRef", "$recursiveRef"):
            if isinstance(node.get(key), str):
                refs.append(_join(base, node[key]))
        for key, value in node.items():
            if key in DATA_KEYWORDS or key.startswith("$") and key not in ("$defs",):
                continue
            if key in SUBSCHEMA_MAPS and isinstance(value, dict):
                for sub in value.values():
                    walk(sub, base)
            elif key == "dependencies" and isinstance(value, dict):
                for sub in value.values():
                    walk(sub, base)
            elif key in SUBSCHEMA_LISTS and isinstance(value, list):
                for sub in value:
                    walk(sub, base)
            elif key in SUBSCHEMA_ONE or isinstance(value, dict):
                # unknown keywords holding objects are walked too: `$id`s there still count
                walk(value, base)

    walk(schema, root)
    return ids, refs


def remote_refs(schema: Any, draft: str) -> list[str]:
    """`$ref`s to resources the schema does not declare, other than a draft's meta-schema."""
    ids, refs = scan_refs(schema, draft)
    out = []
    for ref in refs:
        target = _defrag(ref).rstrip("#")
        if target in ids or target.rstrip("/") in META_SCHEMA_URIS or target in META_SCHEMA_URIS:
            continue
        out.append(ref)
    return out


def load_suite(suite_root: str, suite: str, start_gid: int) -> list[Group]:
    sub, draft, uri = SUITES[suite]
    directory = os.path.join(suite_root, "json", "tests", sub)
    files = sorted(glob.glob(os.path.join(directory, "*.json")))
    if not files:
        sys.exit(f"probe: no test files in {directory}: the sdist's layout changed")
    groups = []
    gid = start_gid
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for entry in data:
            cases = [Case(t["description"], t["data"], bool(t["valid"])) for t in entry["tests"]]
            g = Group(gid, suite, stem, entry["description"], entry["schema"], draft, uri, cases)
            gid += 1
            if isinstance(g.schema, dict):
                remote = remote_refs(g.schema, draft)
                if remote:
                    g.status = "skipped"
                    g.reason = f"remote $ref {remote[0]}"
                    g.kind = "remote $ref"
                g.ids = {i for i in scan_refs(g.schema, draft)[0] if not i.startswith("https://probe.invalid/")}
            groups.append(g)
    return groups


def load_realworld(check_root: str, cache: str, start_gid: int,
                   js_version: str = JSONSCHEMA_VERSION) -> tuple[list[Group], list[str]]:
    """Vendored SchemaStore schemas of check-jsonschema with their example documents."""
    vendor = os.path.join(check_root, "src", "check_jsonschema", "builtin_schemas", "vendor")
    examples = os.path.join(check_root, "tests", "example-files", "hooks")
    notes = []
    if not os.path.isdir(vendor) or not os.path.isdir(examples):
        sys.exit(f"probe: {check_root} lacks builtin_schemas/vendor or tests/example-files/hooks")
    yaml = None
    groups = []
    gid = start_gid
    for name in sorted(set(os.listdir(os.path.join(examples, "positive")))
                       | set(os.listdir(os.path.join(examples, "negative")))):
        schema_path = os.path.join(vendor, f"{name}.json")
        if not os.path.isfile(schema_path):
            notes.append(f"{name}: examples without a vendored schema (check-jsonschema's own), left out")
            continue
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        cases = []
        for polarity in ("positive", "negative"):
            d = os.path.join(examples, polarity, name)
            if not os.path.isdir(d):
                continue
            for doc in sorted(os.listdir(d)):
                path = os.path.join(d, doc)
                ext = os.path.splitext(doc)[1].lower()
                if doc.startswith("_"):
                    continue  # _config.yaml: check-jsonschema's test settings
                try:
                    if ext == ".json":
                        with open(path, encoding="utf-8") as f:
                            data = json.load(f)
                    elif ext in (".yaml", ".yml", ".cff"):
                        if yaml is None:
                            yaml = yaml_module(cache)
                            loader = yaml_loader(yaml)
                        with open(path, encoding="utf-8") as f:
                            data = yaml.load(f, Loader=loader)
                        data = json.loads(json.dumps(data))  # JSON-representable, or skipped
                    else:
                        notes.append(f"{name}/{polarity}/{doc}: {ext} documents not read, left out")
                        continue
                except Exception as e:  # noqa: BLE001
                    notes.append(f"{name}/{polarity}/{doc}: not read as JSON ({e}), left out")
                    continue
                cases.append(Case(f"{polarity}/{doc}", data, polarity == "positive"))
        if not cases:
            continue
        uri = schema.get("$schema") if isinstance(schema.get("$schema"), str) else None
        draft = "draft-07" if uri and "draft-07" in uri else "draft-04" if uri and "draft-04" in uri \
            else "2020-12"
        g = Group(gid, REALWORLD, name, f"SchemaStore {name}.json", schema, draft,
                  uri or SUITES["draft2020-12"][2], cases)
        gid += 1
        remote = remote_refs(schema, draft)
        if remote:
            # still tried: the loader says whether it can do without
            notes.append(f"{name}: references a resource it does not declare ({remote[0]})")
        g.ids = {i for i in scan_refs(schema, draft)[0] if not i.startswith("https://probe.invalid/")}
        groups.append(g)
    confirm_verdicts(groups, cache, notes, js_version)
    return groups, notes


def confirm_verdicts(groups: list[Group], cache: str, notes: list[str], js_version: str) -> None:
    """Takes the verdict of python-jsonschema on the parsed documents (formats not asserted)
    rather than check-jsonschema's positive/negative folders, which also hold documents it
    pre-processes (Azure Pipelines' template expressions) or checks with extra options."""
    js = reference_validator(cache, js_version)
    if js is None:
        notes.append("python-jsonschema unavailable: the folders' positive/negative labels are used")
        return
    notes.append(f"verdicts of python-jsonschema {js_version} (formats not asserted) "
                 "replace the folders' labels where they differ")
    for g in groups:
        try:
            cls = js.validators.validator_for(g.schema, default=js.Draft202012Validator)
            validator = cls(g.schema)
            for c in g.cases:
                verdict = validator.is_valid(c.data)
                if verdict != c.valid:
                    first = next(iter(validator.iter_errors(c.data)), None)
                    why = f": {first.message[:120]}" if first is not None else ""
                    notes.append(f"{g.file}/{c.desc}: labelled {'valid' if c.valid else 'invalid'},"
                                 f" python-jsonschema says {'valid' if verdict else 'invalid'}{why}")
                    c.valid = verdict
        except Exception as e:  # noqa: BLE001
            notes.append(f"{g.file}: python-jsonschema could not check its documents "
                         f"({type(e).__name__}: {str(e)[:120]}); labels kept")


# --------------------------------------------------------------------------------------------
# Schema projects


def batch_groups(groups: list[Group], batch_size: int) -> dict[str, list[Group]]:
    """Splits groups into projects: one suite per project, at most batch_size groups, and no two
    groups declaring the same `$id` in one project (that would be a duplicate-id error)."""
    batches: dict[str, list[Group]] = {}
    by_suite = collections.defaultdict(list)
    for g in groups:
        by_suite[g.suite].append(g)
    for suite, members in by_suite.items():
        slots: list[tuple[list[Group], set[str]]] = []
        for g in members:
            for slot, ids in slots:
                if len(slot) < batch_size and not (ids & g.ids):
                    slot.append(g)
                    ids |= g.ids
                    break
            else:
                slots.append(([g], set(g.ids)))
        for i, (slot, _) in enumerate(slots):
            name = f"b_{re.sub(r'[^a-z0-9]', '', suite.lower())}_{i}"
            for g in slot:
                g.batch = name
            batches[name] = slot
    return batches


def write_project(directory: str, name: str, groups: list[Group]) -> None:
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    schema = os.path.join(directory, "schema")
    for sub in ("aggregates", "types", "events"):
        os.makedirs(os.path.join(schema, sub))
    default_draft = groups[0].draft if groups else "2020-12"
    if groups and groups[0].suite == REALWORLD:
        default_draft = "2020-12"
    with open(os.path.join(directory, "eventsmith.toml"), "w") as f:
        f.write(f'[project]\nname = "{name}"\n\n[schema]\ndraft = "{default_draft}"\n')
    for g in groups:
        agg = {"$schema": g.schema_uri, "description": f"Probe group {g.name}.", "type": "object"}
        write_json(os.path.join(schema, "aggregates", f"{g.name}.json"), agg)
        if isinstance(g.schema, dict):
            body = dict(g.schema)
            if "$schema" not in body:
                body = {"$schema": g.schema_uri, **body}
            write_json(os.path.join(schema, "types", f"{g.name}.json"), body)
            value: Any = {"$ref": f"../../types/{g.name}.json"}
        else:
            value = g.schema  # a boolean schema cannot be a file of its own (schema-root)
        event = {
            "$schema": g.schema_uri,
            "description": f"{g.suite} {g.file}: {g.desc}"[:300],
            "type": "object",
            "properties": {"value": value},
            "required": ["value"],
            "additionalProperties": False,
        }
        os.makedirs(os.path.join(schema, "events", g.name))
        write_json(os.path.join(schema, "events", g.name, "probe.v1.json"), event)


def write_json(path: str, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


GROUP_IN_PATH = re.compile(r"schema/(?:types|aggregates|events)/(g\d{4})\b")


def group_of_path(path: str | None, groups: dict[str, Group]) -> Group | None:
    if not path:
        return None
    m = GROUP_IN_PATH.search(path.replace("\\", "/"))
    return groups.get(m.group(1)) if m else None


def run(cmd: list[str], cwd: str | None = None, env: dict | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# Errors of `validate` that `generate` does not stop at (docs/codegen.md: "A project with errors
# (what `eventsmith validate` reports, except examples, which the generated tests check)").
GENERATE_IGNORES = {"invalid-example"}


def validate_batch(es: str, directory: str, groups: list[Group]) -> list[Group]:
    """Runs `eventsmith validate` until the project has no errors, marking the groups whose
    files have errors. Returns the groups still in."""
    by_name = {g.name: g for g in groups}
    active = list(groups)
    for _ in range(5):
        write_project(directory, os.path.basename(directory), active)
        p = run([es, "validate", "--format", "json", "--color", "never"], cwd=directory)
        if p.returncode not in (0, 1):
            raise RuntimeError(f"eventsmith validate exited {p.returncode}: {p.stderr[-2000:]}")
        report = json.loads(p.stdout)
        bad: dict[str, tuple[str, str]] = {}
        for d in report["diagnostics"]:
            g = group_of_path(d.get("file"), by_name)
            if d["code"] in GENERATE_IGNORES and g is not None:
                # `generate` goes on past these (examples are the generated tests' business)
                g.warnings.append(f"{d['code']} (an error for validate): {d['message']}")
                continue
            if d["severity"] != "error":
                if g is not None and d["severity"] == "warning":
                    g.warnings.append(f"{d['code']}: {d['message']}")
                continue
            if g is None:
                raise RuntimeError(f"validate error outside any group: {d}")
            if g.name not in bad:
                where = f"{d.get('file')}:{d.get('line')}" if d.get("line") else d.get("file")
                bad[g.name] = (d["code"], f"{d['code']}: {d['message']} ({where})")
        if not bad:
            return active
        for name, (kind, reason) in bad.items():
            by_name[name].status = "rejected-validate"
            by_name[name].reason = reason
            by_name[name].kind = kind
        active = [g for g in active if g.name not in bad]
    raise RuntimeError(f"{directory}: validate still reports errors after 5 rounds")


FINDING = re.compile(r"^(error|warning)\[([\w-]+)\]: (.*)$")
LOCATION = re.compile(r"┌─ (\S+?):(\d+):(\d+)")


def generate_batch(es: str, directory: str, out: str, groups: list[Group]) -> tuple[bool, str]:
    """Writes the project and runs `eventsmith generate --out OUT --no-tests`. Returns whether
    it succeeded and its output; attributes warnings to groups."""
    write_project(directory, os.path.basename(directory), groups)
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, "mod.rs")
    if os.path.exists(target):
        os.remove(target)
    p = run([es, "generate", "--out", out, "--no-tests", "--color", "never"], cwd=directory,
            timeout=600)
    text = p.stdout + p.stderr
    by_name = {g.name: g for g in groups}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = FINDING.match(line.strip())
        if not m or m.group(1) != "warning":
            continue
        for follow in lines[i + 1:i + 4]:
            loc = LOCATION.search(follow)
            if loc:
                g = group_of_path(loc.group(1), by_name)
                if g is not None:
                    g.warnings.append(f"{m.group(2)}: {m.group(3)}")
                break
    return p.returncode == 0 and os.path.exists(target), text


def generation_errors(text: str, groups: list[Group]) -> dict[str, str]:
    by_name = {g.name: g for g in groups}
    lines = text.splitlines()
    bad: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = FINDING.match(line.strip())
        if not m or m.group(1) != "error":
            continue
        for follow in lines[i + 1:i + 4]:
            loc = LOCATION.search(follow)
            if loc:
                g = group_of_path(loc.group(1), by_name)
                if g is not None and g.name not in bad:
                    bad[g.name] = f"{m.group(2)}: {m.group(3)}"
                break
    return bad


def first_line(text: str, limit: int = 300) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("Compiling") and not line.startswith("Finished"):
            return line[:limit]
    return text.strip()[:limit]


# --------------------------------------------------------------------------------------------
# The harness crate

CARGO_TOML = """\
[package]
name = "eventsmith-probe-harness"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
eventsmith = {{ path = "{runtime}", default-features = false }}

[profile.dev]
debug = false
incremental = true

[profile.dev.package."*"]
opt-level = 1
debug = false

[workspace]
"""

MAIN_RS = r"""// The probe's harness: written by tests/probe/probe.py.
#![allow(warnings)]
#![recursion_limit = "512"]

use eventsmith::serde_json::{self, Value};
use std::io::{BufRead, Write};

{mods}

enum Outcome {
    Accepted(Vec<u8>),
    Rejected(String),
    EncodeError(String),
}

fn outcome<T: eventsmith::serde::Serialize>(
    decoded: Result<T, eventsmith::DecodeError>,
) -> Outcome {
    match decoded {
        Err(e) => Outcome::Rejected(e.to_string()),
        Ok(v) => match serde_json::to_vec(&v) {
            Ok(bytes) => Outcome::Accepted(bytes),
            Err(e) => Outcome::EncodeError(e.to_string()),
        },
    }
}

fn dispatch(key: u32, payload: &[u8]) -> Option<Outcome> {
    Some(match key {
{arms}
        _ => return None,
    })
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn judge(key: u32, payload: &[u8]) -> (&'static str, String) {
    let result = std::panic::catch_unwind(|| dispatch(key, payload));
    match result {
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            ("PANIC", msg)
        }
        Ok(None) => ("PANIC", format!("no decoder for key {key}")),
        Ok(Some(Outcome::Rejected(e))) => ("REJECT", e),
        Ok(Some(Outcome::EncodeError(e))) => ("ENCODE_ERR", e),
        Ok(Some(Outcome::Accepted(bytes))) => {
            let original: Value = serde_json::from_slice(payload).expect("payload is JSON");
            let encoded = String::from_utf8_lossy(&bytes).into_owned();
            match serde_json::from_slice::<Value>(&bytes) {
                Err(e) => ("ACCEPT_DIFF", format!("re-encoded is not JSON ({e}): {encoded}")),
                // Value's == tells 1 from 1.0 (serde_json::Number keeps the kind); with
                // preserve_order, maps compare without order, so the order is compared on the
                // canonical text of both.
                Ok(again) if again == original => {
                    if serde_json::to_string(&again).unwrap()
                        == serde_json::to_string(&original).unwrap()
                    {
                        ("ACCEPT_EXACT", String::new())
                    } else {
                        ("ACCEPT_ORDER", encoded)
                    }
                }
                Ok(_) => ("ACCEPT_DIFF", encoded),
            }
        }
    }
}

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--order-check") {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        println!("{}", serde_json::to_string(&v).unwrap() == r#"{"b":1,"a":2}"#);
        return;
    }
    let cases = args.get(1).expect("usage: harness CASES [FROM]").clone();
    let from: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(0);
    let child = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let file = std::io::BufReader::new(std::fs::File::open(&cases).unwrap());
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for (index, line) in file.lines().enumerate() {
                if index < from {
                    continue;
                }
                let line = line.unwrap();
                let (key, payload) = line.split_once('\t').unwrap();
                let key: u32 = key.parse().unwrap();
                writeln!(out, "{index}\tSTART").unwrap();
                out.flush().unwrap();
                let (status, detail) = judge(key, payload.as_bytes());
                writeln!(out, "{index}\t{status}\t{}", quote(&detail)).unwrap();
                out.flush().unwrap();
            }
        })
        .unwrap();
    child.join().unwrap();
}
"""


def write_harness(harness: str, runtime: str, lockfile: str | None,
                  batches: dict[str, list[Group]]) -> None:
    os.makedirs(os.path.join(harness, "src"), exist_ok=True)
    with open(os.path.join(harness, "Cargo.toml"), "w") as f:
        f.write(CARGO_TOML.format(runtime=runtime))
    if lockfile and os.path.isfile(lockfile) and not os.path.isfile(
            os.path.join(harness, "Cargo.lock")):
        shutil.copy(lockfile, os.path.join(harness, "Cargo.lock"))
    mods = []
    arms = []
    for batch, groups in sorted(batches.items()):
        if not groups:
            continue
        mods.append(f"#[allow(warnings, clippy::all)]\nmod {batch};")
        for g in groups:
            arms.append(f"        {g.gid} => outcome({batch}::{g.name}::decode_probe(1, payload)),")
    src = MAIN_RS.replace("{mods}", "\n".join(mods)).replace("{arms}", "\n".join(arms))
    path = os.path.join(harness, "src", "main.rs")
    old = open(path).read() if os.path.exists(path) else None
    if old != src:
        with open(path, "w") as f:
            f.write(src)
    # drop generated modules of batches no longer in
    for d in glob.glob(os.path.join(harness, "src", "b_*")):
        if os.path.basename(d) not in batches or not batches[os.path.basename(d)]:
            shutil.rmtree(d)


def locked(cmd: list[str]) -> list[str]:
    """Serialises cargo runs on this machine: `flock /tmp/cargo.lock cmd` when flock exists."""
    if shutil.which("flock"):
        return ["flock", "/tmp/cargo.lock", *cmd]
    return cmd


def cargo_build(harness: str, target_dir: str) -> tuple[bool, list[dict], float]:
    """Builds the harness. Returns success, the compiler's errors and the seconds spent waiting
    for the machine's cargo lock."""
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    cmd = ["cargo", "build", "--quiet", "--message-format=json",
           "--manifest-path", os.path.join(harness, "Cargo.toml")]
    stamp = os.path.join(harness, ".lock-acquired")
    if shutil.which("flock"):
        # the time the lock was taken, to tell waiting from building
        cmd = ["flock", "/tmp/cargo.lock", "sh", "-c", 'date +%s.%N > "$0"; exec "$@"', stamp,
               *cmd]
    if os.path.exists(stamp):
        os.remove(stamp)
    asked = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    waited = 0.0
    try:
        with open(stamp) as f:
            waited = max(0.0, float(f.read().strip()) - asked)
    except (OSError, ValueError):
        pass
    messages = []
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-message" and msg["message"].get("level") == "error":
            messages.append(msg["message"])
    if p.returncode != 0 and not messages:
        messages.append({"message": p.stderr.strip()[-2000:] or "cargo build failed",
                         "spans": [], "rendered": p.stderr[-2000:]})
    return p.returncode == 0, messages, waited


def compiler_error(msg: dict) -> str:
    """One line for a compiler error: its message, the primary span's label and source line."""
    text = msg.get("message", "")
    for span in msg.get("spans", []):
        if not span.get("is_primary"):
            continue
        if span.get("label"):
            text += f" ({span['label']})"
        source = " ".join(t["text"].strip() for t in span.get("text", [])[:1])
        if source:
            text += f" at {os.path.basename(os.path.dirname(span['file_name']))}/"\
                    f"{os.path.basename(span['file_name'])}:{span['line_start']}: `{source[:160]}`"
        break
    return text[:400]


TOP_MOD = re.compile(r"^pub mod (\w+) \{")


def module_ranges(path: str) -> list[tuple[int, str]]:
    """(first line, module name) of every top-level `pub mod` of a generated mod.rs."""
    out = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            m = TOP_MOD.match(line)
            if m:
                out.append((no, m.group(1)))
            elif line.startswith("}") or (line and not line[0].isspace() and out and
                                         not line.startswith(("//", "#", "pub mod"))):
                out.append((no, ""))  # a top-level item: outside any module
    return out


def attribute_errors(harness: str, messages: list[dict],
                     batches: dict[str, list[Group]]) -> dict[str, str]:
    """Maps compiler errors to groups through the top-level module their span lies in (each
    group is an aggregate, whose module is named after it). Errors in the shared `types`
    module or at the root of a generated file are not attributed."""
    found: dict[str, tuple[str, str]] = {}
    ranges_cache: dict[str, list[tuple[int, str]]] = {}
    names = {g.name: g for gs in batches.values() for g in gs}
    for msg in messages:
        for span in msg.get("spans", []):
            file = span.get("file_name", "")
            m = re.match(r"src/(b_\w+)/mod\.rs$", file)
            if not m:
                continue
            path = os.path.join(harness, file)
            if path not in ranges_cache:
                ranges_cache[path] = module_ranges(path)
            module = ""
            for start, name in ranges_cache[path]:
                if start <= span["line_start"]:
                    module = name
                else:
                    break
            if module in names and module not in found:
                found[module] = (compiler_error(msg), msg.get("message", "")[:120])
    return found


# --------------------------------------------------------------------------------------------
# Build with isolation


class Builder:
    def __init__(self, args, es: str, runtime: str, workdir: str):
        self.args = args
        self.es = es
        self.runtime = runtime
        self.workdir = workdir
        self.harness = os.path.join(workdir, "harness")
        self.projects = os.path.join(workdir, "projects")
        self.target_dir = args.target_dir
        lock = os.path.join(os.path.dirname(runtime.rstrip("/")), "Cargo.lock")
        self.lockfile = lock if os.path.isfile(lock) else None
        self.builds = 0
        self.build_seconds = 0.0
        self.lock_wait = 0.0

    def generate(self, batches: dict[str, list[Group]]) -> tuple[bool, dict[str, str], str]:
        """Generates every batch. Returns (all ok, errors attributed to groups, output)."""
        errors: dict[str, str] = {}
        ok = True
        text = ""
        for batch, groups in batches.items():
            if not groups:
                continue
            good, out = generate_batch(self.es, os.path.join(self.projects, batch),
                                       os.path.join(self.harness, "src", batch), groups)
            if not good:
                ok = False
                text = out
                errors.update(generation_errors(out, groups))
        return ok, errors, text

    def generate_isolated(self, groups: list[Group]) -> list[Group]:
        """Generates, removing groups generation fails on (attributed, else bisected)."""
        active = list(groups)
        while True:
            ok, errors, text = self.generate(self.split(active))
            if ok:
                return active
            if errors:
                for g in active:
                    if g.name in errors:
                        g.status = "rejected-generate"
                        g.reason = errors[g.name]
                        g.kind = errors[g.name].split(":")[0]
                active = [g for g in active if g.name not in errors]
                continue
            bad = self.bisect(active, lambda subset: self.generate(self.split(subset))[0])
            if not bad:
                raise RuntimeError(f"generation fails, not attributable: {first_line(text)}")
            for g in bad:
                _, _, out = self.generate(self.split([g]))
                g.status = "rejected-generate"
                g.reason = first_line(out) or "generate failed"
                g.kind = "generate failed"
            active = [g for g in active if g not in bad]

    def split(self, groups: list[Group]) -> dict[str, list[Group]]:
        out: dict[str, list[Group]] = collections.defaultdict(list)
        for g in groups:
            out[g.batch].append(g)
        return dict(out)

    def build(self, groups: list[Group]) -> tuple[bool, list[dict], dict[str, list[Group]]]:
        batches = self.split(groups)
        ok, errors, text = self.generate(batches)
        if not ok:
            raise RuntimeError(f"generation failed on groups that generated before: {text[-500:]}")
        write_harness(self.harness, self.runtime, self.lockfile, batches)
        started = time.time()
        ok, messages, waited = cargo_build(self.harness, self.target_dir)
        self.builds += 1
        self.build_seconds += time.time() - started - waited
        self.lock_wait += waited
        log(f"  cargo build #{self.builds} of {len(groups)} groups: "
            f"{'ok' if ok else f'{len(messages)} errors'} ({time.time() - started - waited:.0f} s"
            + (f", after {waited:.0f} s waiting for /tmp/cargo.lock)" if waited >= 1 else ")"))
        return ok, messages, batches

    def bisect(self, groups: list[Group], ok_with) -> list[Group]:
        """The groups that fail on their own among groups that fail together, by halving:
        ok_with(subset) tells whether a subset goes through. Empty when only a combination
        fails."""
        if len(groups) == 1:
            return list(groups)
        half = len(groups) // 2
        bad = []
        for part in (groups[:half], groups[half:]):
            if not ok_with(part):
                bad += self.bisect(part, ok_with)
        return bad

    def compile_isolated(self, groups: list[Group]) -> list[Group]:
        """Builds the harness, removing groups whose code does not compile."""
        active = list(groups)
        for _ in range(50):
            ok, messages, batches = self.build(active)
            if ok:
                return active
            culprits = attribute_errors(self.harness, messages, batches)
            if culprits:
                for g in active:
                    if g.name in culprits:
                        g.status = "rejected-compile"
                        g.reason, g.kind = culprits[g.name]
                active = [g for g in active if g.name not in culprits]
                continue
            log(f"  compile errors not attributable to a group "
                f"({first_line(messages[0].get('message', ''))}); bisecting")
            errors_of: dict[int, dict] = {}

            def ok_with(subset: list[Group]) -> bool:
                good, msgs, b = self.build(subset)
                if not good and len(subset) == 1:
                    errors_of[subset[0].gid] = msgs[0] if msgs else {}
                return good

            bad = self.bisect(active, ok_with)
            if not bad:
                raise RuntimeError("the build fails only with groups together: "
                                   + first_line(messages[0].get("rendered") or ""))
            for g in bad:
                msg = errors_of.get(g.gid, {"message": "does not compile"})
                g.status = "rejected-compile"
                g.reason = compiler_error(msg) + " (found by bisection)"
                g.kind = msg.get("message", "")[:120]
            active = [g for g in active if g not in bad]
        raise RuntimeError("too many rounds of compile isolation")


# --------------------------------------------------------------------------------------------
# Running the harness


def run_harness(binary: str, cases_file: str, total: int, timeout: float) -> dict[int, tuple[str, str]]:
    results: dict[int, tuple[str, str]] = {}
    start = 0
    while start < total:
        proc = subprocess.Popen([binary, cases_file, str(start)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)
        current = None
        timed_out = False
        assert proc.stdout is not None
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                timed_out = True
                proc.kill()
                break
            line = proc.stdout.readline()
            if not line:
                break
            parts = line.rstrip("\n").split("\t", 2)
            index = int(parts[0])
            if parts[1] == "START":
                current = index
                continue
            results[index] = (parts[1], json.loads(parts[2]))
            current = None
        proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        if current is None:
            if len(results) < total and start < total and not timed_out:
                # ended early without a case in progress
                missing = next(i for i in range(start, total) if i not in results)
                if missing == start and proc.returncode != 0:
                    raise RuntimeError(f"harness failed: {stderr[-1000:]}")
                start = missing
                continue
            break
        if timed_out:
            results[current] = (TIMEOUT, f"no answer within {timeout:.0f} s")
        else:
            results[current] = (CRASH, f"exit {proc.returncode}: {stderr.strip()[-300:]}")
        start = current + 1
    return results


# --------------------------------------------------------------------------------------------
# Figures


def pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def summarise(groups: list[Group]) -> dict:
    s = collections.Counter()
    for g in groups:
        s["groups"] += 1
        s[f"groups_{g.status}"] += 1
        for c in g.cases:
            s["instances"] += 1
            s["valid" if c.valid else "invalid"] += 1
            if g.status != "tested":
                s[f"untested_{'valid' if c.valid else 'invalid'}"] += 1
                continue
            s["tested"] += 1
            if c.valid:
                s["tested_valid"] += 1
                if c.outcome in ACCEPTED:
                    s["valid_accepted"] += 1
                if c.outcome in (ACCEPT_EXACT, ACCEPT_ORDER):
                    s["valid_roundtrip"] += 1
                if c.outcome == ACCEPT_EXACT:
                    s["valid_roundtrip_order"] += 1
                if c.outcome in (ACCEPT_EXACT, ACCEPT_ORDER):
                    s["agree"] += 1
            else:
                s["tested_invalid"] += 1
                if c.outcome == REJECT:
                    s["invalid_refused"] += 1
                    s["agree"] += 1
            if c.outcome in (PANIC, CRASH, TIMEOUT):
                s[c.outcome.lower()] += 1
    return dict(s)


def kind_of(c: Case) -> str | None:
    """The disagreement a case shows, or None."""
    if c.valid:
        if c.outcome in (ACCEPT_EXACT, ACCEPT_ORDER):
            return None
        if c.outcome == ACCEPT_DIFF:
            return "round-trip differs"
        if c.outcome == ENCODE_ERR:
            return "re-encode fails"
        if c.outcome == REJECT:
            return "valid refused"
        return f"valid: {c.outcome.lower()}"
    if c.outcome == REJECT:
        return None
    if c.outcome in ACCEPTED:
        return "invalid accepted"
    return f"invalid: {c.outcome.lower()}"


def short(value: Any, limit: int, as_json: bool = False) -> str:
    text = value if isinstance(value, str) and not as_json else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def figures_block(title: str, s: dict) -> list[str]:
    g = s.get
    tested = g("tested", 0)
    total = g("instances", 0)
    lines = [
        f"{title}",
        f"  groups: {g('groups', 0)} = tested {g('groups_tested', 0)}, skipped (remote $ref) "
        f"{g('groups_skipped', 0)}, rejected by validate {g('groups_rejected-validate', 0)}, "
        f"by generate {g('groups_rejected-generate', 0)}, by the compiler "
        f"{g('groups_rejected-compile', 0)}",
        f"  instances: {total} ({g('valid', 0)} valid, {g('invalid', 0)} invalid); "
        f"decoded: {tested}; in groups not tested: {total - tested}",
        f"  valid instances accepted:            {g('valid_accepted', 0)}/{g('tested_valid', 0)} "
        f"({pct(g('valid_accepted', 0), g('tested_valid', 0))})",
        f"  accepted valid, round trip equal:   {g('valid_roundtrip', 0)}/{g('valid_accepted', 0)} "
        f"({pct(g('valid_roundtrip', 0), g('valid_accepted', 0))}); same key order too: "
        f"{g('valid_roundtrip_order', 0)}",
        f"  invalid instances refused:           {g('invalid_refused', 0)}/{g('tested_invalid', 0)} "
        f"({pct(g('invalid_refused', 0), g('tested_invalid', 0))})",
        f"  agreement over decoded instances:    {g('agree', 0)}/{tested} ({pct(g('agree', 0), tested)})",
        f"  agreement counting untested as miss: {g('agree', 0)}/{total} ({pct(g('agree', 0), total)})",
    ]
    if g("panic") or g("crash") or g("timeout"):
        lines.append(f"  panics {g('panic', 0)}, crashes {g('crash', 0)}, timeouts {g('timeout', 0)}")
    return lines


def report(groups: list[Group], meta: dict, notes: list[str], path: str) -> str:
    out: list[str] = []
    out.append("eventsmith probe: generated decoders against JSON Schema validity")
    for k, v in meta.items():
        out.append(f"  {k}: {v}")
    out.append("")
    out.append("Agreement: a valid instance agrees when it decodes and re-encodes to an equal JSON "
               "value; an invalid one when decoding refuses it.")
    out.append("")
    suites = sorted({g.suite for g in groups}, key=lambda s: (s == REALWORLD, s))
    test_suites = [g for g in groups if g.suite != REALWORLD]
    for suite in suites:
        out += figures_block(f"== {suite}", summarise([g for g in groups if g.suite == suite]))
        out.append("")
    if len({g.suite for g in test_suites}) > 1:
        out += figures_block("== JSON-Schema-Test-Suite overall (draft7 + draft2020-12)",
                             summarise(test_suites))
        out.append("")

    # top categories
    out.append("== Disagreements by test file (decoded instances)")
    per_file = collections.Counter()
    per_file_kind: dict[tuple[str, str], collections.Counter] = collections.defaultdict(
        collections.Counter)
    for g in groups:
        if g.status != "tested":
            continue
        for c in g.cases:
            k = kind_of(c)
            if k:
                per_file[(g.suite, g.file)] += 1
                per_file_kind[(g.suite, g.file)][k] += 1
    for (suite, file), n in sorted(per_file.items(), key=lambda kv: (-kv[1], kv[0])):
        kinds = ", ".join(f"{k} {v}" for k, v in per_file_kind[(suite, file)].most_common())
        out.append(f"  {n:4d}  {suite}/{file}: {kinds}")
    out.append("")
    kinds_total = collections.Counter()
    for counter in per_file_kind.values():
        kinds_total.update(counter)
    out.append("  by kind: " + ", ".join(f"{k} {v}" for k, v in kinds_total.most_common()))
    out.append("")

    out.append("== Groups not tested")
    for status in ("rejected-validate", "rejected-generate", "rejected-compile", "skipped"):
        gs = [g for g in groups if g.status == status]
        if not gs:
            continue
        reasons = collections.Counter(g.kind or g.reason[:60] for g in gs)
        out.append(f"-- {status}: {len(gs)} groups ({len(sum((g.cases for g in gs), []))} instances);"
                   f" first errors by kind: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))
        for g in gs:
            out.append(f"  {g.suite}/{g.file} [{g.name}] {short(g.desc, 80)}")
            out.append(f"      {short(g.reason, 400)}")
    out.append("")
    if notes:
        out.append("== Notes on the material")
        out += [f"  {n}" for n in notes]
        out.append("")

    out.append("== Disagreements, by test file")
    current = None
    for g in sorted(groups, key=lambda g: (g.suite, g.file, g.gid)):
        if g.status != "tested":
            continue
        bad = [c for c in g.cases if kind_of(c)]
        if not bad:
            continue
        if (g.suite, g.file) != current:
            current = (g.suite, g.file)
            out.append("")
            out.append(f"-- {g.suite}/{g.file}")
        out.append(f"  group [{g.name}] {short(g.desc, 120)}")
        out.append(f"    schema: {short(g.schema, 300, as_json=True)}")
        for w in sorted(set(g.warnings))[:3]:
            out.append(f"    warning: {short(w, 200)}")
        for c in bad:
            out.append(f"    {kind_of(c)}: {short(c.desc, 100)}")
            out.append(f"      instance: {short(c.data, 200, as_json=True)}")
            if c.detail:
                label = "re-encoded" if c.outcome in (ACCEPT_DIFF, ACCEPT_ORDER) else "detail"
                out.append(f"      {label}: {short(c.detail, 300)}")
    text = "\n".join(out) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def headline(groups: list[Group]) -> str:
    lines = []
    for suite in sorted({g.suite for g in groups}, key=lambda s: (s == REALWORLD, s)):
        lines += figures_block(f"== {suite}", summarise([g for g in groups if g.suite == suite]))
    tests = [g for g in groups if g.suite != REALWORLD]
    if len({g.suite for g in tests}) > 1:
        lines += figures_block("== JSON-Schema-Test-Suite overall", summarise(tests))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def snapshot(rev: str) -> tuple[str, str]:
    """Exports commit REV of this repository to /tmp and builds its eventsmith binary there.
    Returns (binary, runtime crate)."""
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
            sys.exit(f"probe: git archive {sha} failed")
        os.rename(tmp, src)
    target = os.path.join(root, "target")
    log(f"cargo build --bin eventsmith in {src}")
    subprocess.run(locked(["cargo", "build", "--quiet", "--bin", "eventsmith"]), cwd=src,
                   env=dict(os.environ, CARGO_TARGET_DIR=target), check=True)
    return os.path.join(target, "debug", "eventsmith"), os.path.join(src, "runtime")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            Runs `cargo build` under `flock /tmp/cargo.lock`, one build at a time. With a warm
            target directory a run is about 2-4 minutes, nearly all of it one cargo build; the
            first one also compiles the runtime and its dependencies (3-4 minutes more)."""))
    ap.add_argument("--eventsmith", help="the eventsmith binary (default: <repo>/target/debug/"
                    "eventsmith, built with `cargo build --bin eventsmith` if missing)")
    ap.add_argument("--runtime", help="the runtime crate the harness depends on (default: "
                    "<repo>/runtime; it must match the binary's generated code)")
    ap.add_argument("--rev", help="probe a commit instead of the work tree: `git archive REV` "
                    "into /tmp/eventsmith-probe-src/<sha>, whose eventsmith (built there) and "
                    "runtime are used; for when the work tree is mid-edit")
    ap.add_argument("--drafts", default="draft7,draft2020-12",
                    help="comma-separated test-suite drafts: draft7, draft2020-12 (default both)")
    ap.add_argument("--no-realworld", action="store_true",
                    help="leave out check-jsonschema's vendored SchemaStore schemas")
    ap.add_argument("--only", help="only test files whose name matches this regex (debugging)")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep the projects, harness "
                    "and cases there (default: a temporary directory, removed)")
    ap.add_argument("--report", default="/tmp/probe-report.txt", help="the report file "
                    "(default /tmp/probe-report.txt); the figures also go to REPORT.json")
    ap.add_argument("--cache", help="where the sdists go (default $XDG_CACHE_HOME/eventsmith-probe"
                    " or ~/.cache/eventsmith-probe)")
    ap.add_argument("--target-dir", default="/tmp/eventsmith-probe-target",
                    help="CARGO_TARGET_DIR of the harness (default /tmp/eventsmith-probe-target)")
    ap.add_argument("--batch-size", type=int, default=400,
                    help="groups per schema project (default 400)")
    ap.add_argument("--case-timeout", type=float, default=30.0,
                    help="seconds one payload may take (default 30)")
    ap.add_argument("--jsonschema-version", default=JSONSCHEMA_VERSION)
    ap.add_argument("--check-jsonschema-version", default=CHECK_JSONSCHEMA_VERSION)
    args = ap.parse_args()
    started = time.time()

    drafts = [d.strip() for d in args.drafts.split(",") if d.strip()]
    for d in drafts:
        if d not in SUITES:
            ap.error(f"unknown draft {d!r}: choose among {', '.join(SUITES)}")

    if args.rev:
        if args.eventsmith or args.runtime:
            ap.error("--rev builds its own eventsmith and runtime: leave out --eventsmith/--runtime")
        args.eventsmith, args.runtime = snapshot(args.rev)
    es = args.eventsmith or os.path.join(REPO, "target", "debug", "eventsmith")
    if not args.eventsmith and not os.path.exists(es):
        log(f"building eventsmith in {REPO}")
        subprocess.run(locked(["cargo", "build", "--bin", "eventsmith"]), cwd=REPO, check=True)
    es = os.path.abspath(es)
    if not os.access(es, os.X_OK):
        ap.error(f"{es} is not an executable")
    runtime = os.path.abspath(args.runtime or os.path.join(REPO, "runtime"))
    if not os.path.isfile(os.path.join(runtime, "Cargo.toml")):
        ap.error(f"{runtime} has no Cargo.toml")
    version = run([es, "--version"]).stdout.strip()

    cache = cache_dir(args)
    suite_root = fetch_sdist(cache, "jsonschema", args.jsonschema_version)
    groups: list[Group] = []
    notes: list[str] = []
    for d in drafts:
        directory = os.path.join(suite_root, "json", "tests", SUITES[d][0])
        if not os.path.isdir(directory):
            sys.exit(f"probe: the jsonschema {args.jsonschema_version} sdist has no "
                     f"json/tests/{SUITES[d][0]}")
        groups += load_suite(suite_root, d, len(groups) + 1)
    if not args.no_realworld:
        check_root = fetch_sdist(cache, "check-jsonschema", args.check_jsonschema_version)
        rw, rw_notes = load_realworld(check_root, cache, len(groups) + 1, args.jsonschema_version)
        groups += rw
        notes += rw_notes
    if args.only:
        groups = [g for g in groups if re.search(args.only, g.file)]
    log(f"{len(groups)} groups, {sum(len(g.cases) for g in groups)} instances; "
        f"{sum(g.status == 'skipped' for g in groups)} skipped for remote $refs")

    workdir = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="eventsmith-probe-")
    os.makedirs(workdir, exist_ok=True)
    try:
        builder = Builder(args, es, runtime, workdir)
        candidates = [g for g in groups if g.status == "pending"]
        batches = batch_groups(candidates, args.batch_size)
        log(f"{len(batches)} schema projects; validating")
        t0 = time.time()
        active: list[Group] = []
        for batch, members in batches.items():
            active += validate_batch(es, os.path.join(builder.projects, batch), members)
        log(f"validate: {len(candidates) - len(active)} groups rejected ({time.time() - t0:.0f} s)")
        t0 = time.time()
        active = builder.generate_isolated(active)
        log(f"generate: {sum(g.status == 'rejected-generate' for g in groups)} groups rejected "
            f"({time.time() - t0:.0f} s)")
        t0 = time.time()
        active = builder.compile_isolated(active)
        compile_seconds = time.time() - t0
        log(f"compile: {sum(g.status == 'rejected-compile' for g in groups)} groups rejected, "
            f"{builder.builds} builds ({compile_seconds:.0f} s)")
        for g in active:
            g.status = "tested"

        binary = os.path.join(args.target_dir, "debug", "eventsmith-probe-harness")
        order = run([binary, "--order-check"]).stdout.strip() == "true"
        cases_file = os.path.join(workdir, "cases.tsv")
        index: list[tuple[Group, Case]] = []
        with open(cases_file, "w", encoding="utf-8") as f:
            for g in active:
                for c in g.cases:
                    payload = json.dumps({"value": c.data}, ensure_ascii=False,
                                         separators=(",", ":"), allow_nan=False)
                    f.write(f"{g.gid}\t{payload}\n")
                    index.append((g, c))
        t0 = time.time()
        results = run_harness(binary, cases_file, len(index), args.case_timeout)
        run_seconds = time.time() - t0
        for i, (g, c) in enumerate(index):
            c.outcome, c.detail = results.get(i, (CRASH, "no result"))

        meta = {
            "eventsmith": f"{es} ({version})",
            "runtime": runtime,
            "material": f"jsonschema {args.jsonschema_version} sdist (JSON-Schema-Test-Suite "
                        f"{', '.join(drafts)}, optional/ left out)"
                        + ("" if args.no_realworld else
                           f"; check-jsonschema {args.check_jsonschema_version} sdist (vendored "
                           "SchemaStore schemas, tests/example-files/hooks)"),
            "key order compared": "yes (serde_json preserve_order)" if order else
                                  "no (serde_json without preserve_order sorts keys)",
            "time": f"{time.time() - started:.0f} s in all; {builder.builds} cargo builds, "
                    f"{builder.build_seconds:.0f} s building, {builder.lock_wait:.0f} s waiting "
                    f"for /tmp/cargo.lock; harness run {run_seconds:.1f} s",
            "work directory": workdir + ("" if args.keep else " (removed)"),
        }
        report(groups, meta, notes, args.report)
        with open(args.report + ".json", "w", encoding="utf-8") as f:
            suites = sorted({g.suite for g in groups})
            json.dump({
                "meta": meta,
                "suites": {s: summarise([g for g in groups if g.suite == s]) for s in suites},
                "test_suite_overall": summarise([g for g in groups if g.suite != REALWORLD]),
                "groups": [{
                    "suite": g.suite, "file": g.file, "description": g.desc, "name": g.name,
                    "status": g.status, "reason": g.reason, "warnings": sorted(set(g.warnings)),
                    "cases": [{"description": c.desc, "valid": c.valid, "outcome": c.outcome,
                               "detail": c.detail[:2000]} for c in g.cases],
                } for g in groups],
            }, f, indent=1, ensure_ascii=False)
        print(headline(groups))
        print(f"\nreport: {args.report} (figures as JSON: {args.report}.json)")
        print(f"took {time.time() - started:.0f} s")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
