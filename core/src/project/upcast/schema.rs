//! Upcast rules on a schema: the schema of what the upcaster produces from version N-1, which
//! `check` compares with version N (the rules are sound when it is backward compatible).

use super::{Target, apply as apply_rules};
use crate::project::annotations::{FieldPath, UpcastRule};
use crate::schema::KEYWORD;
use crate::text::pointer;
use serde_json::{Map, Value, json};

/// Applies `rules` to the root object schema `old`. `new_field` gives, for a path, a `$ref` to the
/// field's schema in version N: converted values are trusted to be valid there (the generated
/// upcaster tests check it), and default values must be checked against it by the caller.
pub(crate) fn apply(
    old: &Value,
    rules: &[UpcastRule],
    new_field: impl Fn(&str) -> Value,
) -> Result<Value, String> {
    let mut schema = old.clone();
    if let Some(object) = schema.as_object_mut() {
        object.remove(KEYWORD);
        object.remove("examples");
    }
    let mut target = SchemaTarget { schema, new_field };
    apply_rules(&mut target, rules)?;
    Ok(target.schema)
}

/// A schema being reshaped; a field is its schema and whether it is required.
struct SchemaTarget<F> {
    schema: Value,
    new_field: F,
}

impl<F: Fn(&str) -> Value> Target for SchemaTarget<F> {
    type Field = (Value, bool);

    fn take(&mut self, path: &FieldPath) -> Result<Option<(Value, bool)>, String> {
        take(&mut self.schema, path.pointer()).map(Some)
    }

    fn put(&mut self, path: &FieldPath, field: Option<(Value, bool)>) -> Result<(), String> {
        match field {
            Some((field, required)) => put(&mut self.schema, path.pointer(), field, required),
            None => parent(&mut self.schema, path.pointer(), true).map(drop),
        }
    }

    fn fill(&mut self, path: &FieldPath, _value: &Value) -> Result<(), String> {
        // A value already there is kept; where there is none the default fills in, and the
        // caller checks the default against version N's field, for which it stands. Either way
        // the field is now always present.
        let field = match take(&mut self.schema, path.pointer()) {
            Ok((old_field, _)) => old_field,
            Err(_) => (self.new_field)(path.pointer()),
        };
        put(&mut self.schema, path.pointer(), field, true)
    }

    fn convert(&mut self, path: &FieldPath, _using: &str) -> Result<(), String> {
        let (_, required) = take(&mut self.schema, path.pointer())?;
        let converted = (self.new_field)(path.pointer());
        put(&mut self.schema, path.pointer(), converted, required)
    }
}

/// The JSON pointer (within the schema) of the object schema holding `path`'s field, creating
/// intermediate objects when `create` is set, and the field's name.
fn parent(schema: &mut Value, path: &str, create: bool) -> Result<(String, String), String> {
    let tokens = pointer::tokens(path)
        .filter(|t| !t.is_empty() && t.iter().all(|x| !x.is_empty()))
        .ok_or_else(|| format!("`{path}` is not a field path"))?;
    let (last, parents) = tokens
        .split_last()
        .ok_or_else(|| format!("`{path}` names no field"))?;
    let mut at = String::new();
    for token in parents {
        let object = schema
            .pointer_mut(&at)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("`{path}`: not an object schema"))?;
        if object.contains_key("$ref") && !object.contains_key("properties") {
            return Err(format!(
                "`{path}` goes through a `$ref`; declare a custom upcaster for this change"
            ));
        }
        let exists = object
            .get("properties")
            .and_then(|p| p.get(token))
            .is_some();
        if !exists {
            if !create {
                return Err(format!(
                    "there is no property `{token}` on the way to `{path}`"
                ));
            }
            let properties = object.entry("properties").or_insert_with(|| json!({}));
            // The upcaster creates this object holding only what the rules put there.
            properties
                .as_object_mut()
                .ok_or_else(|| format!("`{path}`: `properties` is not an object"))?
                .insert(
                    token.clone(),
                    json!({"type": "object", "properties": {}, "additionalProperties": false}),
                );
            add_required(object, token);
        }
        at = pointer::push(&pointer::push(&at, "properties"), token);
    }
    Ok((at, last.clone()))
}

fn add_required(object: &mut Map<String, Value>, name: &str) {
    let required = object.entry("required").or_insert_with(|| json!([]));
    if let Some(list) = required.as_array_mut() {
        if !list.iter().any(|v| v == name) {
            list.push(Value::String(name.to_owned()));
        }
    }
}

/// Removes the field at `path`: its schema and whether it was required.
fn take(schema: &mut Value, path: &str) -> Result<(Value, bool), String> {
    let (at, name) = parent(schema, path, false)?;
    let object = schema
        .pointer_mut(&at)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("`{path}`: not an object schema"))?;
    let field = object
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .and_then(|p| p.remove(&name))
        .ok_or_else(|| format!("there is no property `{name}` at `{path}`"))?;
    let mut required = false;
    if let Some(list) = object.get_mut("required").and_then(Value::as_array_mut) {
        let before = list.len();
        list.retain(|v| v != name.as_str());
        required = list.len() != before;
    }
    Ok((field, required))
}

/// Puts a field schema at `path`, creating intermediate objects.
fn put(schema: &mut Value, path: &str, field: Value, required: bool) -> Result<(), String> {
    let (at, name) = parent(schema, path, true)?;
    let object = schema
        .pointer_mut(&at)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("`{path}`: not an object schema"))?;
    let properties = object.entry("properties").or_insert_with(|| json!({}));
    properties
        .as_object_mut()
        .ok_or_else(|| format!("`{path}`: `properties` is not an object"))?
        .insert(name.clone(), field);
    if required {
        add_required(object, &name);
    }
    Ok(())
}

/// The JSON pointer of a field path's schema: `/a/b` → `/properties/a/properties/b`.
pub(crate) fn schema_pointer(path: &str) -> String {
    pointer::tokens(path)
        .unwrap_or_default()
        .iter()
        .fold(String::new(), |at, token| {
            pointer::push(&pointer::push(&at, "properties"), token)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::annotations::Upcast;

    #[test]
    fn rules_reshape_the_schema() {
        let v1 = json!({"type": "object", "properties": {"total": {"type": "number"}, "street": {"type": "string"}, "legacy": {}}, "required": ["total", "street"], "additionalProperties": false});
        let upcast: Upcast = serde_json::from_value(json!({"rules": [
            {"rename": {"from": "total", "to": "total_amount"}},
            {"default": {"field": "currency", "value": "EUR"}},
            {"move": {"from": "street", "to": "/address/street"}},
            {"drop": {"field": "legacy"}}
        ]}))
        .unwrap();
        let derived = apply(&v1, &upcast.rules, |_| json!(true)).unwrap();
        assert_eq!(
            derived,
            json!({
                "type": "object",
                "properties": {
                    "total_amount": {"type": "number"},
                    "currency": true,
                    "address": {"type": "object", "properties": {"street": {"type": "string"}}, "additionalProperties": false, "required": ["street"]}
                },
                "required": ["total_amount", "currency", "address"],
                "additionalProperties": false
            })
        );
        let missing: Upcast =
            serde_json::from_value(json!({"rules": [{"rename": {"from": "totl", "to": "x"}}]}))
                .unwrap();
        assert!(
            apply(&v1, &missing.rules, |_| json!(true))
                .unwrap_err()
                .contains("totl")
        );
        assert_eq!(schema_pointer("/a/b"), "/properties/a/properties/b");
    }
}
