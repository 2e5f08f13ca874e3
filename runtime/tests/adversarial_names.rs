//! Names that never clash (#17), tested on projects built to make them clash: random schema
//! projects whose names come from adversarial pools (titles equal to the names of generated items
//! such as `<Aggregate>Event`, `<Aggregate>Rules`, `DomainEvent`, `Upcasters`; Rust keywords and
//! prelude types; equal titles across aggregates, versions and kinds; aggregates named `self`,
//! `types`, `tests`, `std`; keyword and odd property names; keywords as the `using` names of
//! `convert` upcast rules) are written as real files, must pass `eventsmith validate`, and their
//! generated code must compile under `#![deny(warnings)]`, with code written against it (each
//! aggregate's rules trait, each projection's handler trait and each version's `Conversions`
//! implemented through the paths and names the generator's `Api` gives) and a run that decodes
//! and re-encodes every example (older versions upcast) and runs every command through its
//! aggregate.
//!
//! The projects are batched into few trybuild crates (`mod p0 { … } mod p1 { … }` in one file,
//! under `target/codegen-golden/adversarial/`), so CI pays one compile for all of them. trybuild
//! builds binaries, so the generated `#[cfg(test)]` modules are left out here.
//!
//! Environment:
//! - `EVENTSMITH_NAME_CASES=N`: how many projects (default 8, one crate); a long run sets
//!   thousands (`EVENTSMITH_NAME_CASES=2000 cargo test -p eventsmith --test adversarial_names`).
//! - `EVENTSMITH_NAME_FROM=K`: the index of the first project (default 0), to split a long run.
//! - `EVENTSMITH_NAME_BATCH=B`: projects per crate (default 200).
//! - `EVENTSMITH_NAME_DUMP=DIR`: write each project to `DIR/p<index>/` rather than a temporary
//!   directory, to keep it and reproduce a failure with the CLI
//!   (`eventsmith --project DIR/p17 generate --out x`).
//!
//! Project `i` depends on `i` alone (a fixed seed per index), so a failure in module `p<i>` is
//! reproduced by `EVENTSMITH_NAME_FROM=i EVENTSMITH_NAME_CASES=1`.

use eventsmith_core::commands::generate::{Settings, code};
use eventsmith_core::commands::{Context, Status, Verbosity, validate::validate};
use eventsmith_core::{Format, Severity};
use heck::ToUpperCamelCase;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// The pools.

/// Aggregate names the loader accepts (`^[A-Za-z][A-Za-z0-9_-]*$`) that are also names of
/// generated modules and items, Rust keywords, crates or prelude modules.
const AGGREGATES: &[&str] = &[
    "order",
    "order_line",
    "self",
    "Self",
    "types",
    "tests",
    "domain_event",
    "DomainEvent",
    "upcasters",
    "commands",
    "projections",
    "v1",
    "v2",
    "option",
    "type",
    "crate",
    "super",
    "std",
    "core",
    "serde",
    "eventsmith",
    "given",
    "line-item",
    "result",
    "string",
    "event",
];

/// Event names: generated item names, keywords, and pairs that meet in derived names
/// (`order` + `line_placed` and `order_line` + `placed` both give `on_order_line_placed`).
const EVENTS: &[&str] = &[
    "placed",
    "event",
    "command",
    "rules",
    "aggregate",
    "self",
    "type",
    "option",
    "conversions",
    "upcasters",
    "domain_event",
    "tests",
    "v2",
    "v1",
    "line_placed",
    "decode",
    "given",
    "commands",
    "apply",
    "placed_from_v1",
    "type-changed",
    "Some",
    "match",
];

const COMMANDS: &[&str] = &[
    "place",
    "self",
    "type",
    "do",
    "command",
    "rules",
    "event",
    "decide",
    "apply",
    "given",
    "commands",
    "place_order",
    "decide_place",
    "option",
    "Ok",
];

const PROJECTIONS: &[&str] = &[
    "summary",
    "self",
    "types",
    "projections",
    "domain_event",
    "order",
    "tests",
    "handler",
    "type",
    "row",
    "order_summary",
    "Option",
];

/// Property names: keywords, the flattened map's name, words generated code uses for its own
/// bindings, names that collide after case conversion, and names that are no identifier.
const PROPERTIES: &[&str] = &[
    "id",
    "type",
    "self",
    "Self",
    "fn",
    "match",
    "super",
    "crate",
    "async",
    "additional_properties",
    "additionalProperties",
    "kind",
    "value",
    "2fa",
    "user-id",
    "userId",
    "user_id",
    "é",
    "@@",
    "",
    "_",
    "None",
    "Some",
    "std",
    "serde",
    "default",
    "checker",
    "deserializer",
    "state",
    "event",
    "payload",
    "prev",
    "version",
    "r#type",
    "a b",
];

/// `using` names of `convert` upcast rules (`^[a-z][a-z0-9_]*$`): the methods of a version
/// module's `Conversions` trait.
const USING: &[&str] = &[
    "type",
    "self",
    "fn",
    "match",
    "super",
    "crate",
    "async",
    "gen",
    "try",
    "dyn",
    "abstract",
    "to_int",
    "upcast",
    "from",
    "into",
    "value",
    "prev",
    "convert",
    "conversions",
    "default",
    "clone",
    "new",
    "validate",
    "r",
    "from_v1",
];

/// Titles (the names of Rust types) that are not derived from the project's own names.
const FIXED_TITLES: &[&str] = &[
    "DomainEvent",
    "Upcasters",
    "Conversions",
    "Self",
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Default",
    "Value",
    "Types",
    "Tests",
    "Number",
    "BTreeMap",
    "Serialize",
    "Deserialize",
    "Deserializer",
    "Debug",
    "Clone",
    "PartialEq",
    "Validate",
    "Event",
    "EventSet",
    "Checker",
    "Rejection",
    "From",
    "Send",
    "Sized",
    "Fn",
    "Copy",
    "Iterator",
    "Error",
    "DecodeError",
    "V1",
    "V2",
    "Commands",
    "Given",
    "Item",
];

/// Titles that are not plain identifiers.
const ODD_TITLES: &[&str] = &[
    "order event",
    "self",
    "Größe",
    "2nd",
    "type",
    "_",
    "Self_",
    "Option2",
    "domain event",
    "upcasters",
];

/// String enum values: the names of prelude variants, keywords, values equal after case
/// conversion, and values that are no identifier.
const ENUM_VALUES: &[&str] = &[
    "Some", "None", "Self", "self", "type", "Ok", "Err", "2fa", "", "a b", "ok", "Option", "r#x",
    "Default", "_",
];

// ---------------------------------------------------------------------------------------------
// A deterministic random source (SplitMix64): project `i` is the same on every machine.

struct Rng(u64);

impl Rng {
    fn for_project(index: u64) -> Self {
        Self(0x5eed_e7e7_5a17_0017 ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// In `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The model of a project.

#[derive(Clone, Debug)]
enum Shape {
    Str,
    Int,
    Num,
    Bool,
    Nullable,
    Enum {
        title: Option<String>,
        values: Vec<String>,
    },
    Object(Obj),
    Array(Box<Shape>),
    Map(Box<Shape>),
    Tagged {
        title: Option<String>,
        tag: String,
        alternatives: Vec<(String, Obj)>,
    },
    Untagged {
        title: Option<String>,
        titles: [Option<String>; 2],
    },
    /// `#/$defs/<key>` of the file, or of the shared types file.
    Ref {
        shared: bool,
        key: String,
    },
}

#[derive(Clone, Debug)]
struct Obj {
    title: Option<String>,
    props: Vec<Prop>,
    closed: bool,
    /// An undeclared property in the examples of an open object.
    extra: bool,
}

#[derive(Clone, Debug)]
struct Prop {
    name: String,
    shape: Shape,
    required: bool,
}

/// One schema file: its root object and its own `$defs`.
#[derive(Clone, Debug)]
struct Doc {
    root: Obj,
    defs: BTreeMap<String, Shape>,
    /// An upcast rule `{"convert": {"field": <0>, "using": <1>}}` from the previous version:
    /// the field is a string there and an integer here.
    convert: Option<(String, String)>,
}

struct Event {
    name: String,
    versions: Vec<Doc>,
}

struct Command {
    name: String,
    doc: Doc,
    emits: String,
}

struct Aggregate {
    name: String,
    state: Doc,
    id: bool,
    events: Vec<Event>,
    commands: Vec<Command>,
}

struct Projection {
    name: String,
    doc: Doc,
    key: String,
    subscribes: Vec<String>,
}

struct Project {
    index: u64,
    aggregates: Vec<Aggregate>,
    projections: Vec<Projection>,
    shared: BTreeMap<String, Shape>,
}

// ---------------------------------------------------------------------------------------------
// Names as eventsmith derives them (to keep the projects valid: the events of one aggregate must
// not share a type name, `name-collision`).

fn upper_camel(text: &str) -> String {
    let words: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                ' '
            }
        })
        .collect();
    words.to_upper_camel_case()
}

/// `project::model::rust_type_name`: an event's type name from its latest title, else
/// `<aggregate>_<name>`.
fn event_type_name(title: Option<&str>, aggregate: &str, event: &str) -> String {
    let from_title = title.map(|t| t.to_upper_camel_case()).filter(|t| {
        t.starts_with(|c: char| c.is_ascii_alphabetic())
            && t.chars().all(|c| c.is_ascii_alphanumeric())
            && t != "Self"
    });
    from_title.unwrap_or_else(|| {
        let name = upper_camel(&format!("{aggregate}_{event}"));
        if name == "Self" { "Self_".into() } else { name }
    })
}

/// A name normalised as the loader compares names (`item-added` and `item_added` collide).
fn normal(name: &str) -> String {
    heck::ToSnakeCase::to_snake_case(name)
}

/// Distinct (after normalisation) names from `pool`.
fn distinct(rng: &mut Rng, pool: &[&str], count: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for _ in 0..count * 4 {
        if names.len() == count {
            break;
        }
        let name = rng.pick(pool);
        if !names.iter().any(|n| normal(n) == normal(name)) {
            names.push((*name).to_owned());
        }
    }
    names
}

// ---------------------------------------------------------------------------------------------
// Random projects.

struct Gen {
    rng: Rng,
    /// UpperCamelCase aggregate names, projection names, and events' fallback type names:
    /// the stems of generated item names.
    aggregate_stems: Vec<String>,
    projection_stems: Vec<String>,
    event_stems: Vec<String>,
    /// Every title drawn so far, to draw again (equal titles across kinds and versions).
    used: Vec<String>,
}

impl Gen {
    fn title(&mut self) -> Option<String> {
        let roll = self.rng.below(100);
        let title = if roll < 12 {
            return None;
        } else if roll < 34 {
            let stem = self.rng.pick(&self.aggregate_stems).clone();
            let suffix =
                self.rng
                    .pick(&["Event", "Command", "Rules", "Aggregate", "", "", "Commands"]);
            format!("{stem}{suffix}")
        } else if roll < 54 {
            (*self.rng.pick(FIXED_TITLES)).to_owned()
        } else if roll < 64 {
            let stem = self.rng.pick(&self.event_stems).clone();
            let suffix = self.rng.pick(&["", "FromV1", "FromV2", "Item", "Value"]);
            format!("{stem}{suffix}")
        } else if roll < 72 && !self.projection_stems.is_empty() {
            let stem = self.rng.pick(&self.projection_stems).clone();
            let suffix = self.rng.pick(&["", "Handler", "Projection"]);
            format!("{stem}{suffix}")
        } else if roll < 90 && !self.used.is_empty() {
            self.rng.pick(&self.used).clone()
        } else {
            (*self.rng.pick(ODD_TITLES)).to_owned()
        };
        self.used.push(title.clone());
        Some(title)
    }

    /// A `$defs` key: a title that is a plain identifier (no pointer escaping needed).
    fn def_key(&mut self) -> String {
        match self.title() {
            Some(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric()) => t,
            _ => "Value".to_owned(),
        }
    }

    fn props(&mut self, count: usize, depth: usize, doc: &mut Defs<'_>, not: &[&str]) -> Vec<Prop> {
        let mut props: Vec<Prop> = Vec::new();
        for _ in 0..count {
            let name = (*self.rng.pick(PROPERTIES)).to_owned();
            if props.iter().any(|p| p.name == name) || not.contains(&name.as_str()) {
                continue;
            }
            let shape = self.shape(depth, doc);
            props.push(Prop {
                name,
                shape,
                required: self.rng.percent(60),
            });
        }
        props
    }

    fn obj(&mut self, depth: usize, doc: &mut Defs<'_>) -> Obj {
        let count = self.rng.between(0, if depth == 0 { 4 } else { 3 });
        let closed = self.rng.percent(50);
        Obj {
            title: self.title(),
            props: self.props(count, depth + 1, doc, &[]),
            closed,
            extra: !closed && self.rng.percent(30),
        }
    }

    fn shape(&mut self, depth: usize, doc: &mut Defs<'_>) -> Shape {
        let nested = depth < 3;
        match self.rng.below(if nested { 15 } else { 6 }) {
            0 | 1 => Shape::Str,
            2 => Shape::Int,
            3 => Shape::Bool,
            4 => Shape::Num,
            5 => Shape::Nullable,
            6 | 7 => Shape::Object(self.obj(depth, doc)),
            8 => Shape::Enum {
                title: self.title(),
                values: {
                    let count = self.rng.between(1, 4);
                    let mut values: Vec<String> = Vec::new();
                    for _ in 0..count {
                        let value = (*self.rng.pick(ENUM_VALUES)).to_owned();
                        if !values.contains(&value) {
                            values.push(value);
                        }
                    }
                    values
                },
            },
            9 => Shape::Array(Box::new(self.shape(depth + 1, doc))),
            10 => Shape::Map(Box::new(self.shape(depth + 1, doc))),
            11 => {
                let tag = (*self
                    .rng
                    .pick(&["type", "kind", "self", "Self", "tag", "match"]))
                .to_owned();
                let mut alternatives: Vec<(String, Obj)> = Vec::new();
                for _ in 0..self.rng.between(2, 3) {
                    let value = (*self.rng.pick(ENUM_VALUES)).to_owned();
                    if alternatives.iter().any(|(v, _)| *v == value) {
                        continue;
                    }
                    let count = self.rng.between(0, 2);
                    let title = self.title();
                    let props = self.props(count, depth + 2, doc, &[tag.as_str()]);
                    alternatives.push((
                        value,
                        Obj {
                            title,
                            props,
                            closed: true,
                            extra: false,
                        },
                    ));
                }
                if alternatives.len() < 2 {
                    return Shape::Str;
                }
                Shape::Tagged {
                    title: self.title(),
                    tag,
                    alternatives,
                }
            }
            12 => Shape::Untagged {
                title: self.title(),
                titles: [self.title(), self.title()],
            },
            13 | 14 => {
                let shared = doc.shared.is_some() && self.rng.percent(50);
                let key = self.def_key();
                let table = if shared {
                    doc.shared.as_deref_mut().expect("shared")
                } else {
                    &mut *doc.local
                };
                if !table.contains_key(&key) {
                    // Definitions hold no references, so examples are finite.
                    let mut none = BTreeMap::new();
                    let mut inner = Defs {
                        local: &mut none,
                        shared: None,
                    };
                    let def = if self.rng.percent(70) {
                        Shape::Object(self.obj(depth + 1, &mut inner))
                    } else {
                        Shape::Enum {
                            title: self.title(),
                            values: vec![(*self.rng.pick(ENUM_VALUES)).to_owned()],
                        }
                    };
                    let table = if shared {
                        doc.shared.as_deref_mut().expect("shared")
                    } else {
                        &mut *doc.local
                    };
                    table.insert(key.clone(), def);
                }
                Shape::Ref { shared, key }
            }
            _ => Shape::Str,
        }
    }

    fn doc(&mut self, shared: &mut BTreeMap<String, Shape>) -> Doc {
        let mut defs = BTreeMap::new();
        let root = {
            let mut tables = Defs {
                local: &mut defs,
                shared: Some(shared),
            };
            self.obj(0, &mut tables)
        };
        Doc {
            root,
            defs,
            convert: None,
        }
    }
}

/// Where references of the file being generated go.
struct Defs<'a> {
    local: &'a mut BTreeMap<String, Shape>,
    shared: Option<&'a mut BTreeMap<String, Shape>>,
}

fn project(index: u64) -> Project {
    let mut rng = Rng::for_project(index);
    let aggregate_count = rng.between(1, 3);
    let aggregate_names = distinct(&mut rng, AGGREGATES, aggregate_count);
    let mut events_of: Vec<Vec<String>> = Vec::new();
    for _ in &aggregate_names {
        let count = rng.between(1, 3);
        events_of.push(distinct(&mut rng, EVENTS, count));
    }
    let projection_count = rng.below(3);
    let projection_names = distinct(&mut rng, PROJECTIONS, projection_count);
    let mut g = Gen {
        aggregate_stems: aggregate_names.iter().map(|a| upper_camel(a)).collect(),
        projection_stems: projection_names.iter().map(|p| upper_camel(p)).collect(),
        event_stems: aggregate_names
            .iter()
            .zip(&events_of)
            .flat_map(|(a, events)| events.iter().map(move |e| upper_camel(&format!("{a}_{e}"))))
            .collect(),
        used: Vec::new(),
        rng,
    };
    let mut shared = BTreeMap::new();
    let mut aggregates = Vec::new();
    for (name, event_names) in aggregate_names.iter().zip(&events_of) {
        let state = g.doc(&mut shared);
        let mut events: Vec<Event> = Vec::new();
        let mut type_names: Vec<String> = Vec::new();
        for event in event_names {
            let mut v1 = g.doc(&mut shared);
            let mut versions = Vec::new();
            if g.rng.percent(40) {
                let mut v2 = v1.clone();
                v2.root.title = g.title();
                // A string property of v1 becomes an integer, through a named conversion.
                let convertible: Vec<usize> = (0..v2.root.props.len())
                    .filter(|&i| {
                        let prop = &v2.root.props[i];
                        matches!(prop.shape, Shape::Str)
                            && !prop.name.is_empty()
                            && !prop.name.starts_with('/')
                    })
                    .collect();
                if !convertible.is_empty() && g.rng.percent(50) {
                    let i = *g.rng.pick(&convertible);
                    v2.root.props[i].shape = Shape::Int;
                    // Required in both, so every conversion has the one signature
                    // `String -> i64` (a `using` name has one signature per module).
                    v2.root.props[i].required = true;
                    v1.root.props[i].required = true;
                    let using = (*g.rng.pick(USING)).to_owned();
                    v2.convert = Some((v2.root.props[i].name.clone(), using));
                }
                if g.rng.percent(50) {
                    let taken: Vec<&str> = v2.root.props.iter().map(|p| p.name.as_str()).collect();
                    let mut tables = Defs {
                        local: &mut v2.defs,
                        shared: Some(&mut shared),
                    };
                    let mut added = g.props(1, 1, &mut tables, &taken);
                    for prop in &mut added {
                        prop.required = false;
                    }
                    v2.root.props.extend(added);
                }
                versions.push(v1.clone());
                v1 = v2;
            }
            versions.push(v1);
            // Keep the latest versions' type names distinct within the aggregate.
            for attempt in 0.. {
                let latest = versions.last_mut().expect("a version");
                let type_name = event_type_name(latest.root.title.as_deref(), name, event);
                if !type_names.contains(&type_name) {
                    type_names.push(type_name);
                    break;
                }
                latest.root.title = if attempt < 4 {
                    g.title()
                } else {
                    Some(format!("Distinct{index}x{attempt}"))
                };
            }
            events.push(Event {
                name: event.clone(),
                versions,
            });
        }
        let mut commands = Vec::new();
        let command_count = g.rng.below(3);
        for command in distinct(&mut g.rng, COMMANDS, command_count) {
            let doc = g.doc(&mut shared);
            let emits = g.rng.pick(&events).name.clone();
            commands.push(Command {
                name: command,
                doc,
                emits,
            });
        }
        aggregates.push(Aggregate {
            name: name.clone(),
            state,
            id: g.rng.percent(50),
            events,
            commands,
        });
    }
    let every_event: Vec<String> = aggregates
        .iter()
        .flat_map(|a| {
            a.events
                .iter()
                .map(move |e| format!("{}.{}", a.name, e.name))
        })
        .collect();
    let mut projections = Vec::new();
    for name in projection_names {
        let mut doc = g.doc(&mut shared);
        let key = (*g
            .rng
            .pick(&["id", "type", "self", "key", "order_id", "fn", "match"]))
        .to_owned();
        doc.root.props.retain(|p| p.name != key);
        doc.root.props.insert(
            0,
            Prop {
                name: key.clone(),
                shape: Shape::Str,
                required: true,
            },
        );
        let mut subscribes: Vec<String> = Vec::new();
        for _ in 0..g.rng.between(1, 3) {
            let event = g.rng.pick(&every_event).clone();
            if !subscribes.contains(&event) {
                subscribes.push(event);
            }
        }
        projections.push(Projection {
            name,
            doc,
            key,
            subscribes,
        });
    }
    Project {
        index,
        aggregates,
        projections,
        shared,
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas and examples as JSON.

/// `ref_prefix` leads from the file to the schema directory (`../../` from an event file).
fn shape_json(shape: &Shape, ref_prefix: &str) -> Value {
    match shape {
        Shape::Str => json!({"type": "string"}),
        Shape::Int => json!({"type": "integer"}),
        Shape::Num => json!({"type": "number"}),
        Shape::Bool => json!({"type": "boolean"}),
        Shape::Nullable => json!({"type": ["string", "null"]}),
        Shape::Enum { title, values } => {
            let mut schema = json!({"type": "string", "enum": values});
            if let Some(title) = title {
                schema["title"] = json!(title);
            }
            schema
        }
        Shape::Object(obj) => obj_json(obj, ref_prefix),
        Shape::Array(item) => json!({"type": "array", "items": shape_json(item, ref_prefix)}),
        Shape::Map(value) => {
            json!({"type": "object", "additionalProperties": shape_json(value, ref_prefix)})
        }
        Shape::Tagged {
            title,
            tag,
            alternatives,
        } => {
            let alternatives: Vec<Value> = alternatives
                .iter()
                .map(|(value, obj)| {
                    let mut schema = obj_json(obj, ref_prefix);
                    let mut properties = Map::new();
                    properties.insert(tag.clone(), json!({"const": value}));
                    for (k, v) in schema["properties"].as_object().expect("properties") {
                        properties.insert(k.clone(), v.clone());
                    }
                    schema["properties"] = Value::Object(properties);
                    let mut required = vec![json!(tag)];
                    required.extend(schema["required"].as_array().cloned().unwrap_or_default());
                    schema["required"] = Value::Array(required);
                    schema
                })
                .collect();
            let mut schema = json!({"oneOf": alternatives});
            if let Some(title) = title {
                schema["title"] = json!(title);
            }
            schema
        }
        Shape::Untagged { title, titles } => {
            let mut string = json!({"type": "string"});
            let mut integer = json!({"type": "integer"});
            if let Some(t) = &titles[0] {
                string["title"] = json!(t);
            }
            if let Some(t) = &titles[1] {
                integer["title"] = json!(t);
            }
            let mut schema = json!({"oneOf": [string, integer]});
            if let Some(title) = title {
                schema["title"] = json!(title);
            }
            schema
        }
        Shape::Ref { shared: true, key } => {
            json!({"$ref": format!("{ref_prefix}types/shared.json#/$defs/{key}")})
        }
        Shape::Ref { shared: false, key } => json!({"$ref": format!("#/$defs/{key}")}),
    }
}

fn obj_json(obj: &Obj, ref_prefix: &str) -> Value {
    let mut properties = Map::new();
    for prop in &obj.props {
        properties.insert(prop.name.clone(), shape_json(&prop.shape, ref_prefix));
    }
    let required: Vec<&str> = obj
        .props
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name.as_str())
        .collect();
    let mut schema = json!({"type": "object", "properties": properties, "required": required});
    if let Some(title) = &obj.title {
        schema["title"] = json!(title);
    }
    if obj.closed {
        schema["additionalProperties"] = json!(false);
    }
    schema
}

/// A valid instance; `defs` are the file's own, `shared` the shared file's.
fn example(
    shape: &Shape,
    defs: &BTreeMap<String, Shape>,
    shared: &BTreeMap<String, Shape>,
) -> Value {
    match shape {
        Shape::Str => json!("x"),
        Shape::Int => json!(1),
        Shape::Num => json!(1.5),
        Shape::Bool => json!(true),
        Shape::Nullable => Value::Null,
        Shape::Enum { values, .. } => json!(values[values.len() - 1]),
        Shape::Object(obj) => obj_example(obj, defs, shared),
        Shape::Array(item) => json!([example(item, defs, shared)]),
        Shape::Map(value) => json!({"k": example(value, defs, shared)}),
        Shape::Tagged {
            tag, alternatives, ..
        } => {
            let (value, obj) = &alternatives[alternatives.len() - 1];
            let mut instance = Map::new();
            instance.insert(tag.clone(), json!(value));
            if let Value::Object(rest) = obj_example(obj, defs, shared) {
                instance.extend(rest);
            }
            Value::Object(instance)
        }
        Shape::Untagged { .. } => json!(7),
        Shape::Ref { shared: true, key } => example(&shared[key], defs, shared),
        Shape::Ref { shared: false, key } => example(&defs[key], defs, shared),
    }
}

fn obj_example(
    obj: &Obj,
    defs: &BTreeMap<String, Shape>,
    shared: &BTreeMap<String, Shape>,
) -> Value {
    let mut instance = Map::new();
    for prop in &obj.props {
        instance.insert(prop.name.clone(), example(&prop.shape, defs, shared));
    }
    if obj.extra {
        instance.insert("x-extra".to_owned(), json!({"undeclared": [1, "two"]}));
    }
    Value::Object(instance)
}

/// A schema file: the root object with its `$defs`, a description, an example and `x-eventsmith`.
fn doc_json(
    doc: &Doc,
    ref_prefix: &str,
    shared: &BTreeMap<String, Shape>,
    annotations: Value,
) -> Value {
    let mut schema = Map::new();
    schema.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    if let Value::Object(root) = obj_json(&doc.root, ref_prefix) {
        schema.extend(root);
    }
    schema.insert("description".into(), json!("Adversarial names."));
    if !doc.defs.is_empty() {
        let defs: Map<String, Value> = doc
            .defs
            .iter()
            .map(|(k, s)| (k.clone(), shape_json(s, ref_prefix)))
            .collect();
        schema.insert("$defs".into(), Value::Object(defs));
    }
    schema.insert(
        "examples".into(),
        json!([obj_example(&doc.root, &doc.defs, shared)]),
    );
    if !annotations.is_null() {
        schema.insert("x-eventsmith".into(), annotations);
    }
    Value::Object(schema)
}

fn write(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().expect("a parent")).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap() + "\n").unwrap();
}

/// Writes the project's files under `dir`.
fn write_project(project: &Project, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("eventsmith.toml"),
        format!("[project]\nname = \"adversarial{}\"\n", project.index),
    )
    .unwrap();
    let schema = dir.join("schema");
    let shared = &project.shared;
    for aggregate in &project.aggregates {
        let annotations = if aggregate.id {
            json!({"id": {"type": "string"}})
        } else {
            Value::Null
        };
        write(
            &schema.join(format!("aggregates/{}.json", aggregate.name)),
            &doc_json(&aggregate.state, "../", shared, annotations),
        );
        for event in &aggregate.events {
            for (n, version) in event.versions.iter().enumerate() {
                write(
                    &schema.join(format!(
                        "events/{}/{}.v{}.json",
                        aggregate.name,
                        event.name,
                        n + 1
                    )),
                    &doc_json(
                        version,
                        "../../",
                        shared,
                        match &version.convert {
                            Some((field, using)) => json!({"upcast": {"rules": [
                                {"convert": {"field": field, "using": using}}
                            ]}}),
                            None => Value::Null,
                        },
                    ),
                );
            }
        }
        for command in &aggregate.commands {
            write(
                &schema.join(format!("commands/{}/{}.json", aggregate.name, command.name)),
                &doc_json(
                    &command.doc,
                    "../../",
                    shared,
                    json!({"emits": [format!("{}.{}", aggregate.name, command.emits)]}),
                ),
            );
        }
    }
    for projection in &project.projections {
        write(
            &schema.join(format!("projections/{}.json", projection.name)),
            &doc_json(
                &projection.doc,
                "../",
                shared,
                json!({"key": projection.key, "subscribes": projection.subscribes}),
            ),
        );
    }
    if !shared.is_empty() {
        let defs: Map<String, Value> = shared
            .iter()
            .map(|(k, s)| (k.clone(), shape_json(s, "../")))
            .collect();
        write(
            &schema.join("types/shared.json"),
            &json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs}),
        );
    }
}

/// Every file of the project, for a failure message.
fn listing(dir: &Path) -> String {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut text = String::new();
    for file in files {
        let shown = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        let _ = writeln!(
            text,
            "--- {shown}\n{}",
            std::fs::read_to_string(&file).unwrap_or_default()
        );
    }
    text
}

// ---------------------------------------------------------------------------------------------
// The crate: generated code and code written against it.

fn literal(text: &str) -> String {
    format!("{text:?}")
}

fn rust_path(path: &[String]) -> String {
    format!("events::{}", path.join("::"))
}

/// The Rust spelling of a converted field's type, from the `Debug` form of the API's `TypeApi`
/// (which this crate cannot name): `I64`, `String`, `Option(I64)`.
fn type_text(debug: &str) -> String {
    if let Some(inner) = debug
        .strip_prefix("Option(")
        .and_then(|d| d.strip_suffix(')'))
    {
        return format!("::std::option::Option<{}>", type_text(inner));
    }
    match debug {
        "Bool" => "bool".into(),
        "I32" => "i32".into(),
        "I64" => "i64".into(),
        "U32" => "u32".into(),
        "U64" => "u64".into(),
        "String" => "::std::string::String".into(),
        other => panic!("no converted field has the type {other}"),
    }
}

fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

/// The module of one project: its generated code as `events`, its rules and handlers, and
/// `check()`, which decodes and re-encodes every example and runs every command.
fn module(project: &Project, generated: &eventsmith_core::commands::generate::Generated) -> String {
    let api = &generated.api;
    let shared = &project.shared;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mod p{} {{\nmod events {{\n{}\n}}",
        project.index, generated.source
    );
    let mut check = String::new();
    check.push_str("    type Json = ::eventsmith::serde_json::Value;\n");
    // Every example of every event version, through DomainEvent.
    for aggregate in &project.aggregates {
        for event in &aggregate.events {
            for (n, version) in event.versions.iter().enumerate() {
                let instance = obj_example(&version.root, &version.defs, shared);
                // What the latest version re-encodes: converted fields become the conversion's
                // result (`Default::default()`: 0, or absent for an optional field).
                let mut expected = instance.clone();
                for later in &event.versions[n + 1..] {
                    if let Some((field, _)) = &later.convert {
                        let required = later
                            .root
                            .props
                            .iter()
                            .any(|p| &p.name == field && p.required);
                        let object = expected.as_object_mut().expect("an object");
                        if required {
                            object.insert(field.clone(), json!(0));
                        } else {
                            object.remove(field);
                        }
                    }
                }
                let _ = writeln!(
                    check,
                    "    {{\n        let event = <events::DomainEvent as ::eventsmith::EventSet>::decode({}, {}, {}.as_bytes()).expect({});\n        let back: Json = ::eventsmith::serde_json::from_slice(&::eventsmith::EventSet::encode(&event).expect(\"encodes\")).expect(\"JSON\");\n        let want: Json = ::eventsmith::serde_json::from_str({}).expect(\"JSON\");\n        assert_eq!(back, want, {});\n    }}",
                    literal(&format!("{}.{}", aggregate.name, event.name)),
                    n + 1,
                    literal(&json_text(&instance)),
                    literal(&format!(
                        "{}.{} v{} decodes",
                        aggregate.name,
                        event.name,
                        n + 1
                    )),
                    literal(&json_text(&expected)),
                    literal(&format!(
                        "{}.{} v{} re-encodes",
                        aggregate.name,
                        event.name,
                        n + 1
                    )),
                );
            }
        }
    }
    for (a, rules) in api.aggregates.iter().enumerate() {
        let aggregate = project
            .aggregates
            .iter()
            .find(|x| x.name == rules.name)
            .expect("an aggregate of the project");
        let state = rust_path(&rules.state);
        let state_example = json_text(&obj_example(
            &aggregate.state.root,
            &aggregate.state.defs,
            shared,
        ));
        let _ = writeln!(out, "#[allow(dead_code)]\nstruct Rules{a};");
        let _ = writeln!(out, "impl {} for Rules{a} {{", rust_path(&rules.rules));
        for decide in &rules.decides {
            let command = aggregate
                .commands
                .iter()
                .find(|c| c.name == decide.command)
                .expect("a command");
            let event = aggregate
                .events
                .iter()
                .find(|e| e.name == command.emits)
                .expect("an event");
            let latest = event.versions.last().expect("a version");
            let _ = writeln!(
                out,
                "    fn {}(_state: ::std::option::Option<&{state}>, _command: &{}) -> ::std::result::Result<::std::vec::Vec<{}>, ::eventsmith::Rejection> {{\n        ::std::result::Result::Ok(::std::vec![<{} as ::eventsmith::EventSet>::decode({}, {}, {}.as_bytes()).expect(\"the emitted event decodes\")])\n    }}",
                decide.method,
                rust_path(&decide.command_type),
                rust_path(&rules.event_enum),
                rust_path(&rules.event_enum),
                literal(&format!("{}.{}", aggregate.name, event.name)),
                event.versions.len(),
                literal(&json_text(&obj_example(&latest.root, &latest.defs, shared))),
            );
        }
        for apply in &rules.applies {
            let _ = writeln!(
                out,
                "    fn {}(state: &mut ::std::option::Option<{state}>, _event: &{}) {{\n        *state = ::std::option::Option::Some(::eventsmith::serde_json::from_str({}).expect(\"the state decodes\"));\n    }}",
                apply.method,
                rust_path(&apply.event.ty),
                literal(&state_example),
            );
        }
        out.push_str("}\n");
        // The state round-trips; each command decodes by name, decides and applies.
        let _ = writeln!(
            check,
            "    {{\n        let state: {state} = ::eventsmith::serde_json::from_str({}).expect(\"the state decodes\");\n        let back = ::eventsmith::serde_json::to_value(&state).expect(\"encodes\");\n        assert_eq!(back, ::eventsmith::serde_json::from_str::<Json>({}).expect(\"JSON\"), {});\n        let _ = <{}<Rules{a}> as ::eventsmith::Aggregate>::CATEGORY;\n    }}",
            literal(&state_example),
            literal(&state_example),
            literal(&format!("the state of {}", aggregate.name)),
            rust_path(&rules.aggregate),
        );
        for decide in &rules.decides {
            let command = aggregate
                .commands
                .iter()
                .find(|c| c.name == decide.command)
                .expect("a command");
            let _ = writeln!(
                check,
                "    {{\n        type A = {}<Rules{a}>;\n        let command = <<A as ::eventsmith::Aggregate>::Command as ::eventsmith::CommandSet>::decode({}, {}.as_bytes()).expect({});\n        let events = <A as ::eventsmith::Aggregate>::decide(::std::option::Option::None, &command).expect(\"decides\");\n        let mut state = ::std::option::Option::None;\n        for event in &events {{\n            <A as ::eventsmith::Aggregate>::apply(&mut state, event);\n        }}\n        assert!(state.is_some());\n    }}",
                rust_path(&rules.aggregate),
                literal(&command.name),
                literal(&json_text(&obj_example(
                    &command.doc.root,
                    &command.doc.defs,
                    shared
                ))),
                literal(&format!(
                    "command {}.{} decodes",
                    aggregate.name, command.name
                )),
            );
        }
    }
    for conversions in &api.conversions {
        let _ = writeln!(
            out,
            "impl {} for {} {{",
            rust_path(&conversions.conversions),
            rust_path(&conversions.upcasters)
        );
        for method in &conversions.methods {
            let _ = writeln!(
                out,
                "    fn {}(value: {}) -> ::std::result::Result<{}, ::eventsmith::UpcastError> {{\n        let _ = value;\n        ::std::result::Result::Ok(::std::default::Default::default())\n    }}",
                method.name,
                type_text(&format!("{:?}", method.input)),
                type_text(&format!("{:?}", method.output)),
            );
        }
        out.push_str("}\n");
    }
    for (p, handler) in api.projections.iter().enumerate() {
        let projection = project
            .projections
            .iter()
            .find(|x| x.name == handler.name)
            .expect("a projection of the project");
        let row = rust_path(&handler.row);
        let _ = writeln!(out, "#[allow(dead_code)]\nstruct Handler{p};");
        let _ = writeln!(
            out,
            "impl {} for Handler{p} {{",
            rust_path(&handler.handler)
        );
        for on in &handler.handles {
            let _ = writeln!(
                out,
                "    fn {}(_rows: &::eventsmith::read_model::Table<'_, {row}>, _event: &{}, _envelope: &::eventsmith::store::Envelope) -> ::std::result::Result<(), ::eventsmith::projection::HandlerError> {{\n        ::std::result::Result::Ok(())\n    }}",
                on.method,
                rust_path(&on.event.ty),
            );
        }
        out.push_str("}\n");
        let row_example = json_text(&obj_example(
            &projection.doc.root,
            &projection.doc.defs,
            shared,
        ));
        let _ = writeln!(
            check,
            "    {{\n        let row: {row} = ::eventsmith::serde_json::from_str({}).expect(\"the row decodes\");\n        assert_eq!(::eventsmith::serde_json::to_value(&row).expect(\"encodes\"), ::eventsmith::serde_json::from_str::<Json>({}).expect(\"JSON\"), {});\n        let projection = {}::<Handler{p}>::default();",
            literal(&row_example),
            literal(&row_example),
            literal(&format!("the row of {}", projection.name)),
            rust_path(&handler.projection),
        );
        for event_type in &projection.subscribes {
            let _ = writeln!(
                check,
                "        assert!(::eventsmith::projection::Projection::handles(&projection, {}));",
                literal(event_type)
            );
        }
        check.push_str("    }\n");
    }
    let _ = writeln!(out, "pub fn check() {{\n{check}}}\n}}");
    out
}

// ---------------------------------------------------------------------------------------------

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} is not a number: {v}"))
        })
        .unwrap_or(default)
}

#[test]
fn adversarial_names_compile() {
    let cases = env_number("EVENTSMITH_NAME_CASES", 8);
    let from = env_number("EVENTSMITH_NAME_FROM", 0);
    let batch = env_number("EVENTSMITH_NAME_BATCH", 200).max(1);
    let dump = std::env::var_os("EVENTSMITH_NAME_DUMP").map(PathBuf::from);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/codegen-golden/adversarial");
    std::fs::create_dir_all(&out).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let (mut aggregates, mut events, mut versions, mut commands, mut projections, mut gave_way) =
        (0, 0, 0, 0, 0, 0);
    let mut crates = Vec::new();
    let indices: Vec<u64> = (from..from + cases).collect();
    for chunk in indices.chunks(batch as usize) {
        let mut source = String::from("#![deny(warnings)]\n\n");
        for &index in chunk {
            let project = project(index);
            let dir = match &dump {
                Some(dump) => dump.join(format!("p{index}")),
                None => temp.path().join(format!("p{index}")),
            };
            if dir.exists() {
                std::fs::remove_dir_all(&dir).unwrap();
            }
            write_project(&project, &dir);
            let context = Context {
                cwd: dir.clone(),
                project: Some(dir.clone()),
                verbosity: Verbosity::Normal,
            };
            let outcome = validate(&context)
                .unwrap_or_else(|failure| panic!("p{index}: {}", failure.render()));
            if outcome.status != Status::Success {
                panic!(
                    "p{index} does not validate:\n{}\n{}",
                    outcome.render(Format::Human, false).stdout,
                    listing(&dir)
                );
            }
            let generated = code(&dir, &Settings::default()).unwrap_or_else(|failed| {
                panic!(
                    "p{index} generates nothing:\n{}\n{}",
                    failed.text,
                    listing(&dir)
                )
            });
            gave_way += outcome
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning && d.code == "name-gives-way")
                .count();
            aggregates += project.aggregates.len();
            for aggregate in &project.aggregates {
                events += aggregate.events.len();
                versions += aggregate
                    .events
                    .iter()
                    .map(|e| e.versions.len())
                    .sum::<usize>();
                commands += aggregate.commands.len();
            }
            projections += project.projections.len();
            source.push_str(&module(&project, &generated));
            source.push('\n');
        }
        source.push_str("fn main() {\n");
        for &index in chunk {
            let _ = writeln!(source, "    p{index}::check();");
        }
        source.push_str("}\n");
        let file = out.join(format!("names_{}_{}.rs", chunk[0], chunk[chunk.len() - 1]));
        std::fs::write(&file, source).unwrap();
        crates.push(file);
    }
    eprintln!(
        "adversarial names: projects {from}..{} ({aggregates} aggregates, {events} events, {versions} versions, {commands} commands, {projections} projections; {gave_way} name-gives-way warnings) in {} crate(s)",
        from + cases,
        crates.len()
    );
    let tests = trybuild::TestCases::new();
    for file in &crates {
        tests.pass(file);
    }
}
