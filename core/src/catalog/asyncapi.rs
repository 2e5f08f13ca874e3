//! One AsyncAPI 3.0.0 document: a channel per stream category (`order-{id}`), a message per event
//! version, a send operation per command, a receive operation per projection and channel, per
//! saga a receive operation per channel it reads and a send operation per command it sends, and
//! per window a receive operation per channel it reads.
//! Payload schemas live in `components/schemas`, one per schema file, keyed by its path, with
//! every `$ref` pointing there: AsyncAPI's Schema Object is draft-07, so 2020-12 keywords are
//! rewritten to their draft-07 forms.

use super::facts::Facts;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::project::annotations::KEYWORD;
use crate::project::model::Project;
use crate::schema::draft::Draft;
use crate::schema::store::{DocId, NodeRef};
use crate::schema::walk;
use crate::text::pointer;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The AsyncAPI version written.
pub const VERSION: &str = "3.0.0";

/// The document for `project`.
/// `signed` is its `x-generated` value.
pub fn document(project: &Project, facts: &Facts, signed: &str) -> Value {
    let mut schemas = Schemas::of(project);
    let mut messages = Map::new();
    let mut channels: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for (event, model) in facts.events.iter().zip(project.events.values()) {
        for (version, model_version) in event.versions.iter().zip(&model.versions) {
            let key = message_key(&event.event_type, version.version);
            let mut message = json!({
                "name": version.cloudevents_type,
                "title": format!("{} v{}", version.doc.title, version.version),
                "contentType": "application/json",
                "payload": {"$ref": schemas.reference(model_version.schema)},
                "tags": [{"name": event.aggregate}],
            });
            if !version.doc.summary.is_empty() {
                message["summary"] = json!(version.doc.summary);
            }
            let mut description = version.doc.description.clone();
            if let Some(reason) = &version.doc.deprecated {
                // AsyncAPI messages have no deprecation of their own; their payloads do.
                description = format!("**Deprecated:** {reason}\n\n{description}");
                let key = schemas.key(model_version.schema).to_owned();
                if let Some(Value::Object(payload)) = schemas.components.get_mut(&key) {
                    payload.insert("deprecated".to_owned(), Value::Bool(true));
                }
            }
            if !description.trim().is_empty() {
                message["description"] = json!(description.trim());
            }
            if !version.examples.is_empty() {
                message["examples"] = version
                    .examples
                    .iter()
                    .enumerate()
                    .map(|(n, payload)| json!({"name": format!("example{}", n + 1), "payload": payload}))
                    .collect();
            }
            messages.insert(key.clone(), message);
            channels.entry(event.category.as_str()).or_default().insert(
                key.clone(),
                json!({"$ref": format!("#/components/messages/{key}")}),
            );
        }
    }
    let mut operations = Map::new();
    let mut keys = crate::project::names::Scope::new();
    let mut claim = |wanted: String, operation: Value| {
        operations.insert(keys.claim(wanted), operation);
    };
    let category_of = |event_type: &str| {
        facts
            .events
            .iter()
            .find(|e| e.event_type == event_type)
            .map(|e| (e.category.as_str(), e))
    };
    for command in &facts.commands {
        let mut by_channel: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for emitted in &command.emits {
            if let Some((category, event)) = category_of(emitted) {
                by_channel.entry(category).or_default().push(json!({
                    "$ref": format!("#/channels/{category}/messages/{}", message_key(emitted, event.latest))
                }));
            }
        }
        for (category, refs) in by_channel {
            let mut operation = json!({
                "action": "send",
                "channel": {"$ref": format!("#/channels/{category}")},
                "title": command.doc.title,
                "description": format!(
                    "`POST /commands/{}/{{id}}/{}` appends what the `{}` aggregate decides.{}",
                    command.aggregate,
                    command.name,
                    command.aggregate,
                    if command.doc.description.is_empty() { String::new() } else { format!(" {}", command.doc.description) }
                ),
                "messages": refs,
            });
            if !command.doc.summary.is_empty() {
                operation["summary"] = json!(command.doc.summary);
            }
            claim(format!("{}.{}", command.aggregate, command.name), operation);
        }
    }
    for projection in &facts.projections {
        let mut by_channel: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for subscribed in &projection.subscribes {
            if let Some((category, event)) = category_of(subscribed) {
                // A replay reads every version, upcast on the way in.
                for version in &event.versions {
                    by_channel.entry(category).or_default().push(json!({
                        "$ref": format!("#/channels/{category}/messages/{}", message_key(subscribed, version.version))
                    }));
                }
            }
        }
        for (category, refs) in by_channel {
            let mut operation = json!({
                "action": "receive",
                "channel": {"$ref": format!("#/channels/{category}")},
                "title": format!("{} reads {category}", projection.name),
                "description": format!(
                    "The `{}` projection, keyed by `{}`, reads these events from `{category}` streams.",
                    projection.name, projection.key
                ),
                "messages": refs,
            });
            if !projection.doc.summary.is_empty() {
                operation["summary"] = json!(projection.doc.summary);
            }
            claim(format!("{}.{category}", projection.name), operation);
        }
    }
    for saga in &facts.sagas {
        let machine = &saga.machine;
        let mut by_channel: BTreeMap<&str, (Vec<Value>, Vec<String>)> = BTreeMap::new();
        for read in &machine.reads {
            if let Some((category, event)) = category_of(&read.event_type) {
                // It runs as a projection does: a replay reads every version, upcast.
                let (refs, starts) = by_channel.entry(category).or_default();
                for version in &event.versions {
                    refs.push(json!({
                        "$ref": format!("#/channels/{category}/messages/{}", message_key(&read.event_type, version.version))
                    }));
                }
                if read.starts {
                    starts.push(format!("`{}`", read.event_type));
                }
            }
        }
        for (category, (refs, starts)) in by_channel {
            let starting = match starts.len() {
                0 => String::new(),
                1 => format!(" {} starts an instance.", starts[0]),
                _ => format!(" {} start an instance.", starts.join(", ")),
            };
            let mut operation = json!({
                "action": "receive",
                "channel": {"$ref": format!("#/channels/{category}")},
                "title": format!("{} saga reads {category}", saga.name),
                "description": format!(
                    "The `{}` saga reads these events from `{category}` streams.{starting}",
                    saga.name
                ),
                "messages": refs,
            });
            if !saga.doc.summary.is_empty() {
                operation["summary"] = json!(saga.doc.summary);
            }
            claim(format!("{}.{category}", saga.name), operation);
        }
        for used in &machine.commands {
            let Some(command) = facts.commands.iter().find(|c| c.key == used.key) else {
                continue;
            };
            let mut by_channel: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
            for emitted in &command.emits {
                if let Some((category, event)) = category_of(emitted) {
                    by_channel.entry(category).or_default().push(json!({
                        "$ref": format!("#/channels/{category}/messages/{}", message_key(emitted, event.latest))
                    }));
                }
            }
            let steps = |steps: &[String]| {
                let names: Vec<String> = steps.iter().map(|s| format!("`{s}`")).collect();
                match names.len() {
                    1 => format!("step {}", names[0]),
                    _ => format!("steps {}", names.join(", ")),
                }
            };
            let why = match (used.steps.is_empty(), used.undoes.is_empty()) {
                (false, true) => format!("as {}", steps(&used.steps)),
                (true, false) => format!("to undo {}", steps(&used.undoes)),
                _ => format!(
                    "as {} and to undo {}",
                    steps(&used.steps),
                    steps(&used.undoes)
                ),
            };
            for (category, refs) in by_channel {
                let operation = json!({
                    "action": "send",
                    "channel": {"$ref": format!("#/channels/{category}")},
                    "title": format!("{} saga sends {}", saga.name, command.key),
                    "description": format!(
                        "The `{}` saga sends the command `{}` {why}; the `{}` aggregate appends what it decides.",
                        saga.name, command.key, command.aggregate
                    ),
                    "messages": refs,
                });
                claim(format!("{}.{}", saga.name, command.key), operation);
            }
        }
    }
    for window in &facts.windows {
        let mut by_channel: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for read in &window.windowing.reads {
            if let Some((category, event)) = category_of(&read.event_type) {
                // It runs as a projection does: a replay reads every version, upcast.
                for version in &event.versions {
                    by_channel.entry(category).or_default().push(json!({
                        "$ref": format!("#/channels/{category}/messages/{}", message_key(&read.event_type, version.version))
                    }));
                }
            }
        }
        for (category, refs) in by_channel {
            let mut operation = json!({
                "action": "receive",
                "channel": {"$ref": format!("#/channels/{category}")},
                "title": format!("{} window reads {category}", window.name),
                "description": format!(
                    "The `{}` window reads these events from `{category}` streams into {}.",
                    window.name, window.windowing.cut.text
                ),
                "messages": refs,
            });
            if !window.doc.summary.is_empty() {
                operation["summary"] = json!(window.doc.summary);
            }
            claim(format!("{}.{category}", window.name), operation);
        }
    }
    let channels: Map<String, Value> = channels
        .into_iter()
        .map(|(category, messages)| {
            let aggregates: BTreeSet<&str> = facts
                .events
                .iter()
                .filter(|e| e.category == category)
                .map(|e| e.aggregate.as_str())
                .collect();
            let names: Vec<String> = aggregates.iter().map(|a| format!("`{a}`")).collect();
            (
                category.to_owned(),
                json!({
                    "address": format!("{category}-{{id}}"),
                    "title": format!("{category} streams"),
                    "description": format!("One stream per instance of the {} aggregate{}.", names.join(", "), if names.len() == 1 { "" } else { "s" }),
                    "parameters": {"id": {"description": "The aggregate instance's id."}},
                    "messages": messages,
                }),
            )
        })
        .collect();
    let mut info = json!({"title": facts.name, "version": facts.version});
    if !facts.description.is_empty() {
        info["description"] = json!(facts.description);
    }
    json!({
        "asyncapi": VERSION,
        "x-generated": signed,
        "info": info,
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas.components,
        },
    })
}

/// The document as JSON or YAML text.
pub fn to_text(document: &Value, yaml: bool) -> Result<String, Diagnostic> {
    if yaml {
        serde_norway::to_string(document).map_err(|error| {
            Diagnostic::new(Rule::CatalogAsyncapi, format!("cannot write YAML: {error}"))
        })
    } else {
        Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(document).unwrap_or_default()
        ))
    }
}

fn message_key(event_type: &str, version: u32) -> String {
    format!("{event_type}.v{version}")
}

/// Every schema file that payloads reach, as draft-07 component schemas.
struct Schemas {
    keys: BTreeMap<DocId, String>,
    components: Map<String, Value>,
}

impl Schemas {
    fn of(project: &Project) -> Schemas {
        let store = &project.store;
        let base = project.schema_dir();
        let mut docs: Vec<DocId> = project
            .events
            .values()
            .flat_map(|e| e.versions.iter().map(|v| v.schema))
            .collect();
        let mut keys = BTreeMap::new();
        let mut taken = crate::project::names::Scope::new();
        let mut next = 0;
        while let Some(&doc) = docs.get(next) {
            next += 1;
            if keys.contains_key(&doc) {
                continue;
            }
            // By path from the schema directory (`..` as `parent`), the same on every machine.
            let relative = crate::io::paths::relative_path(
                &base,
                &store.document(doc).path().with_extension(""),
            );
            let wanted: String = relative
                .split('/')
                .filter(|part| !part.is_empty())
                .map(|part| if part == ".." { "parent" } else { part })
                .collect::<Vec<_>>()
                .join(".")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            keys.insert(doc, taken.claim(wanted));
            let draft = store.draft(doc).unwrap_or(Draft::Draft202012);
            for sub in walk::subschemas(store.document(doc).value(), draft) {
                let holder = NodeRef {
                    doc,
                    pointer: sub.pointer.clone(),
                };
                if let Some(Ok(target)) = store.ref_target(&holder) {
                    docs.push(target.doc);
                }
            }
        }
        let mut components = Map::new();
        for (&doc, key) in &keys {
            let mut value = store.document(doc).value().clone();
            let draft = store.draft(doc).unwrap_or(Draft::Draft202012);
            // References first (by pointer, before anything moves), then the keywords.
            let refs: Vec<(String, String)> = walk::subschemas(store.document(doc).value(), draft)
                .into_iter()
                .filter_map(|sub| {
                    let holder = NodeRef {
                        doc,
                        pointer: sub.pointer.clone(),
                    };
                    let target = store.ref_target(&holder)?.as_ref().ok()?;
                    let reference = format!(
                        "#/components/schemas/{}{}",
                        pointer::escape(&keys[&target.doc]),
                        target.pointer
                    );
                    Some((sub.pointer, reference))
                })
                .collect();
            for (at, reference) in refs {
                if let Some(Value::Object(object)) = value.pointer_mut(&at) {
                    object.insert("$ref".to_owned(), Value::String(reference));
                }
            }
            if let Value::Object(object) = &mut value {
                object.shift_remove("$schema");
                object.shift_remove(KEYWORD);
            }
            // AsyncAPI's schema format is draft-07's: draft-06 and -07 files read as they are.
            match draft {
                Draft::Draft4 => uplevel_draft4(&mut value),
                Draft::Draft6 | Draft::Draft7 => {}
                Draft::Draft201909 | Draft::Draft202012 => downlevel(&mut value),
            }
            components.insert(key.clone(), value);
        }
        Schemas { keys, components }
    }

    fn key(&self, doc: DocId) -> &str {
        self.keys.get(&doc).map(String::as_str).unwrap_or_default()
    }

    fn reference(&self, doc: DocId) -> String {
        format!("#/components/schemas/{}", self.key(doc))
    }
}

/// Keywords that only annotate: beside a `$ref`, draft-07 ignoring them changes no verdict.
const ANNOTATIONS: &[&str] = &[
    "$ref",
    "$comment",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Rewrites a draft-04 schema (in place, every subschema) into its draft-07 form: boolean
/// `exclusiveMinimum`/`exclusiveMaximum` become the bounds they flag, `id` goes (as `$id` does
/// in [`downlevel`]: components are addressed by their key).
fn uplevel_draft4(value: &mut Value) {
    let pointers: Vec<String> = walk::subschemas(value, Draft::Draft4)
        .into_iter()
        .map(|sub| sub.pointer)
        .collect();
    for at in pointers {
        let Some(Value::Object(object)) = value.pointer_mut(&at) else {
            continue;
        };
        object.shift_remove("id");
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            match object.get(flag) {
                Some(Value::Bool(true)) => {
                    if let Some(limit) = object.shift_remove(bound) {
                        object.insert(flag.to_owned(), limit);
                    } else {
                        object.shift_remove(flag);
                    }
                }
                Some(Value::Bool(false)) => {
                    object.shift_remove(flag);
                }
                _ => {}
            }
        }
    }
}

/// Rewrites a 2020-12 schema (in place, recursively) into its draft-07 form.
fn downlevel(value: &mut Value) {
    let Value::Object(object) = value else {
        return;
    };
    for keyword in ["$id", "$anchor", "$dynamicAnchor", "$vocabulary"] {
        object.shift_remove(keyword);
    }
    if let Some(reference) = object.shift_remove("$dynamicRef") {
        object.insert("$ref".to_owned(), reference);
    }
    if let Some(Value::Array(prefix)) = object.shift_remove("prefixItems") {
        if let Some(rest) = object.shift_remove("items") {
            object.insert("additionalItems".to_owned(), rest);
        }
        object.insert("items".to_owned(), Value::Array(prefix));
    }
    // Without combinators beside it, `unevaluatedProperties` means `additionalProperties`.
    let combined = ["allOf", "anyOf", "oneOf", "if", "$ref", "dependentSchemas"]
        .iter()
        .any(|k| object.contains_key(*k));
    if !combined && !object.contains_key("additionalProperties") {
        if let Some(rest) = object.shift_remove("unevaluatedProperties") {
            object.insert("additionalProperties".to_owned(), rest);
        }
    }
    let mut dependencies = Map::new();
    for keyword in ["dependentRequired", "dependentSchemas"] {
        if let Some(Value::Object(map)) = object.shift_remove(keyword) {
            dependencies.extend(map);
        }
    }
    if !dependencies.is_empty() {
        object.insert("dependencies".to_owned(), Value::Object(dependencies));
    }
    // Draft-07 ignores what sits beside `$ref`; keep the constraints by moving the reference
    // into an `allOf`.
    if object.contains_key("$ref") && object.keys().any(|k| !ANNOTATIONS.contains(&k.as_str())) {
        if let Some(reference) = object.shift_remove("$ref") {
            let mut all_of = vec![json!({ "$ref": reference })];
            if let Some(Value::Array(existing)) = object.shift_remove("allOf") {
                all_of.extend(existing);
            }
            object.insert("allOf".to_owned(), Value::Array(all_of));
        }
    }
    for (keyword, child) in object.iter_mut() {
        match keyword.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependencies" => {
                if let Value::Object(map) = child {
                    map.values_mut().for_each(downlevel);
                }
            }
            "items" | "allOf" | "anyOf" | "oneOf" => match child {
                Value::Array(list) => list.iter_mut().for_each(downlevel),
                other => downlevel(other),
            },
            "additionalProperties"
            | "unevaluatedProperties"
            | "additionalItems"
            | "unevaluatedItems"
            | "contains"
            | "propertyNames"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contentSchema" => downlevel(child),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_2020_12_keywords_take_their_draft_07_forms() {
        let mut schema = json!({
            "$anchor": "x",
            "type": "object",
            "properties": {
                "pair": {"prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
                "money": {"$ref": "#/components/schemas/types.money", "description": "How much.", "minimum": 0},
                "plain": {"$ref": "#/components/schemas/types.ids", "description": "Which."}
            },
            "dependentRequired": {"a": ["b"]},
            "unevaluatedProperties": false
        });
        downlevel(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "pair": {"items": [{"type": "string"}], "additionalItems": {"type": "integer"}},
                    "money": {"description": "How much.", "minimum": 0, "allOf": [{"$ref": "#/components/schemas/types.money"}]},
                    "plain": {"$ref": "#/components/schemas/types.ids", "description": "Which."}
                },
                "dependencies": {"a": ["b"]},
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn draft_04_bounds_take_their_draft_07_forms() {
        let mut schema = json!({
            "id": "http://example.com/a.json",
            "type": "object",
            "properties": {
                "price": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
                "count": {"type": "integer", "maximum": 9, "exclusiveMaximum": false}
            }
        });
        uplevel_draft4(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "price": {"type": "number", "exclusiveMinimum": 0},
                    "count": {"type": "integer", "maximum": 9}
                }
            })
        );
    }
}
