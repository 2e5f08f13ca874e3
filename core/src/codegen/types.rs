//! The type space: Rust types planned from schema nodes. A node reached through `$ref` becomes
//! one named type shared by every reference to it; a type that contains itself is boxed.

use super::names::{Scope, field_name, type_name};
use crate::compat::schema::View;
use crate::pointer;
use crate::store::{NodeRef, Store};
use serde_json::Value;
use std::collections::HashMap;

/// A Rust type, as generated code names it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `serde_json::Value`: a schema eventsmith does not map to a narrower type.
    Json,
    /// `Vec<T>`
    Vec(Box<Ty>),
    /// `BTreeMap<String, T>`
    Map(Box<Ty>),
    /// `Option<T>` for a nullable value.
    Nullable(Box<Ty>),
    /// `Box<T>`, where a type contains itself.
    Boxed(Box<Ty>),
    /// A generated type, by index in [`TypeSpace::defs`].
    Named(usize),
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
}

/// What a generated type is.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A struct; `closed` when undeclared properties are rejected.
    Struct {
        /// Its fields, in schema order.
        fields: Vec<Field>,
        /// `additionalProperties: false`.
        closed: bool,
    },
    /// An enum of string values: (Rust variant, JSON value).
    Enum {
        /// The variants, in schema order.
        variants: Vec<(String, String)>,
    },
}

/// A generated type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    /// The Rust name.
    pub name: String,
    /// From `title` and `description`.
    pub doc: Option<String>,
    /// Its shape.
    pub item: Item,
}

/// Types planned from the schemas of one store.
pub struct TypeSpace<'a> {
    store: &'a Store,
    /// Every generated type, in the order first reached.
    pub defs: Vec<TypeDef>,
    by_node: HashMap<NodeRef, usize>,
    names: Scope,
    building: Vec<usize>,
}

impl<'a> TypeSpace<'a> {
    /// An empty type space over `store`.
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            defs: Vec::new(),
            by_node: HashMap::new(),
            names: Scope::new(),
            building: Vec::new(),
        }
    }

    /// The type for the schema at `node`; `hint` names it when the schema has no `title`.
    pub fn add(&mut self, node: &NodeRef, hint: &str) -> Ty {
        self.ty(node, hint)
    }

    fn ty(&mut self, node: &NodeRef, hint: &str) -> Ty {
        let Some(Value::Object(object)) = self.store.value(node) else {
            return Ty::Json;
        };
        // A reference names a shared type: the target's.
        if object.contains_key("$ref") {
            if let Some(Ok(target)) = self.store.ref_target(node) {
                let target = target.clone();
                let name = pointer::tokens(&target.pointer)
                    .and_then(|t| t.last().cloned())
                    .unwrap_or_else(|| hint.to_owned());
                return self.ty(&target, &name);
            }
            return Ty::Json;
        }
        let types: Vec<&str> = match object.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let nullable = types.contains(&"null");
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        let primary = match non_null.as_slice() {
            [one] => *one,
            [] if object.contains_key("properties") => "object",
            [] if object
                .get("enum")
                .is_some_and(|e| e.as_array().is_some_and(|v| v.iter().all(Value::is_string))) =>
            {
                "string"
            }
            _ => "",
        };
        let ty = match primary {
            "object" if object.contains_key("properties") => self.named(node, hint),
            "object" => match object.get("additionalProperties") {
                Some(Value::Object(_)) => {
                    let at = NodeRef {
                        doc: node.doc,
                        pointer: pointer::push(&node.pointer, "additionalProperties"),
                    };
                    Ty::Map(Box::new(self.ty(&at, &format!("{hint}Value"))))
                }
                _ => Ty::Map(Box::new(Ty::Json)),
            },
            "string"
                if object.get("enum").is_some_and(|e| {
                    e.as_array().is_some_and(|v| v.iter().all(Value::is_string))
                }) =>
            {
                self.named(node, hint)
            }
            "string" => Ty::String,
            "integer" => integer(object),
            "number" => Ty::Number,
            "boolean" => Ty::Bool,
            "array" => match object.get("items") {
                Some(Value::Object(_)) | Some(Value::Bool(true)) => {
                    let at = NodeRef {
                        doc: node.doc,
                        pointer: pointer::push(&node.pointer, "items"),
                    };
                    Ty::Vec(Box::new(self.ty(&at, &format!("{hint}Item"))))
                }
                _ => Ty::Vec(Box::new(Ty::Json)),
            },
            _ => Ty::Json,
        };
        if nullable {
            Ty::Nullable(Box::new(ty))
        } else {
            ty
        }
    }

    /// The named type of a node: planned once, shared afterwards, boxed where it contains itself.
    fn named(&mut self, node: &NodeRef, hint: &str) -> Ty {
        if let Some(&id) = self.by_node.get(node) {
            return if self.building.contains(&id) {
                Ty::Boxed(Box::new(Ty::Named(id)))
            } else {
                Ty::Named(id)
            };
        }
        let view = View::resolve(self.store, node);
        let title = view
            .get("title")
            .and_then(|(v, _)| v.as_str().map(str::to_owned));
        let name = self
            .names
            .claim(type_name(title.as_deref().unwrap_or(hint), "Type"));
        // A title that only repeats the type's name says nothing more.
        let title = title.filter(|t| type_name(t, "") != name);
        let doc = docs(
            title.as_deref(),
            view.get("description").and_then(|(v, _)| v.as_str()),
        );
        let id = self.defs.len();
        self.defs.push(TypeDef {
            name,
            doc,
            item: Item::Enum {
                variants: Vec::new(),
            },
        });
        self.by_node.insert(node.clone(), id);
        self.building.push(id);
        let item = self.item(node, &view);
        self.building.pop();
        self.defs[id].item = item;
        Ty::Named(id)
    }

    fn item(&mut self, node: &NodeRef, view: &View<'a>) -> Item {
        if let Some((Value::Array(values), _)) = view.get("enum") {
            let mut scope = Scope::new();
            let variants = values
                .iter()
                .filter_map(Value::as_str)
                .map(|json| (scope.claim(type_name(json, "Empty")), json.to_owned()))
                .collect();
            return Item::Enum { variants };
        }
        let required: Vec<&str> = match view.get("required") {
            Some((Value::Array(names), _)) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let parent = self
            .defs
            .get(self.by_node[node])
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let mut scope = Scope::new();
        let mut fields = Vec::new();
        if let Some((Value::Object(properties), at)) = view.get("properties") {
            for (json, schema) in properties {
                let field_at = NodeRef {
                    doc: at.doc,
                    pointer: pointer::push(&at.pointer, json),
                };
                let ty = self.ty(&field_at, &format!("{parent}_{json}"));
                let doc = schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                fields.push(Field {
                    rust: scope.claim(field_name(json)),
                    json: json.clone(),
                    ty,
                    required: required.contains(&json.as_str()),
                    doc,
                });
            }
        }
        let closed = view
            .get("additionalProperties")
            .is_some_and(|(v, _)| v == &Value::Bool(false));
        Item::Struct { fields, closed }
    }
}

/// The integer type that holds every value the bounds allow.
fn integer(object: &serde_json::Map<String, Value>) -> Ty {
    let min = object.get("minimum").and_then(Value::as_f64);
    let max = object.get("maximum").and_then(Value::as_f64);
    match (min, max) {
        (Some(lo), Some(hi)) if lo >= 0.0 && hi <= f64::from(u32::MAX) => Ty::U32,
        (Some(lo), _) if lo >= 0.0 => Ty::U64,
        (Some(lo), Some(hi)) if lo >= f64::from(i32::MIN) && hi <= f64::from(i32::MAX) => Ty::I32,
        _ => Ty::I64,
    }
}

fn docs(title: Option<&str>, description: Option<&str>) -> Option<String> {
    match (title, description) {
        (Some(t), Some(d)) => Some(format!("{t}\n\n{d}")),
        (Some(t), None) => Some(t.to_owned()),
        (None, Some(d)) => Some(d.to_owned()),
        (None, None) => None,
    }
}
