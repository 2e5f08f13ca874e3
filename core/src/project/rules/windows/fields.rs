//! The fields a window reads, looked up in an event version's schema: a property name, or names
//! joined by dots into nested objects, with the JSON types and `format` it declares. Shared by
//! the window rules and `check`, which compares them between versions.

use crate::project::model::Project;
use crate::schema::store::{DocId, NodeRef};
use crate::text::pointer;
use serde_json::Value;
use std::collections::BTreeSet;

/// What a schema says a value is: its JSON types (`None`: it does not say) and its `format`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Shape {
    /// `type`, or the types of the values of `const` or `enum`.
    pub types: Option<BTreeSet<String>>,
    /// `format`, when given.
    pub format: Option<String>,
}

impl Shape {
    /// The one type it has, if it has exactly one.
    pub fn single(&self) -> Option<&str> {
        match &self.types {
            Some(types) if types.len() == 1 => types.first().map(String::as_str),
            _ => None,
        }
    }

    /// Whether it is only ever of these types (and says which).
    pub fn within(&self, allowed: &[&str]) -> bool {
        self.types.as_ref().is_some_and(|types| {
            !types.is_empty() && types.iter().all(|t| allowed.contains(&t.as_str()))
        })
    }

    /// Whether it is a `date-time` string.
    pub fn is_date_time(&self) -> bool {
        self.single() == Some("string") && self.format.as_deref() == Some("date-time")
    }

    /// `a string`, `an integer or null`, `untyped`.
    pub fn describe(&self) -> String {
        describe(self.types.as_ref())
    }
}

/// `a string`, `an integer or null`, `untyped`.
pub(crate) fn describe(types: Option<&BTreeSet<String>>) -> String {
    let Some(types) = types.filter(|t| !t.is_empty()) else {
        return "untyped".to_owned();
    };
    let joined = types.iter().cloned().collect::<Vec<_>>().join(" or ");
    let article = if joined.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {joined}")
}

/// What a path names in a schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    /// It is declared, at `node`.
    Declared {
        /// Its schema node, `$ref`s followed.
        node: NodeRef,
        /// What it holds.
        shape: Shape,
        /// Whether every object on its path `required` the next name: the field is always there.
        always: bool,
    },
    /// The schema does not say which properties it has (no `properties`, an open
    /// `additionalProperties`, a broken `$ref`): it may be there, of any type.
    Unknown,
    /// `name` is not declared in the object at `parent` (a dotted prefix, empty at the top),
    /// where `names` are.
    Missing {
        /// The path before the missing name.
        parent: String,
        /// The name not declared.
        name: String,
        /// The names declared beside it.
        names: Vec<String>,
    },
    /// The path goes through `parent`, which is not an object.
    NotObject {
        /// The path that is no object.
        parent: String,
        /// What it is.
        shape: Shape,
    },
}

/// The field at `path` (`amount`, `address.city`) of the schema document `doc` of `project`.
pub(crate) fn lookup(project: &Project, doc: DocId, path: &str) -> Field {
    let mut node = project.root_of(doc);
    let mut walked: Vec<&str> = Vec::new();
    let mut always = true;
    for name in path.split('.') {
        let Some(here) = project.store.follow(&node) else {
            return Field::Unknown;
        };
        let Some(schema) = project.value(&here) else {
            return Field::Unknown;
        };
        let parent = walked.join(".");
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) if properties.contains_key(name) => {
                // Absent when not required, or when the object holding it may be `null`.
                let nullable = shape_of(project, &here)
                    .types
                    .is_some_and(|types| types.contains("null"));
                always &= !nullable
                    && schema
                        .get("required")
                        .and_then(Value::as_array)
                        .is_some_and(|required| required.iter().any(|r| r == name));
                node = NodeRef {
                    doc: here.doc,
                    pointer: pointer::push(&pointer::push(&here.pointer, "properties"), name),
                };
            }
            // `additionalProperties: true` or a schema: any name may be there.
            Some(_)
                if schema
                    .get("additionalProperties")
                    .is_some_and(|a| a != &Value::Bool(false)) =>
            {
                return Field::Unknown;
            }
            Some(properties) => {
                return Field::Missing {
                    parent,
                    name: name.to_owned(),
                    names: properties.keys().cloned().collect(),
                };
            }
            None => {
                let shape = shape_of(project, &here);
                if shape.types.as_ref().is_some_and(|t| !t.contains("object")) {
                    return Field::NotObject { parent, shape };
                }
                return Field::Unknown;
            }
        }
        walked.push(name);
    }
    match project.store.follow(&node) {
        Some(node) => {
            let shape = shape_of(project, &node);
            Field::Declared {
                node,
                shape,
                always,
            }
        }
        None => Field::Unknown,
    }
}

/// What the schema at `node` (its `$ref`s followed) says its values are.
pub(crate) fn shape_of(project: &Project, node: &NodeRef) -> Shape {
    let Some(schema) = project
        .store
        .follow(node)
        .and_then(|node| project.value(&node).cloned())
    else {
        return Shape::default();
    };
    let listed: Option<Vec<&Value>> = match (schema.get("const"), schema.get("enum")) {
        (Some(one), _) => Some(vec![one]),
        (None, Some(Value::Array(many))) => Some(many.iter().collect()),
        _ => None,
    };
    let types = match schema.get("type") {
        Some(Value::String(one)) => Some(BTreeSet::from([one.clone()])),
        Some(Value::Array(many)) => Some(
            many.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        // An enum of strings is a string.
        _ => listed.map(|values| values.into_iter().map(json_type).collect()),
    };
    Shape {
        types,
        format: schema
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// The JSON Schema type of a value.
fn json_type(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
    .to_owned()
}
