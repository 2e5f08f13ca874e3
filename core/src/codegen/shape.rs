//! The shape check behind `#[derive(eventsmith::Event)]`: does a hand-written struct's serde shape
//! (field names after renames, types, required vs optional) match the event's schema file?

use crate::project::layout::{FileRole, classify};
use crate::schema::store::{NodeRef, Store};
use crate::schema::view::View;
use serde_json::Value;
use std::path::Path;

/// What a Rust field's type is, as far as JSON goes.
#[derive(Debug, Clone, PartialEq)]
pub enum RustKind {
    /// `String`, `&str`, `Cow<str>`, a format type.
    String,
    /// `i8` … `u64`, `isize`, `usize`.
    Integer,
    /// `f32`, `f64`, `serde_json::Number`.
    Number,
    /// `bool`
    Bool,
    /// `Vec<T>`, `[T; N]`, sets.
    Array(Box<RustKind>),
    /// `HashMap<String, T>`, `BTreeMap<String, T>`, `IndexMap<String, T>`.
    Map(Box<RustKind>),
    /// `Option<T>`
    Option(Box<RustKind>),
    /// `Box<T>`, `Arc<T>`, `Rc<T>`: the inner type's shape.
    Any,
    /// Another type (a struct or enum of the user's): not checked further.
    Other(String),
}

/// One serialized field of the struct.
#[derive(Debug, Clone)]
pub struct RustField {
    /// The JSON property name (after `rename` / `rename_all`).
    pub json: String,
    /// Its type's kind.
    pub kind: RustKind,
    /// `#[serde(default)]` (or a `default = "…"`) is set: absent is accepted.
    pub has_default: bool,
}

/// A mismatch, at a field (by index) or at the struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The field it is about, if any.
    pub field: Option<usize>,
    /// Whether it is about the field's type (rather than its name or presence).
    pub about_type: bool,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// `(event type, version)` from an event schema path (`…/events/<aggregate>/<name>.v<N>.json`).
pub fn event_of_path(path: &Path) -> Option<(String, u32)> {
    let components: Vec<_> = path.components().collect();
    let start = components.iter().rposition(|c| c.as_os_str() == "events")?;
    let relative: std::path::PathBuf = components[start..].iter().collect();
    match classify(&relative) {
        Ok(FileRole::Event {
            aggregate,
            name,
            version,
        }) => Some((format!("{aggregate}.{name}"), version)),
        _ => None,
    }
}

/// Every mismatch between `fields` and the object schema at `root`.
pub fn check(store: &Store, root: &NodeRef, fields: &[RustField]) -> Vec<Mismatch> {
    let view = View::resolve(store, root);
    let mut mismatches = Vec::new();
    let properties = match view.get("properties") {
        Some((Value::Object(properties), at)) => (properties.clone(), at),
        _ => {
            return vec![Mismatch {
                field: None,
                about_type: false,
                message: "the schema is not an object schema with `properties`".into(),
            }];
        }
    };
    let required: Vec<String> = view
        .get("required")
        .and_then(|(r, _)| r.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let closed = view
        .get("additionalProperties")
        .is_some_and(|(v, _)| v == &Value::Bool(false));
    let names: Vec<&str> = properties.0.keys().map(String::as_str).collect();
    for (index, field) in fields.iter().enumerate() {
        let Some(_) = properties.0.get(&field.json) else {
            if closed {
                mismatches.push(Mismatch {
                    field: Some(index),
                    about_type: false,
                    message: format!(
                        "`{}` is not a property of the schema, which allows no others; its properties are: {}",
                        field.json,
                        names.join(", ")
                    ),
                });
            }
            continue;
        };
        let at = NodeRef {
            doc: properties.1.doc,
            pointer: crate::text::pointer::push(&properties.1.pointer, &field.json),
        };
        let property = View::resolve(store, &at);
        let nullable = accepts_null(&property);
        let is_required = required.contains(&field.json);
        let (outer_option, inner) = match &field.kind {
            RustKind::Option(inner) => (true, inner.as_ref()),
            other => (false, other),
        };
        if !is_required && !outer_option && !field.has_default {
            mismatches.push(Mismatch {
                field: Some(index),
                about_type: true,
                message: format!(
                    "`{}` is optional in the schema: make the field an `Option<_>` (with `#[serde(default, skip_serializing_if = \"Option::is_none\")]`)",
                    field.json
                ),
            });
        }
        if is_required && outer_option && !nullable {
            mismatches.push(Mismatch {
                field: Some(index),
                about_type: true,
                message: format!(
                    "`{}` is required and not nullable in the schema: the field must not be an `Option`",
                    field.json
                ),
            });
        }
        if let Some(message) = kind_mismatch(store, &property, inner) {
            mismatches.push(Mismatch {
                field: Some(index),
                about_type: true,
                message: format!("`{}`: {message}", field.json),
            });
        }
    }
    for name in &required {
        if fields.iter().all(|f| &f.json != name) {
            mismatches.push(Mismatch {
                field: None,
                about_type: false,
                message: format!(
                    "the schema requires `{name}`, and no field serializes as `{name}`"
                ),
            });
        }
    }
    mismatches
}

fn accepts_null(view: &View<'_>) -> bool {
    match view.get("type") {
        Some((Value::String(t), _)) => t == "null",
        Some((Value::Array(types), _)) => types.iter().any(|t| t == "null"),
        None => ["oneOf", "anyOf"].iter().any(|k| {
            view.get(k)
                .and_then(|(v, _)| v.as_array().cloned())
                .is_some_and(|alternatives| {
                    alternatives
                        .iter()
                        .any(|a| a.get("type") == Some(&Value::String("null".into())))
                })
        }),
        _ => false,
    }
}

/// Why a Rust kind cannot hold the schema's values, if it cannot.
fn kind_mismatch(store: &Store, schema: &View<'_>, kind: &RustKind) -> Option<String> {
    let types: Vec<String> = match schema.get("type") {
        Some((Value::String(t), _)) => vec![t.clone()],
        Some((Value::Array(list), _)) => list
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => return None,
    };
    let types: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| *t != "null")
        .collect();
    let [schema_type] = types.as_slice() else {
        return None;
    };
    let expected = match *schema_type {
        "string" => "a string type such as `String`",
        "integer" => "an integer type such as `i64` or `u32`",
        "number" => "a number type such as `f64` or `serde_json::Number`",
        "boolean" => "`bool`",
        "array" => "a sequence such as `Vec<_>`",
        "object" => "a struct or a map",
        _ => return None,
    };
    let fits = match (kind, *schema_type) {
        (RustKind::Any | RustKind::Other(_), _) => true,
        (RustKind::String, "string")
        | (RustKind::Integer, "integer")
        | (RustKind::Number, "number")
        | (RustKind::Bool, "boolean")
        | (RustKind::Map(_), "object") => true,
        (RustKind::Array(item), "array") => {
            let items = schema.get("items").map(|(_, at)| View::resolve(store, &at));
            if let (Some(items), false) = (
                &items,
                items.as_ref().is_some_and(|v| v.get("type").is_none()),
            ) {
                if let Some(message) = kind_mismatch(store, items, item) {
                    return Some(format!("its items: {message}"));
                }
            }
            true
        }
        (RustKind::Option(inner), _) => return kind_mismatch(store, schema, inner),
        _ => false,
    };
    (!fits).then(|| {
        format!(
            "the schema says `{schema_type}`, so the field needs {expected}, not {}",
            describe(kind)
        )
    })
}

fn describe(kind: &RustKind) -> String {
    match kind {
        RustKind::String => "a string".into(),
        RustKind::Integer => "an integer".into(),
        RustKind::Number => "a floating-point number".into(),
        RustKind::Bool => "`bool`".into(),
        RustKind::Array(_) => "a sequence".into(),
        RustKind::Map(_) => "a map".into(),
        RustKind::Option(inner) => format!("an `Option` of {}", describe(inner)),
        RustKind::Any => "any value".into(),
        RustKind::Other(name) => format!("`{name}`"),
    }
}
