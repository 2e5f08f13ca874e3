//! One self-contained schema from a schema file and every file its `$ref`s reach: the other
//! files go under the root's `$defs` (`definitions` in draft-07), keyed by their path in the
//! project, and every reference becomes a JSON pointer within the bundle. What a validator
//! without the project's files (a generated service checking its commands) or a document that
//! must stand alone (an AsyncAPI payload) needs.

use crate::schema::draft::Draft;
use crate::schema::store::{DocId, NodeRef, Store};
use crate::schema::walk;
use crate::text::pointer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The bundle of document `root`; `None` when one of the references it reaches is broken (which
/// `validate` reports). Keys of bundled files are their paths relative to `base` (with `/`).
pub fn bundle(store: &Store, root: DocId, base: &Path) -> Option<Value> {
    let draft = store.draft(root).unwrap_or(Draft::Draft202012);
    let defs = draft.defs_keyword();
    // Every document reached, the root first, each with its key in the root's definitions.
    let mut docs: Vec<DocId> = vec![root];
    let mut keys: BTreeMap<DocId, String> = BTreeMap::new();
    let mut refs: Vec<(NodeRef, NodeRef)> = Vec::new();
    let mut next = 0;
    while let Some(&doc) = docs.get(next) {
        next += 1;
        let value = store.document(doc).value();
        for sub in walk::subschemas(value, store.draft(doc).unwrap_or(draft)) {
            let holder = NodeRef {
                doc,
                pointer: sub.pointer.clone(),
            };
            let Some(target) = store.ref_target(&holder) else {
                continue;
            };
            let target = target.clone().ok()?;
            if !docs.contains(&target.doc) {
                docs.push(target.doc);
                // Relative even outside `base` (`../common/x.json`): the same on every machine.
                let key = crate::io::paths::relative_path(base, store.document(target.doc).path());
                keys.insert(target.doc, key);
            }
            refs.push((holder, target));
        }
    }
    // Where each document's root lands in the bundle.
    let place = |doc: DocId| -> String {
        match keys.get(&doc) {
            Some(key) => pointer::push(&pointer::push("", defs), key),
            None => String::new(),
        }
    };
    let mut bundle = store.document(root).value().clone();
    for &doc in &docs[1..] {
        let mut value = store.document(doc).value().clone();
        if let Value::Object(object) = &mut value {
            object.remove("$schema");
        }
        let Value::Object(root_object) = &mut bundle else {
            // A boolean schema references nothing.
            return Some(bundle);
        };
        let definitions = root_object
            .entry(defs)
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(definitions) = definitions {
            definitions.insert(keys[&doc].clone(), value);
        }
    }
    for (holder, target) in &refs {
        let at = format!("{}{}", place(holder.doc), holder.pointer);
        let reference = format!("#{}{}", place(target.doc), target.pointer);
        if let Some(Value::Object(object)) = bundle.pointer_mut(&at) {
            object.insert(
                "$ref".to_owned(),
                Value::String(encode_fragment(&reference)),
            );
        }
    }
    // References are pointers into the bundle now; an `$id` would move their base.
    strip_ids(&mut bundle);
    Some(bundle)
}

/// The bundle of `root` as compact JSON for a validator that has only it: its `$schema` says
/// the draft the project reads it in, also where the file leaves it to the project's default;
/// annotations a validator does not read (titles, descriptions, examples, `x-` keys) are left out.
pub fn validator_text(store: &Store, root: DocId, base: &Path) -> Option<String> {
    let mut bundle = bundle(store, root, base)?;
    strip_annotations(&mut bundle);
    if let (Value::Object(object), Some(draft)) = (&mut bundle, store.draft(root)) {
        object
            .entry("$schema")
            .or_insert_with(|| Value::String(draft.uri().to_owned()));
    }
    Some(bundle.to_string())
}

/// Whether the `jsonschema` crate, which the runtime checks payloads with, compiles `text`; if
/// not, why and where in the schema.
pub fn compiles(text: &str) -> Result<(), (String, String)> {
    let schema: Value = serde_json::from_str(text).map_err(|e| (e.to_string(), String::new()))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map(drop)
        .map_err(|e| (e.to_string(), e.instance_path().to_string()))
}

/// One subschema as a self-contained schema for a validator, with only what it references: the
/// subschema and every `$ref` target outside it are copies under the root's `$defs`
/// (`definitions` before 2019-09), keyed `0` (the subschema), `1`, ..., and the root refers to
/// `0`. Annotations are left out as in [`validator_text`]. `None` when a reference it reaches is
/// broken, or is a `$dynamicRef`/`$recursiveRef` (which a copy would resolve elsewhere). What generated code checks one field against when its type leaves a keyword of it
/// unenforced, without the rest of the event's schema.
pub fn subschema_text(store: &Store, node: &NodeRef) -> Option<String> {
    let draft = store.draft(node.doc);
    let defs = draft.unwrap_or(Draft::Draft202012).defs_keyword();
    // The subschemas copied, the node first; each reference as (copy, pointer in it, target).
    let mut copies: Vec<NodeRef> = vec![node.clone()];
    let mut refs: Vec<(usize, String, NodeRef)> = Vec::new();
    let mut next = 0;
    while let Some(copy) = copies.get(next).cloned() {
        let value = store.value(&copy)?;
        // Dynamic references resolve against where evaluation started, which a copy moves.
        if walk::subschemas(value, Draft::Draft202012).iter().any(|sub| {
            matches!(sub.value, Value::Object(o) if o.contains_key("$dynamicRef") || o.contains_key("$recursiveRef"))
        }) {
            return None;
        }
        let copy_draft = store
            .draft(copy.doc)
            .or(draft)
            .unwrap_or(Draft::Draft202012);
        for sub in walk::subschemas(value, copy_draft) {
            let holder = NodeRef {
                doc: copy.doc,
                pointer: format!("{}{}", copy.pointer, sub.pointer),
            };
            let Some(target) = store.ref_target(&holder) else {
                continue;
            };
            let target = target.clone().ok()?;
            if !copies.iter().any(|c| within(&target, c)) {
                copies.push(target.clone());
            }
            refs.push((next, sub.pointer.clone(), target));
        }
        next += 1;
    }
    let mut definitions = serde_json::Map::new();
    for (index, copy) in copies.iter().enumerate() {
        let mut value = store.value(copy)?.clone();
        if let Value::Object(object) = &mut value {
            object.remove("$schema");
        }
        definitions.insert(index.to_string(), value);
    }
    let root = pointer::push("", defs);
    for (index, at, target) in &refs {
        let (copy, inner) = copies.iter().enumerate().find_map(|(i, c)| {
            within(target, c).then(|| (i, &target.pointer[c.pointer.len()..]))
        })?;
        let reference = format!("#{}{inner}", pointer::push(&root, &copy.to_string()));
        let holder = definitions
            .get_mut(&index.to_string())
            .and_then(|copy| copy.pointer_mut(at));
        if let Some(Value::Object(object)) = holder {
            object.insert(
                "$ref".to_owned(),
                Value::String(encode_fragment(&reference)),
            );
        }
    }
    let mut definitions = Value::Object(definitions);
    strip_ids(&mut definitions);
    if let Value::Object(copies) = &mut definitions {
        copies.values_mut().for_each(strip_annotations);
    }
    let mut schema = serde_json::Map::new();
    if let Some(draft) = draft {
        schema.insert("$schema".to_owned(), Value::String(draft.uri().to_owned()));
    }
    schema.insert(
        "$ref".to_owned(),
        Value::String(format!("#{}", pointer::push(&root, "0"))),
    );
    schema.insert(defs.to_owned(), definitions);
    Some(Value::Object(schema).to_string())
}

/// Whether `node` is `outer` or inside it.
fn within(node: &NodeRef, outer: &NodeRef) -> bool {
    node.doc == outer.doc
        && node
            .pointer
            .strip_prefix(outer.pointer.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A fragment as a URI allows it (JSON pointer characters that URIs reserve, percent-encoded).
fn encode_fragment(reference: &str) -> String {
    let mut out = String::with_capacity(reference.len());
    for c in reference.chars() {
        match c {
            '%' => out.push_str("%25"),
            ' ' => out.push_str("%20"),
            '"' => out.push_str("%22"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '\\' => out.push_str("%5C"),
            '^' => out.push_str("%5E"),
            '`' => out.push_str("%60"),
            '{' => out.push_str("%7B"),
            '|' => out.push_str("%7C"),
            '}' => out.push_str("%7D"),
            other => out.push(other),
        }
    }
    out
}

/// Removes what a validator does not read from a schema and its subschemas: titles,
/// descriptions, examples, defaults, comments and `x-` extensions (not properties so named).
fn strip_annotations(schema: &mut Value) {
    const ANNOTATIONS: &[&str] = &[
        "title",
        "description",
        "examples",
        "default",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
    ];
    // Keywords whose value is a map of subschemas, and those whose value is a subschema or a
    // list of subschemas.
    const SCHEMA_MAPS: &[&str] = &[
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
        "dependencies",
    ];
    const SCHEMAS: &[&str] = &[
        "items",
        "prefixItems",
        "additionalItems",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "additionalProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "propertyNames",
        "contentSchema",
    ];
    let Value::Object(object) = schema else {
        return;
    };
    object.retain(|key, _| !ANNOTATIONS.contains(&key.as_str()) && !key.starts_with("x-"));
    for (key, value) in object.iter_mut() {
        if SCHEMA_MAPS.contains(&key.as_str()) {
            if let Value::Object(members) = value {
                // `dependencies` lists of names are no schemas and pass untouched.
                members.values_mut().for_each(strip_annotations);
            }
        } else if SCHEMAS.contains(&key.as_str()) {
            match value {
                Value::Array(members) => members.iter_mut().for_each(strip_annotations),
                other => strip_annotations(other),
            }
        }
    }
}

fn strip_ids(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("$id").is_some_and(Value::is_string) {
                object.remove("$id");
            }
            object.values_mut().for_each(strip_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::strip_annotations;
    use serde_json::json;

    #[test]
    fn annotations_go_and_properties_so_named_stay() {
        let mut schema = json!({
            "title": "T", "description": "d", "x-eventsmith": {"stream": "s"},
            "type": "object",
            "properties": {
                "title": {"type": "string", "examples": ["a"], "minLength": 1},
                "description": {"oneOf": [{"description": "x", "type": "null"}]}
            },
            "dependencies": {"title": ["description"]},
            "required": ["title"]
        });
        strip_annotations(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1},
                    "description": {"oneOf": [{"type": "null"}]}
                },
                "dependencies": {"title": ["description"]},
                "required": ["title"]
            })
        );
    }
}
