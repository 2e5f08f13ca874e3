//! The type space: Rust types planned from schema nodes. A node reached through `$ref` becomes
//! one named type shared by every reference to it; a type that contains itself is boxed. Each
//! named type lives in a module: an event version's own types in its version module, types from
//! any other file in the shared `types` module.

use super::names::{Scope, field_name, type_name};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::schema::pattern::RustPattern;
use crate::schema::store::{DocId, NodeRef, Store};
use crate::schema::view::View;
use crate::text::pointer;
use serde_json::{Map, Value};
use std::collections::HashMap;

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
    /// `BTreeMap<String, T>`
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
    by_node: HashMap<(NodeRef, Option<String>), usize>,
    building: Vec<usize>,
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
            by_node: HashMap::new(),
            building: Vec::new(),
        }
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

    /// The type of an event version's root, named `name` (already claimed in its module).
    pub fn add_root(&mut self, node: &NodeRef, name: &str) -> Ty {
        if self.is_object_like(node) && !self.by_node.contains_key(&(node.clone(), None)) {
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

    fn object(&self, node: &NodeRef) -> Option<&'a Map<String, Value>> {
        self.store.value(node).and_then(Value::as_object)
    }

    fn child(node: &NodeRef, tokens: &[&str]) -> NodeRef {
        let mut pointer = node.pointer.clone();
        for token in tokens {
            pointer = pointer::push(&pointer, token);
        }
        NodeRef {
            doc: node.doc,
            pointer,
        }
    }

    /// A node without `$ref` (in draft-07 the siblings of `$ref` are ignored).
    fn is_pure_ref(&self, node: &NodeRef, object: &Map<String, Value>) -> bool {
        object.contains_key("$ref")
            && (self.store.draft(node.doc) == Some(crate::schema::draft::Draft::Draft7)
                || object.keys().all(|k| !TYPE_KEYWORDS.contains(&k.as_str())))
    }

    fn is_object_like(&self, node: &NodeRef) -> bool {
        let Some(object) = self.object(node) else {
            return false;
        };
        if object.contains_key("$ref") && self.is_pure_ref(node, object) {
            return false;
        }
        match self.kind(object) {
            Kind::Object => true,
            Kind::AllOf => self.all_of_objects(node),
            _ => false,
        }
    }

    fn kind(&self, object: &Map<String, Value>) -> Kind {
        let types = types_of(object);
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        if object.contains_key("const") {
            return Kind::Const;
        }
        if object.contains_key("enum") {
            return Kind::Enum;
        }
        if non_null.len() > 1 {
            return Kind::Json;
        }
        if let Some(choice) = ["oneOf", "anyOf"]
            .into_iter()
            .find(|k| object.contains_key(*k))
            && non_null.first().is_none_or(|t| *t == "object")
            && !object.contains_key("properties")
        {
            return Kind::Choice(choice);
        }
        if object.contains_key("allOf") && non_null.first().is_none_or(|t| *t == "object") {
            return Kind::AllOf;
        }
        match non_null.first().copied() {
            Some("object") if object.contains_key("properties") => Kind::Object,
            // A closed object without properties is an empty struct, not a map.
            Some("object")
                if object.get("additionalProperties") == Some(&Value::Bool(false))
                    && !has_pattern_properties(object) =>
            {
                Kind::Object
            }
            Some("object") => Kind::Map,
            Some("string") => Kind::String,
            Some("integer") => Kind::Integer,
            Some("number") => Kind::Number,
            Some("boolean") => Kind::Boolean,
            Some("array") => Kind::Array,
            Some(_) => Kind::Json,
            None if object.contains_key("properties") => Kind::Object,
            None if object.contains_key("items") || object.contains_key("prefixItems") => {
                Kind::Array
            }
            None => Kind::Json,
        }
    }

    fn ty(&mut self, node: &NodeRef, hint: &str) -> Ty {
        let Some(object) = self.object(node) else {
            return Ty::Json;
        };
        // A reference names a shared type: the target's, with the siblings' constraints.
        if object.contains_key("$ref") {
            let target = match self.store.ref_target(node) {
                Some(Ok(target)) => target.clone(),
                _ => return Ty::Json,
            };
            if self.is_pure_ref(node, object) {
                let name = pointer::tokens(&target.pointer)
                    .and_then(|t| t.last().cloned())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| hint.to_owned());
                let ty = self.ty(&target, &name);
                let draft7 =
                    self.store.draft(node.doc) == Some(crate::schema::draft::Draft::Draft7);
                return if draft7 {
                    ty
                } else {
                    self.checked(node, object, ty)
                };
            }
        }
        let nullable = types_of(object).contains(&"null")
            || object
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|values| values.contains(&Value::Null));
        let ty = match self.kind(object) {
            Kind::AllOf if !self.all_of_objects(node) => self.all_of_value(node, object, hint),
            Kind::Object | Kind::AllOf => self.named(node, hint, None),
            Kind::Choice(keyword) => self.choice(node, object, keyword, hint),
            Kind::Map => {
                let view = View::resolve(self.store, node);
                Ty::Map(Box::new(self.extra_values(&view, &format!("{hint}Value"))))
            }
            Kind::Enum | Kind::Const => self.literals(node, object, hint),
            Kind::String => match object
                .get("format")
                .and_then(Value::as_str)
                .and_then(Format::from_name)
            {
                Some(format) => Ty::Format(format),
                None => Ty::String,
            },
            Kind::Integer => integer(object),
            Kind::Number => Ty::Number,
            Kind::Boolean => Ty::Bool,
            Kind::Array => self.array(node, object, hint),
            Kind::Json => Ty::Json,
        };
        let ty = self.checked(node, object, ty);
        match ty {
            Ty::Nullable(_) => ty,
            ty if nullable => Ty::Nullable(Box::new(ty)),
            ty => ty,
        }
    }

    /// Whether an `allOf` merges objects (a struct), rather than wrapping one value.
    fn all_of_objects(&self, node: &NodeRef) -> bool {
        let mut members = Vec::new();
        self.collect_members(node, &mut members, 0);
        members.iter().any(|member| {
            let view = View::resolve(self.store, member);
            view.has("properties")
                || view.get("type").is_some_and(|(t, _)| {
                    t == "object"
                        || t.as_array()
                            .is_some_and(|a| a.iter().any(|t| t == "object"))
                })
        })
    }

    /// An `allOf` that is not about objects: the type of its one member (a draft-07 way to give
    /// a `$ref` a description), with the node's own constraints; a JSON value for several.
    fn all_of_value(&mut self, node: &NodeRef, object: &Map<String, Value>, hint: &str) -> Ty {
        match object.get("allOf") {
            Some(Value::Array(members)) if members.len() == 1 => {
                self.ty(&Self::child(node, &["allOf", "0"]), hint)
            }
            _ => Ty::Json,
        }
    }

    /// `enum` and `const`: a Rust enum when every value is a string, otherwise the values' JSON
    /// type with the allowed values checked.
    fn literals(&mut self, node: &NodeRef, object: &Map<String, Value>, hint: &str) -> Ty {
        let values: Vec<&Value> = match (object.get("const"), object.get("enum")) {
            (Some(value), _) => vec![value],
            (None, Some(Value::Array(values))) => values.iter().filter(|v| !v.is_null()).collect(),
            _ => Vec::new(),
        };
        if values.is_empty() {
            // `enum: [null]` (the nullable wrapper adds the `Option`) or an empty enum.
            return Ty::Json;
        }
        if values.iter().all(|v| v.is_string()) {
            return self.named(node, hint, None);
        }
        let base = if values.iter().all(|v| v.is_boolean()) {
            Ty::Bool
        } else if values.iter().all(|v| v.is_i64()) {
            Ty::I64
        } else if values.iter().all(|v| v.is_u64()) {
            Ty::U64
        } else if values.iter().all(|v| v.is_number()) {
            Ty::Number
        } else {
            Ty::Json
        };
        let checks = Checks {
            one_of_values: values.iter().map(|v| v.to_string()).collect(),
            ..Checks::default()
        };
        Ty::Checked(Box::new(base), Box::new(checks))
    }

    fn array(&mut self, node: &NodeRef, object: &Map<String, Value>, hint: &str) -> Ty {
        // A closed tuple whose every position is required maps to a Rust tuple; anything looser
        // (a shorter array is valid) stays a vector.
        let (positions, rest) = match (object.get("prefixItems"), object.get("items")) {
            (Some(Value::Array(items)), rest) => (Some(("prefixItems", items)), rest),
            (None, Some(Value::Array(items))) => {
                (Some(("items", items)), object.get("additionalItems"))
            }
            _ => (None, None),
        };
        if let Some((keyword, items)) = positions {
            let closed = rest == Some(&Value::Bool(false));
            let min = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if closed && min as usize >= items.len() && !items.is_empty() {
                let tys = (0..items.len())
                    .map(|i| {
                        let at = Self::child(node, &[keyword, &i.to_string()]);
                        self.ty(&at, &format!("{hint}{i}"))
                    })
                    .collect();
                return Ty::Tuple(tys);
            }
            return Ty::Vec(Box::new(Ty::Json));
        }
        match object.get("items") {
            Some(Value::Object(_)) | Some(Value::Bool(true)) => {
                let at = Self::child(node, &["items"]);
                Ty::Vec(Box::new(unboxed(self.ty(&at, &format!("{hint}Item")))))
            }
            _ => Ty::Vec(Box::new(Ty::Json)),
        }
    }

    /// `oneOf`/`anyOf`: `Option` of the other for a pair with `null`, a tagged enum when every
    /// alternative is an object with a required string `const` property of one name, otherwise
    /// an untagged enum.
    fn choice(
        &mut self,
        node: &NodeRef,
        object: &Map<String, Value>,
        keyword: &str,
        hint: &str,
    ) -> Ty {
        let Some(Value::Array(alternatives)) = object.get(keyword) else {
            return Ty::Json;
        };
        let nodes: Vec<NodeRef> = (0..alternatives.len())
            .map(|i| Self::child(node, &[keyword, &i.to_string()]))
            .collect();
        let is_null = |space: &Self, at: &NodeRef| {
            let view = View::resolve(space.store, at);
            view.get("type").is_some_and(|(t, _)| t == "null")
        };
        let non_null: Vec<&NodeRef> = nodes.iter().filter(|n| !is_null(self, n)).collect();
        if non_null.len() == 1 && nodes.len() == 2 {
            let inner = self.ty(non_null[0], hint);
            return match inner {
                Ty::Nullable(_) => inner,
                inner => Ty::Nullable(Box::new(inner)),
            };
        }
        let ty = self.named(node, hint, None);
        if nodes.len() != non_null.len() {
            Ty::Nullable(Box::new(ty))
        } else {
            ty
        }
    }

    /// The item of a `oneOf`/`anyOf` node.
    fn choice_item(&mut self, node: &NodeRef, parent: &str) -> Item {
        let object = self.object(node).cloned().unwrap_or_default();
        let keyword = if object.contains_key("oneOf") {
            "oneOf"
        } else {
            "anyOf"
        };
        let count = object
            .get(keyword)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let nodes: Vec<NodeRef> = (0..count)
            .map(|i| Self::child(node, &[keyword, &i.to_string()]))
            .filter(|at| {
                let view = View::resolve(self.store, at);
                !view.get("type").is_some_and(|(t, _)| t == "null")
            })
            .collect();
        let mut scope = Scope::new();
        if let Some(tag) = self.discriminator(&nodes) {
            let mut variants = Vec::new();
            for at in &nodes {
                let view = View::resolve(self.store, at);
                let value = tag_value(&view, &tag).unwrap_or_default();
                let target = self.store.follow(at).unwrap_or_else(|| at.clone());
                let name = format!("{parent}{}", type_name(&value, "Variant"));
                let ty = self.named(&target, &name, Some(tag.clone()));
                variants.push(Variant {
                    rust: scope.claim(type_name(&value, "Variant")),
                    tag: Some(value),
                    ty,
                    doc: None,
                });
            }
            return Item::Tagged { tag, variants };
        }
        let mut variants = Vec::new();
        for (i, at) in nodes.iter().enumerate() {
            let view = View::resolve(self.store, at);
            let title = view.get("title").and_then(|(v, _)| v.as_str());
            let ty = self.ty(at, &format!("{parent}{}", i + 1));
            let name = match (title, &ty) {
                (Some(title), _) => type_name(title, "Variant"),
                (None, Ty::Named(id)) => self.defs[*id].name.clone(),
                (None, ty) => shape_name(ty, &self.defs),
            };
            let doc = view
                .get("description")
                .and_then(|(v, _)| v.as_str())
                .map(str::to_owned);
            variants.push(Variant {
                rust: scope.claim(name),
                tag: None,
                ty,
                doc,
            });
        }
        Item::Untagged { variants }
    }

    /// The property every alternative requires with a distinct string `const`.
    fn discriminator(&self, nodes: &[NodeRef]) -> Option<String> {
        let first = View::resolve(self.store, nodes.first()?);
        let (properties, _) = first.get("properties")?;
        let mut seen = Vec::new();
        'candidates: for candidate in properties.as_object()?.keys() {
            seen.clear();
            for at in nodes {
                let view = View::resolve(self.store, at);
                let required = view
                    .get("required")
                    .and_then(|(r, _)| r.as_array())
                    .is_some_and(|r| r.iter().any(|n| n == candidate.as_str()));
                match tag_value(&view, candidate) {
                    Some(value) if required && !seen.contains(&value) => seen.push(value),
                    _ => continue 'candidates,
                }
            }
            return Some(candidate.clone());
        }
        None
    }

    /// The constraints at `node` wrapped around `ty`.
    fn checked(&mut self, node: &NodeRef, object: &Map<String, Value>, ty: Ty) -> Ty {
        let mut checks = Checks::default();
        let number = |k: &str| object.get(k).and_then(Value::as_f64);
        let count = |k: &str| object.get(k).and_then(Value::as_u64);
        let kind = ty.unchecked().clone();
        let base = match &kind {
            Ty::Nullable(inner) => inner.unchecked().clone(),
            other => other.clone(),
        };
        match base {
            Ty::String | Ty::Format(_) => {
                checks.min_length = count("minLength");
                checks.max_length = count("maxLength");
                if let Some(pattern) = object.get("pattern").and_then(Value::as_str) {
                    match RustPattern::translate(pattern) {
                        Ok(translated) => checks.pattern = Some(translated),
                        Err(reason) => {
                            let at = pointer::push(&node.pointer, "pattern");
                            let warning = Diagnostic::new(
                                Rule::PatternNotEnforced,
                                format!("the pattern `{pattern}` {reason}, so decoding does not check it"),
                            )
                            .with_help("rewrite it without look-around or backreferences, or with smaller repetitions, to have it enforced");
                            self.diagnostics
                                .push(self.store.document(node.doc).diagnostic_at(warning, &at));
                        }
                    }
                }
            }
            Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 | Ty::Number => {
                let draft4_exclusive = |k: &str| object.get(k) == Some(&Value::Bool(true));
                checks.minimum = match (number("minimum"), number("exclusiveMinimum")) {
                    (_, Some(bound)) => Some((bound, true)),
                    (Some(bound), None) => Some((bound, draft4_exclusive("exclusiveMinimum"))),
                    (None, None) => None,
                };
                checks.maximum = match (number("maximum"), number("exclusiveMaximum")) {
                    (_, Some(bound)) => Some((bound, true)),
                    (Some(bound), None) => Some((bound, draft4_exclusive("exclusiveMaximum"))),
                    (None, None) => None,
                };
                checks.multiple_of = number("multipleOf").filter(|f| *f > 0.0);
            }
            Ty::Vec(_) | Ty::Tuple(_) => {
                checks.min_items = count("minItems");
                checks.max_items = count("maxItems");
                checks.unique_items = object.get("uniqueItems") == Some(&Value::Bool(true))
                    && matches!(base, Ty::Vec(_));
                if let Ty::Tuple(items) = &base {
                    // A Rust tuple already has exactly its length.
                    if checks.min_items.is_some_and(|m| m as usize <= items.len()) {
                        checks.min_items = None;
                    }
                    checks.max_items = checks.max_items.filter(|m| (*m as usize) < items.len());
                }
            }
            Ty::Map(_) => {
                checks.min_properties = count("minProperties");
                checks.max_properties = count("maxProperties");
                let closed_by = ["additionalProperties", "unevaluatedProperties"]
                    .into_iter()
                    .find(|k| object.get(*k) == Some(&Value::Bool(false)));
                if let Some(closed_by) = closed_by {
                    checks.key_patterns = self.key_patterns(std::slice::from_ref(node), closed_by);
                }
                checks.property_names = self.property_name_checks(node);
            }
            _ => {}
        }
        if checks.is_empty() {
            return ty;
        }
        match ty {
            // Constraints apply to the value when there is one.
            Ty::Nullable(inner) => Ty::Nullable(Box::new(Ty::Checked(inner, Box::new(checks)))),
            ty => Ty::Checked(Box::new(ty), Box::new(checks)),
        }
    }

    /// The named type of a node: planned once, shared afterwards, boxed where it contains itself.
    /// `without` leaves out a property (a tagged enum's discriminator).
    fn named(&mut self, node: &NodeRef, hint: &str, without: Option<String>) -> Ty {
        self.named_as(node, hint, without, None)
    }

    fn named_as(
        &mut self,
        node: &NodeRef,
        hint: &str,
        without: Option<String>,
        claimed: Option<String>,
    ) -> Ty {
        let key = (node.clone(), without.clone());
        if let Some(&id) = self.by_node.get(&key) {
            return if self.building.contains(&id) {
                Ty::Boxed(Box::new(Ty::Named(id)))
            } else {
                Ty::Named(id)
            };
        }
        let view = View::resolve(self.store, node);
        let title = view
            .get("title")
            .and_then(|(v, _)| v.as_str().map(str::to_owned))
            .filter(|_| without.is_none());
        let module = self.module_of(node.doc);
        let name = claimed.unwrap_or_else(|| {
            self.scopes[module].claim(type_name(title.as_deref().unwrap_or(hint), "Type"))
        });
        // A title that only repeats the type's name says nothing more.
        let title = title.filter(|t| type_name(t, "") != name);
        let doc = docs(
            title.as_deref(),
            view.get("description").and_then(|(v, _)| v.as_str()),
        );
        let deprecated = (view.get("deprecated").map(|(v, _)| v) == Some(&Value::Bool(true)))
            .then(|| "deprecated in its schema".to_owned());
        let id = self.defs.len();
        self.defs.push(TypeDef {
            name,
            module,
            doc,
            deprecated,
            item: Item::Enum {
                variants: Vec::new(),
            },
        });
        self.by_node.insert(key, id);
        self.building.push(id);
        let item = self.item(node, &view, without.as_deref());
        self.building.pop();
        self.defs[id].item = item;
        Ty::Named(id)
    }

    fn item(&mut self, node: &NodeRef, view: &View<'a>, without: Option<&str>) -> Item {
        let parent = self.defs[self.by_node[&(node.clone(), without.map(str::to_owned))]]
            .name
            .clone();
        let object = self.object(node).cloned().unwrap_or_default();
        let strings = |values: &[Value]| {
            let mut scope = Scope::new();
            values
                .iter()
                .filter_map(Value::as_str)
                .map(|json| (scope.claim(type_name(json, "Empty")), json.to_owned()))
                .collect()
        };
        match self.kind(&object) {
            Kind::Const => {
                let value = object.get("const").cloned().unwrap_or_default();
                return Item::Enum {
                    variants: strings(&[value]),
                };
            }
            Kind::Enum => {
                let values = object.get("enum").and_then(Value::as_array).cloned();
                return Item::Enum {
                    variants: strings(&values.unwrap_or_default()),
                };
            }
            Kind::Choice(_) => return self.choice_item(node, &parent),
            _ => {}
        }
        // Properties from the node and, merged in order, from every `allOf` member.
        let mut sources = Vec::new();
        self.collect_members(node, &mut sources, 0);
        let mut required: Vec<String> = Vec::new();
        let mut properties: Vec<(String, NodeRef)> = Vec::new();
        let mut closed = false;
        for member in &sources {
            let member_view = View::resolve(self.store, member);
            if let Some((Value::Array(names), _)) = member_view.get("required") {
                required.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            if let Some((Value::Object(props), at)) = member_view.get("properties") {
                for json in props.keys() {
                    if properties.iter().all(|(name, _)| name != json) {
                        properties.push((json.clone(), Self::child(&at, &[json])));
                    }
                }
            }
        }
        let closed_by = ["additionalProperties", "unevaluatedProperties"]
            .into_iter()
            .find(|k| view.get(k).is_some_and(|(v, _)| v == &Value::Bool(false)));
        closed |= closed_by.is_some();
        // Keys matching a `patternProperties` pattern (of the node or an `allOf` member) are
        // allowed even then.
        let patterns = sources.iter().any(|member| {
            View::resolve(self.store, member)
                .get("patternProperties")
                .is_some_and(|(v, _)| v.as_object().is_some_and(|p| !p.is_empty()))
        });
        closed &= !patterns;
        let mut scope = Scope::new();
        let mut fields = Vec::new();
        for (json, at) in properties {
            if Some(json.as_str()) == without {
                continue;
            }
            let ty = self.ty(&at, &format!("{parent}_{json}"));
            let field_view = View::resolve(self.store, &at);
            let text = |k: &str| {
                field_view
                    .get(k)
                    .and_then(|(v, _)| v.as_str().map(str::to_owned))
            };
            fields.push(Field {
                rust: scope.claim(field_name(&json)),
                required: required.contains(&json),
                json,
                ty,
                doc: text("description").or_else(|| text("title")),
                default: field_view.get("default").map(|(v, _)| v.clone()),
                deprecated: field_view.get("deprecated").map(|(v, _)| v)
                    == Some(&Value::Bool(true)),
            });
        }
        // A closed struct has no map of undeclared keys, so nothing for key checks to check.
        let additional = (!closed).then(|| {
            let ty = self.extra_values(view, &format!("{parent}Value"));
            let checks = Checks {
                key_patterns: match closed_by {
                    Some(closed_by) if patterns => self.key_patterns(&sources, closed_by),
                    _ => Vec::new(),
                },
                property_names: self.property_name_checks(node),
                ..Checks::default()
            };
            Additional {
                rust: scope.claim("additional_properties".to_owned()),
                ty,
                checks: Box::new(checks),
            }
        });
        Item::Struct {
            fields,
            closed,
            additional,
        }
    }

    /// The type of the values of undeclared properties: `additionalProperties`' schema, or the one
    /// `patternProperties` schema when no other key is allowed; any JSON when values may differ.
    fn extra_values(&mut self, view: &View<'a>, hint: &str) -> Ty {
        let patterns: Vec<NodeRef> = match view.get("patternProperties") {
            Some((Value::Object(patterns), at)) => patterns
                .keys()
                .map(|pattern| Self::child(&at, &[pattern]))
                .collect(),
            _ => Vec::new(),
        };
        match (view.get("additionalProperties"), patterns.as_slice()) {
            (Some((Value::Object(_), at)), []) => unboxed(self.ty(&at, hint)),
            (Some((Value::Bool(false), _)), [only]) => unboxed(self.ty(only, hint)),
            _ => Ty::Json,
        }
    }

    /// The `patternProperties` patterns of an object (the node and its `allOf` members) closed
    /// by `closed_by`, which every undeclared key must match. Empty where that could refuse a
    /// key the schema allows: a `$ref` beside keywords (the declared properties are read from
    /// one layer), keywords that may evaluate a key under `unevaluatedProperties`, or a pattern
    /// that cannot be enforced (with a warning that names it).
    fn key_patterns(&mut self, members: &[NodeRef], closed_by: &str) -> Vec<RustPattern> {
        const EVALUATING: &[&str] = &[
            "oneOf",
            "anyOf",
            "if",
            "then",
            "else",
            "dependentSchemas",
            "$dynamicRef",
        ];
        let views: Vec<View<'a>> = members
            .iter()
            .map(|member| View::resolve(self.store, member))
            .collect();
        let only_keys_of_patterns = views.iter().all(|view| {
            view.layers.len() <= 1
                && (closed_by == "additionalProperties"
                    || !EVALUATING.iter().any(|k| view.has(k))
                        && view
                            .get("additionalProperties")
                            .is_none_or(|(v, _)| v == &Value::Bool(false)))
        });
        if !only_keys_of_patterns {
            return Vec::new();
        }
        let mut translated = Vec::new();
        let mut enforced = true;
        for view in &views {
            let Some((Value::Object(patterns), at)) = view.get("patternProperties") else {
                continue;
            };
            for pattern in patterns.keys() {
                match RustPattern::translate(pattern) {
                    Ok(rust) => translated.push(rust),
                    Err(reason) => {
                        enforced = false;
                        let warning = Diagnostic::new(
                            Rule::PatternNotEnforced,
                            format!("the pattern `{pattern}` {reason}, so decoding does not check this object's keys"),
                        )
                        .with_help("rewrite it without look-around or backreferences, or with smaller repetitions, to have the keys checked");
                        let pointer = pointer::push(&at.pointer, pattern);
                        self.diagnostics
                            .push(self.store.document(at.doc).diagnostic_at(warning, &pointer));
                    }
                }
            }
        }
        if enforced { translated } else { Vec::new() }
    }

    /// What decoding checks of `propertyNames` at `node`: the lengths, pattern and allowed values
    /// every key must have (through a `$ref`). `None` when it has none of these.
    fn property_name_checks(&mut self, node: &NodeRef) -> Option<Box<Checks>> {
        let (_, at) = View::resolve(self.store, node).get("propertyNames")?;
        let target = self.store.follow(&at).unwrap_or(at);
        let Some(Value::Object(object)) = self.store.document(target.doc).get(&target.pointer)
        else {
            return None;
        };
        let mut checks = match self.checked(&target, object, Ty::String) {
            Ty::Checked(_, checks) => *checks,
            _ => Checks::default(),
        };
        checks.one_of_values = match (object.get("enum"), object.get("const")) {
            (Some(Value::Array(values)), _) => values.iter().map(Value::to_string).collect(),
            (None, Some(value)) => vec![value.to_string()],
            _ => Vec::new(),
        };
        (!checks.is_empty()).then(|| Box::new(checks))
    }

    /// The node and its `allOf` members, depth first, through `$ref`.
    fn collect_members(&self, node: &NodeRef, into: &mut Vec<NodeRef>, depth: usize) {
        if depth > 32 || into.contains(node) {
            return;
        }
        into.push(node.clone());
        let view = View::resolve(self.store, node);
        for (value, at) in view.get_all("allOf") {
            if let Value::Array(members) = value {
                for i in 0..members.len() {
                    let member = Self::child(&at, &[&i.to_string()]);
                    let member = self.store.follow(&member).unwrap_or(member);
                    self.collect_members(&member, into, depth + 1);
                }
            }
        }
    }
}

/// A collection's item type needs no box of its own: the collection is the indirection.
fn unboxed(ty: Ty) -> Ty {
    match ty {
        Ty::Boxed(inner) => *inner,
        other => other,
    }
}

/// Keywords that give a `$ref`'s siblings a shape of their own (then the node is not a plain
/// reference).
const TYPE_KEYWORDS: &[&str] = &[
    "properties",
    "items",
    "prefixItems",
    "allOf",
    "oneOf",
    "anyOf",
    "enum",
    "const",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Object,
    AllOf,
    Choice(&'static str),
    Map,
    Enum,
    Const,
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Json,
}

/// Whether keys matching `patternProperties` patterns are allowed beside the declared ones.
fn has_pattern_properties(object: &Map<String, Value>) -> bool {
    object
        .get("patternProperties")
        .and_then(Value::as_object)
        .is_some_and(|patterns| !patterns.is_empty())
}

fn types_of(object: &Map<String, Value>) -> Vec<&str> {
    match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The string a discriminating property is fixed to in an alternative.
fn tag_value(view: &View<'_>, property: &str) -> Option<String> {
    let (properties, _) = view.get("properties")?;
    let schema = properties.get(property)?;
    match (schema.get("const"), schema.get("enum")) {
        (Some(Value::String(value)), _) => Some(value.clone()),
        (None, Some(Value::Array(values))) if values.len() == 1 => {
            values[0].as_str().map(str::to_owned)
        }
        _ => None,
    }
}

/// A variant name for an untitled alternative, from its shape.
fn shape_name(ty: &Ty, defs: &[TypeDef]) -> String {
    match ty {
        Ty::Bool => "Bool".into(),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => "Integer".into(),
        Ty::Number => "Number".into(),
        Ty::String => "String".into(),
        Ty::Format(format) => format.type_name().into(),
        Ty::Json => "Value".into(),
        Ty::Vec(_) => "Array".into(),
        Ty::Map(_) => "Map".into(),
        Ty::Tuple(_) => "Tuple".into(),
        Ty::Nullable(inner) | Ty::Boxed(inner) | Ty::Checked(inner, _) => shape_name(inner, defs),
        Ty::Named(id) => defs[*id].name.clone(),
    }
}

/// The integer type that holds every value the bounds allow.
fn integer(object: &Map<String, Value>) -> Ty {
    let bound = |a: &str, b: &str| {
        object
            .get(a)
            .and_then(Value::as_f64)
            .or_else(|| object.get(b).and_then(Value::as_f64))
    };
    let min = bound("minimum", "exclusiveMinimum");
    let max = bound("maximum", "exclusiveMaximum");
    match (min, max) {
        (Some(lo), Some(hi)) if lo >= 0.0 && hi <= f64::from(u32::MAX) => Ty::U32,
        (Some(lo), _) if lo >= 0.0 => Ty::U64,
        (Some(lo), Some(hi)) if lo >= f64::from(i32::MIN) && hi <= f64::from(i32::MAX) => Ty::I32,
        _ => Ty::I64,
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
