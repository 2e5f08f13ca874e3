//! Visits every subschema of a schema document by keyword, so that a property *named* `$ref` or
//! `examples` is never mistaken for the keyword. Iterative: depth costs heap, not stack.

use crate::schema::draft::Draft;
use crate::text::pointer;
use serde_json::Value;

/// Keywords whose value is a map of name → subschema.
const SCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is one subschema.
const SCHEMA_VALUES: &[&str] = &[
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
];
/// Keywords whose value is a list of subschemas.
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

/// One subschema: its pointer in the document, its value and its enclosing subschema.
pub struct Subschema<'a> {
    /// JSON pointer from the document root.
    pub pointer: String,
    /// The subschema (an object or a boolean).
    pub value: &'a Value,
    /// Index of the enclosing subschema in the list, `None` for the root.
    pub parent: Option<usize>,
}

/// Every subschema of `root` (itself first), depth first, in document order.
pub fn subschemas(root: &Value, draft: Draft) -> Vec<Subschema<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root, None)];
    while let Some((at, value, parent)) = stack.pop() {
        let mut children = Vec::new();
        if let Value::Object(object) = value {
            for (keyword, child) in object {
                let here = pointer::push(&at, keyword);
                match keyword.as_str() {
                    k if SCHEMA_MAPS.contains(&k) => {
                        if let Value::Object(map) = child {
                            for (name, sub) in map {
                                children.push((pointer::push(&here, name), sub));
                            }
                        }
                    }
                    // `dependencies` (before 2019-09): a schema or a list of required names per
                    // property
                    "dependencies" => {
                        if let Value::Object(map) = child {
                            for (name, sub) in map {
                                if !sub.is_array() {
                                    children.push((pointer::push(&here, name), sub));
                                }
                            }
                        }
                    }
                    "items" => match child {
                        Value::Array(list) if draft.array_items_are_tuples() => {
                            for (i, sub) in list.iter().enumerate() {
                                children.push((format!("{here}/{i}"), sub));
                            }
                        }
                        Value::Array(_) => {}
                        sub => children.push((here, sub)),
                    },
                    k if SCHEMA_VALUES.contains(&k) => children.push((here, child)),
                    k if SCHEMA_LISTS.contains(&k) => {
                        if let Value::Array(list) = child {
                            for (i, sub) in list.iter().enumerate() {
                                children.push((format!("{here}/{i}"), sub));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let index = out.len();
        out.push(Subschema {
            pointer: at,
            value,
            parent,
        });
        stack.extend(
            children
                .into_iter()
                .rev()
                .map(|(pointer, child)| (pointer, child, Some(index))),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn visits_keywords_not_property_names() {
        let schema = json!({
            "properties": {
                "$ref": {"type": "string"},
                "examples": {"items": {"$ref": "#/$defs/a"}}
            },
            "$defs": {"a": {"oneOf": [true, {"not": {}}]}},
            "x-other": {"properties": {"hidden": {}}}
        });
        let pointers: Vec<_> = subschemas(&schema, Draft::Draft202012)
            .into_iter()
            .map(|s| s.pointer)
            .collect();
        assert_eq!(
            pointers,
            vec![
                "",
                "/properties/$ref",
                "/properties/examples",
                "/properties/examples/items",
                "/$defs/a",
                "/$defs/a/oneOf/0",
                "/$defs/a/oneOf/1",
                "/$defs/a/oneOf/1/not",
            ]
        );
    }

    #[test]
    fn draft7_tuple_items_and_dependencies() {
        let schema = json!({"items": [{}, {}], "dependencies": {"a": ["b"], "c": {}}});
        let pointers: Vec<_> = subschemas(&schema, Draft::Draft7)
            .into_iter()
            .map(|s| s.pointer)
            .collect();
        assert_eq!(
            pointers,
            vec!["", "/items/0", "/items/1", "/dependencies/c"]
        );
    }
}
