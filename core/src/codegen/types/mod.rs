//! The type space: Rust types planned from schema nodes. A node reached through `$ref` becomes
//! one named type shared by every reference to it; a type that contains itself is boxed. Each
//! named type lives in a module: an event version's own types in its version module, types from
//! any other file in the shared `types` module.

mod choices;
mod coverage;
mod objects;
mod plan;

pub use coverage::{Unenforced, keyword_pointer};

use plan::{Kind, shape_name, unboxed};

use super::names::{Scope, field_name, type_name};
use crate::diagnostic::Diagnostic;
use crate::schema::pattern::RustPattern;
use crate::schema::store::{DocId, NodeRef, Store};
use crate::schema::view::View;
use crate::text::pointer;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// A Rust type, as generated code names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `bool`
    Bool,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `serde_json::Number`: keeps `45` and `45.0` apart, so a payload re-encodes exactly (a float
    /// would turn `45` into `45.0`).
    Number,
    /// `String`
    String,
    /// A string with a known `format`: a validated string type of the runtime.
    Format(Format),
    /// `serde_json::Value`: a schema eventsmith does not map to a narrower type.
    Json,
    /// `Vec<T>`
    Vec(Box<Ty>),
    /// `IndexMap<String, T>`: a map keeps its keys in the payload's order.
    Map(Box<Ty>),
    /// `(A, B, …)` for a closed tuple.
    Tuple(Vec<Ty>),
    /// `Option<T>` for a nullable value.
    Nullable(Box<Ty>),
    /// `Box<T>`, where a type contains itself.
    Boxed(Box<Ty>),
    /// A generated type, by index in [`TypeSpace::defs`].
    Named(usize),
    /// The inner type, with constraints checked after decoding.
    Checked(Box<Ty>, Box<Checks>),
}

impl Ty {
    /// The type without its constraints (at every level), for comparing shapes.
    pub fn shape(&self) -> Ty {
        match self {
            Ty::Checked(inner, _) => inner.shape(),
            Ty::Vec(inner) => Ty::Vec(Box::new(inner.shape())),
            Ty::Map(inner) => Ty::Map(Box::new(inner.shape())),
            Ty::Nullable(inner) => Ty::Nullable(Box::new(inner.shape())),
            Ty::Boxed(inner) => Ty::Boxed(Box::new(inner.shape())),
            Ty::Tuple(items) => Ty::Tuple(items.iter().map(Ty::shape).collect()),
            other => other.clone(),
        }
    }

    /// The type with its outer constraints removed.
    pub fn unchecked(&self) -> &Ty {
        match self {
            Ty::Checked(inner, _) => inner.unchecked(),
            other => other,
        }
    }
}

/// The string formats mapped to validated types of the runtime's `format` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `date-time`
    DateTime,
    /// `date`
    Date,
    /// `time`
    Time,
    /// `uuid`
    Uuid,
    /// `email`
    Email,
    /// `uri`
    Uri,
    /// `uri-reference`
    UriReference,
    /// `ipv4`
    Ipv4,
    /// `ipv6`
    Ipv6,
    /// `hostname`
    Hostname,
}

impl Format {
    /// The format for a `format` value, if eventsmith maps it.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "time" => Format::Time,
            "uuid" => Format::Uuid,
            "email" => Format::Email,
            "uri" => Format::Uri,
            "uri-reference" => Format::UriReference,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "hostname" => Format::Hostname,
            _ => return None,
        })
    }

    /// The runtime type's name in `eventsmith::format`.
    pub fn type_name(self) -> &'static str {
        match self {
            Format::DateTime => "DateTime",
            Format::Date => "Date",
            Format::Time => "Time",
            Format::Uuid => "Uuid",
            Format::Email => "Email",
            Format::Uri => "Uri",
            Format::UriReference => "UriReference",
            Format::Ipv4 => "Ipv4",
            Format::Ipv6 => "Ipv6",
            Format::Hostname => "Hostname",
        }
    }
}

/// Constraints serde cannot express, checked after decoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    /// `minLength`
    pub min_length: Option<u64>,
    /// `maxLength`
    pub max_length: Option<u64>,
    /// `pattern` (one that the Rust regex crate compiles).
    pub pattern: Option<RustPattern>,
    /// `minimum` / `exclusiveMinimum`: (bound, exclusive).
    pub minimum: Option<(f64, bool)>,
    /// `maximum` / `exclusiveMaximum`: (bound, exclusive).
    pub maximum: Option<(f64, bool)>,
    /// `multipleOf`
    pub multiple_of: Option<f64>,
    /// `minItems`
    pub min_items: Option<u64>,
    /// `maxItems`
    pub max_items: Option<u64>,
    /// `uniqueItems: true`
    pub unique_items: bool,
    /// `minProperties`
    pub min_properties: Option<u64>,
    /// `maxProperties`
    pub max_properties: Option<u64>,
    /// The patterns of `patternProperties` when no other key is allowed: every key must match one.
    pub key_patterns: Vec<RustPattern>,
    /// `propertyNames`: the constraints on every key (lengths, a pattern, allowed values).
    pub property_names: Option<Box<Checks>>,
    /// `const` or `enum` of values without a Rust enum of their own, as JSON texts.
    pub one_of_values: Vec<String>,
    /// The subschema to check the value against, for keywords its type does not enforce.
    pub schema: Option<SchemaCheck>,
}

/// A subschema a value is checked against after decoding, because its type leaves a keyword
/// of it unenforced.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaCheck {
    /// The subschema, self-contained (`schema::bundle::subschema_text`).
    pub text: String,
    /// The first keyword its type does not enforce, for the generated comment.
    pub keyword: String,
    /// Where that keyword is in its file.
    pub pointer: String,
}

impl Checks {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self == &Checks::default()
    }
}

/// One field of a generated struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The Rust name.
    pub rust: String,
    /// The JSON property name.
    pub json: String,
    /// Its type (nullable values are `Ty::Nullable`).
    pub ty: Ty,
    /// Whether the property is required (an optional one is absent, not null, when unset).
    pub required: bool,
    /// The description.
    pub doc: Option<String>,
    /// The schema's `default`, offered by an accessor (absent stays absent on a round trip).
    pub default: Option<Value>,
    /// `deprecated: true`
    pub deprecated: bool,
}

/// The flattened map of an open struct's undeclared properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Additional {
    /// The Rust field name.
    pub rust: String,
    /// The type of each value (`serde_json::Value` unless `additionalProperties` has a schema).
    pub ty: Ty,
    /// The checks on the map of undeclared properties: `patternProperties` keys in a closed
    /// object, `propertyNames`.
    pub checks: Box<Checks>,
}

/// One alternative of a `oneOf`/`anyOf` enum.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The Rust variant name.
    pub rust: String,
    /// The discriminator value, for a tagged enum.
    pub tag: Option<String>,
    /// The payload type.
    pub ty: Ty,
    /// From the alternative's `title` and `description`.
    pub doc: Option<String>,
}

/// What a generated type is.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A struct; `closed` when undeclared properties are rejected.
    Struct {
        /// Its fields, in schema order.
        fields: Vec<Field>,
        /// `additionalProperties: false` (or `unevaluatedProperties: false`).
        closed: bool,
        /// Where an open object keeps undeclared properties, so they survive a round trip.
        additional: Option<Additional>,
    },
    /// An enum of string values: (Rust variant, JSON value).
    Enum {
        /// The variants, in schema order.
        variants: Vec<(String, String)>,
    },
    /// `oneOf`/`anyOf` of objects told apart by a string `const` property: internally tagged.
    Tagged {
        /// The discriminating property.
        tag: String,
        /// The alternatives.
        variants: Vec<Variant>,
    },
    /// `oneOf`/`anyOf` told apart by shape: untagged, tried in order.
    Untagged {
        /// The alternatives.
        variants: Vec<Variant>,
    },
}

/// A generated type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    /// The Rust name.
    pub name: String,
    /// The module it is emitted in, by index in [`TypeSpace::modules`].
    pub module: usize,
    /// From `title` and `description`.
    pub doc: Option<String>,
    /// `Some(note)` when deprecated.
    pub deprecated: Option<String>,
    /// Its shape.
    pub item: Item,
}

/// Types planned from the schemas of one store.
pub struct TypeSpace<'a> {
    store: &'a Store,
    /// Every generated type, in the order first reached.
    pub defs: Vec<TypeDef>,
    /// Module paths; 0 is the root.
    pub modules: Vec<Vec<String>>,
    /// Warnings: constraints that cannot be enforced.
    pub diagnostics: Vec<Diagnostic>,
    module_of_doc: HashMap<DocId, usize>,
    module_index: HashMap<Vec<String>, usize>,
    scopes: Vec<Scope>,
    /// Names claimed for an item of a module by its role (`state`), so every pass that names
    /// the item gets the one name.
    items: HashMap<(usize, &'static str), String>,
    by_node: HashMap<(NodeRef, Option<String>), usize>,
    building: Vec<usize>,
    /// Whether types check the subschemas whose keywords they leave unenforced (events' types;
    /// see [`TypeSpace::check_subschemas`]).
    subschema_checks: bool,
    /// The subschema check of each node planned so far (`None`: it needs none, or has none).
    schema_checks: HashMap<NodeRef, Option<SchemaCheck>>,
    /// The nodes whose every planned type carries its subschema check.
    checked_subschemas: HashSet<NodeRef>,
}

/// The module of types that are not an event version's own.
pub const SHARED_MODULE: &str = "types";

impl<'a> TypeSpace<'a> {
    /// An empty type space over `store`.
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            defs: Vec::new(),
            modules: vec![Vec::new()],
            diagnostics: Vec::new(),
            module_of_doc: HashMap::new(),
            module_index: HashMap::from([(Vec::new(), 0)]),
            scopes: vec![Scope::new()],
            items: HashMap::new(),
            by_node: HashMap::new(),
            building: Vec::new(),
            subschema_checks: false,
            schema_checks: HashMap::new(),
            checked_subschemas: HashSet::new(),
        }
    }

    /// From now on, a type that leaves a keyword of its node unenforced checks the value against
    /// that subschema after decoding.
    pub fn check_subschemas(&mut self) {
        self.subschema_checks = true;
    }

    /// Whether the types planned for `root` check every keyword they leave unenforced against
    /// its subschema, so a payload of `root` needs no check against the whole schema. Not when
    /// the root itself (a struct, whose own keywords no use site checks) holds one.
    pub fn checks_subschemas_of(&self, root: &NodeRef) -> bool {
        self.unenforced_everywhere(root)
            .iter()
            .all(|found| &found.at != root && self.checked_subschemas.contains(&found.at))
    }

    /// The store the schemas are read from.
    pub fn store(&self) -> &'a Store {
        self.store
    }

    /// The module at `path`, created if new.
    pub fn module(&mut self, path: &[String]) -> usize {
        if let Some(&index) = self.module_index.get(path) {
            return index;
        }
        self.module_index.insert(path.to_vec(), self.modules.len());
        self.modules.push(path.to_vec());
        self.scopes.push(Scope::new());
        self.modules.len() - 1
    }

    /// Types planned from `doc` go to `module`.
    pub fn assign(&mut self, doc: DocId, module: usize) {
        self.module_of_doc.insert(doc, module);
    }

    /// Reserves a type name in a module (an event's name, before any nested type can take it).
    pub fn claim(&mut self, module: usize, name: &str) -> String {
        self.scopes[module].claim(name.to_owned())
    }

    /// The name of the item of `module` that plays `role`: claimed as `name` the first time,
    /// the same name afterwards.
    pub fn claim_item(&mut self, module: usize, role: &'static str, name: &str) -> String {
        if let Some(claimed) = self.items.get(&(module, role)) {
            return claimed.clone();
        }
        let claimed = self.claim(module, name);
        self.items.insert((module, role), claimed.clone());
        claimed
    }

    /// The type of an event version's root, named `name` (already claimed in its module).
    pub fn add_root(&mut self, node: &NodeRef, name: &str) -> Ty {
        // An event's payload is an object: a root with `properties` is a struct even without
        // `"type": "object"` (whose absence then sends the payload to the schema check too).
        let untyped_object = self
            .object(node)
            .is_some_and(|o| !o.contains_key("type") && o.contains_key("properties"));
        if (self.is_object_like(node) || untyped_object)
            && !self.by_node.contains_key(&(node.clone(), None))
        {
            return self.named_as(node, name, None, Some(name.to_owned()));
        }
        self.ty(node, name)
    }

    fn module_of(&mut self, doc: DocId) -> usize {
        match self.module_of_doc.get(&doc) {
            Some(&module) => module,
            None => self.module(&[SHARED_MODULE.to_owned()]),
        }
    }
}

/// A doc comment from a title and a description.
pub fn docs(title: Option<&str>, description: Option<&str>) -> Option<String> {
    match (title, description) {
        (Some(t), Some(d)) => Some(format!("{t}\n\n{d}")),
        (Some(t), None) => Some(t.to_owned()),
        (None, Some(d)) => Some(d.to_owned()),
        (None, None) => None,
    }
}
