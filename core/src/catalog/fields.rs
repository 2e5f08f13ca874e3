//! A schema as a table of fields: every property, nested ones by dotted path (`lines[].sku`), with
//! its type, whether it is required, its constraints and its description. `$ref`s are followed,
//! across files too; a type met again on its own path is named, not expanded.

use crate::schema::store::{NodeRef, Store};
use crate::schema::view::View;
use crate::text::pointer;
use serde::Serialize;
use serde_json::Value;

/// How deep nested objects are expanded.
const MAX_DEPTH: usize = 8;

/// One row of a field table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// `name`, `parent.child`, `list[].item`.
    pub path: String,
    /// `string (uuid)`, `array of OrderLine`, `integer or null`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether its object requires it.
    pub required: bool,
    /// `≥ 0`, `length ≤ 200`, `one of placed, paid` (as Markdown code where literal).
    pub constraints: Vec<String>,
    /// Its description, when it has one.
    pub description: String,
    /// How deeply it is nested (0 for top-level properties).
    pub depth: usize,
}

/// The fields of the object schema at `root`.
pub fn fields(store: &Store, root: &NodeRef) -> Vec<Field> {
    let mut out = Vec::new();
    let mut path = vec![root.clone()];
    walk(store, root, "", 0, &mut path, &mut out);
    out
}

/// A schema and, recursively, its `allOf` members (each once): together they describe one
/// value.
fn members<'a>(store: &'a Store, node: &NodeRef) -> Vec<View<'a>> {
    let mut out: Vec<View<'a>> = Vec::new();
    let mut seen: Vec<NodeRef> = Vec::new();
    let mut pending = vec![node.clone()];
    while let Some(node) = pending.pop() {
        let target = store.follow(&node).unwrap_or_else(|| node.clone());
        if seen.contains(&target) || out.len() > 64 {
            continue;
        }
        seen.push(target);
        let view = View::resolve(store, &node);
        let mut nested = Vec::new();
        for (list, at) in view.get_all("allOf") {
            if let Value::Array(list) = list {
                nested.extend((0..list.len()).map(|index| NodeRef {
                    doc: at.doc,
                    pointer: pointer::push(&at.pointer, &index.to_string()),
                }));
            }
        }
        // Depth first, in document order.
        pending.extend(nested.into_iter().rev());
        out.push(view);
    }
    out
}

/// The first value of `keyword` among a schema's members.
fn first<'a>(views: &[View<'a>], keyword: &str) -> Option<(&'a Value, NodeRef)> {
    views.iter().find_map(|view| view.get(keyword))
}

fn walk(
    store: &Store,
    node: &NodeRef,
    prefix: &str,
    depth: usize,
    on_path: &mut Vec<NodeRef>,
    out: &mut Vec<Field>,
) {
    let objects = members(store, node);
    // `required` anywhere in the conjunction applies to every member's properties.
    let required: Vec<&str> = objects
        .iter()
        .flat_map(|o| o.get_all("required"))
        .filter_map(|(value, _)| value.as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut seen = std::collections::HashSet::new();
    for object in &objects {
        for (properties, at) in object.get_all("properties") {
            let Value::Object(properties) = properties else {
                continue;
            };
            for name in properties.keys() {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let property = NodeRef {
                    doc: at.doc,
                    pointer: pointer::push(&at.pointer, name),
                };
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                field(
                    store,
                    &property,
                    path,
                    required.contains(&name.as_str()),
                    depth,
                    on_path,
                    out,
                );
            }
        }
    }
}

fn field(
    store: &Store,
    node: &NodeRef,
    path: String,
    required: bool,
    depth: usize,
    on_path: &mut Vec<NodeRef>,
    out: &mut Vec<Field>,
) {
    let views = members(store, node);
    let description = first(&views, "description")
        .and_then(|(v, _)| v.as_str())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    out.push(Field {
        ty: type_of(store, &views, 0),
        constraints: constraints(&views),
        path: path.clone(),
        required,
        description,
        depth,
    });
    expand(store, node, &path, depth, on_path, out);
}

/// Fields nested in the value at `node`: an object's properties, or those of its array's items
/// (`list[]`, `matrix[][]`), one level deeper.
fn expand(
    store: &Store,
    node: &NodeRef,
    path: &str,
    depth: usize,
    on_path: &mut Vec<NodeRef>,
    out: &mut Vec<Field>,
) {
    let target = store.follow(node).unwrap_or_else(|| node.clone());
    if depth + 1 >= MAX_DEPTH || on_path.contains(&target) {
        return;
    }
    let views = members(store, node);
    on_path.push(target);
    if is_object(&views) {
        walk(store, node, path, depth + 1, on_path, out);
    } else if let Some((Value::Object(_), at)) = first(&views, "items") {
        expand(store, &at, &format!("{path}[]"), depth, on_path, out);
    }
    on_path.pop();
}

fn is_object(views: &[View<'_>]) -> bool {
    views.iter().any(|view| view.get("properties").is_some())
}

/// The name a referenced schema goes by: its title, else the last token of its pointer, else
/// its file's stem. A lone `allOf` reference (draft-07's way to annotate a `$ref`) counts.
fn named(store: &Store, views: &[View<'_>]) -> Option<String> {
    let referring = views
        .iter()
        .find(|view| store.ref_target(&view.at).is_some())?;
    let target = store.ref_target(&referring.at)?.as_ref().ok()?;
    let target = store.follow(target).unwrap_or_else(|| target.clone());
    if let Some(title) = store
        .value(&target)
        .and_then(|v| v.get("title"))
        .and_then(Value::as_str)
    {
        return Some(title.to_owned());
    }
    match pointer::tokens(&target.pointer)?.last() {
        Some(token) => Some(token.clone()),
        None => store
            .document(target.doc)
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned()),
    }
}

/// The type of a schema (with its `allOf` members), in words.
fn type_of(store: &Store, views: &[View<'_>], depth: usize) -> String {
    if let Some(b) = views.first().and_then(|v| v.boolean) {
        return if b { "any" } else { "never valid" }.to_owned();
    }
    let base = plain_type(store, views, depth);
    match named(store, views) {
        Some(name) if depth == 0 && !base.contains(&name) => format!("{name}: {base}"),
        _ => base,
    }
}

fn plain_type(store: &Store, views: &[View<'_>], depth: usize) -> String {
    if depth > 3 {
        return "…".to_owned();
    }
    let types: Vec<&str> = match first(views, "type") {
        Some((Value::String(t), _)) => vec![t.as_str()],
        Some((Value::Array(list), _)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let format = first(views, "format").and_then(|(v, _)| v.as_str());
    let words: Vec<String> = types
        .iter()
        .map(|t| match (*t, format) {
            ("string", Some(format)) => format!("string ({format})"),
            ("array", _) => match first(views, "items") {
                Some((Value::Object(_), at)) => {
                    let items = members(store, &at);
                    let name = named(store, &items);
                    format!(
                        "array of {}",
                        name.unwrap_or_else(|| plain_type(store, &items, depth + 1))
                    )
                }
                _ => "array".to_owned(),
            },
            (other, _) => other.to_owned(),
        })
        .collect();
    if !words.is_empty() {
        return words.join(" or ");
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some((Value::Array(list), at)) = first(views, keyword) {
            let mut alternatives: Vec<String> = Vec::new();
            let described = (0..list.len()).map(|index| {
                let member = NodeRef {
                    doc: at.doc,
                    pointer: pointer::push(&at.pointer, &index.to_string()),
                };
                let member = members(store, &member);
                named(store, &member).unwrap_or_else(|| plain_type(store, &member, depth + 1))
            });
            // `string or string` says no more than `string` (an enum beside a free string).
            for alternative in described {
                if !alternatives.contains(&alternative) {
                    alternatives.push(alternative);
                }
            }
            return alternatives.join(" or ");
        }
    }
    if let Some((value, _)) = first(views, "const") {
        return crate::schema::json_type(value).to_owned();
    }
    if let Some((Value::Array(values), _)) = first(views, "enum") {
        let mut kinds: Vec<&str> = values.iter().map(crate::schema::json_type).collect();
        kinds.dedup();
        return kinds.join(" or ");
    }
    if is_object(views) {
        return "object".to_owned();
    }
    "any".to_owned()
}

/// A JSON value as inline code.
pub fn code(value: &Value) -> String {
    let text = match value {
        Value::String(s) if !s.is_empty() => s.clone(),
        other => other.to_string(),
    };
    inline_code(&text)
}

/// Text as an inline code span, with enough backticks around it.
pub fn inline_code(text: &str) -> String {
    if text.is_empty() {
        // An empty span renders its backticks; show the empty string as JSON does.
        return "`\"\"`".to_owned();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The constraints of a schema (with its `allOf` members), in words.
fn constraints(views: &[View<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    let get = |keyword: &str| first(views, keyword);
    let number = |keyword: &str| get(keyword).map(|(v, _)| v.to_string());
    let bounds = [
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ];
    for (keyword, symbol) in bounds {
        if let Some((value, _)) = get(keyword) {
            if value.is_number() {
                out.push(format!("{symbol} {value}"));
            }
        }
    }
    if let Some(step) = number("multipleOf") {
        out.push(format!("multiple of {step}"));
    }
    let pairs = [
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("minProperties", "properties ≥"),
        ("maxProperties", "properties ≤"),
    ];
    for (keyword, words) in pairs {
        if let Some(value) = number(keyword) {
            out.push(format!("{words} {value}"));
        }
    }
    if get("uniqueItems").is_some_and(|(v, _)| v == &Value::Bool(true)) {
        out.push("unique items".to_owned());
    }
    if let Some((Value::String(pattern), _)) = get("pattern") {
        out.push(format!("pattern {}", inline_code(pattern)));
    }
    if let Some((Value::Array(values), _)) = get("enum") {
        let values: Vec<String> = values.iter().map(code).collect();
        out.push(format!("one of {}", values.join(", ")));
    }
    if let Some((value, _)) = get("const") {
        out.push(format!("always {}", code(value)));
    }
    if let Some((value, _)) = get("default") {
        out.push(format!("default {}", code(value)));
    }
    let patterns: Vec<String> = match get("patternProperties") {
        Some((Value::Object(patterns), _)) => patterns.keys().map(|p| inline_code(p)).collect(),
        _ => Vec::new(),
    };
    if !patterns.is_empty() {
        out.push(format!("keys matching {}", patterns.join(" or ")));
    }
    if get("additionalProperties").is_some_and(|(v, _)| v == &Value::Bool(false))
        && (get("properties").is_some() || !patterns.is_empty())
    {
        out.push("no other properties".to_owned());
    }
    if get("deprecated").is_some_and(|(v, _)| v == &Value::Bool(true)) {
        out.push("deprecated".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::fs::MemoryFs;
    use serde_json::json;
    use std::path::Path;

    fn rows(schema: Value) -> Vec<Field> {
        let mut fs = MemoryFs::new();
        fs.insert("/p/schema.json", serde_json::to_vec(&schema).unwrap());
        let loaded = crate::project::loader::load_file(
            &fs,
            Path::new("/p/schema.json"),
            None,
            crate::schema::draft::Draft::Draft202012,
        );
        let root = NodeRef {
            doc: loaded.doc.unwrap(),
            pointer: String::new(),
        };
        fields(&loaded.store, &root)
    }

    fn table(schema: Value) -> Vec<(String, String, bool)> {
        rows(schema)
            .into_iter()
            .map(|f| (f.path, f.ty, f.required))
            .collect()
    }

    #[test]
    fn all_of_members_give_properties_required_and_types() {
        let rows = table(json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "allOf": [{"$ref": "#/definitions/Base"}, {"allOf": [{"properties": {"deep": {"type": "integer"}}}]}],
            "required": ["id", "price"],
            "properties": {
                "price": {"description": "How much.", "allOf": [{"$ref": "#/definitions/Money"}]}
            },
            "definitions": {
                "Base": {"type": "object", "properties": {"id": {"type": "string"}}},
                "Money": {"type": "object", "properties": {"amount": {"type": "number"}}}
            }
        }));
        assert_eq!(
            rows,
            vec![
                ("price".into(), "Money: object".into(), true),
                ("price.amount".into(), "number".into(), false),
                ("id".into(), "string".into(), true),
                ("deep".into(), "integer".into(), false),
            ]
        );
    }

    #[test]
    fn arrays_of_arrays_and_cycles_expand_once() {
        let rows = table(json!({
            "type": "object",
            "properties": {
                "grid": {"type": "array", "items": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
                "node": {"$ref": "#/$defs/Node"}
            },
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}
        }));
        assert_eq!(
            rows,
            vec![
                ("grid".into(), "array of array of object".into(), false),
                ("grid[][].x".into(), "integer".into(), false),
                ("node".into(), "Node: object".into(), false),
                ("node.next".into(), "Node: object".into(), false),
            ]
        );
    }

    #[test]
    fn pattern_properties_name_their_patterns() {
        let rows = rows(json!({
            "type": "object",
            "properties": {
                "jobs": {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "object"}}, "additionalProperties": false}
            }
        }));
        assert_eq!(
            rows[0].constraints,
            ["keys matching `^[a-z]+$`", "no other properties"]
        );
    }

    #[test]
    fn alternatives_are_named_once() {
        let rows = table(json!({
            "type": "object",
            "properties": {
                "shell": {"anyOf": [{"type": "string"}, {"type": "string", "enum": ["bash", "sh"]}]},
                "id": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "string", "format": "uuid"}]}
            }
        }));
        assert_eq!(
            rows,
            vec![
                ("shell".into(), "string".into(), false),
                (
                    "id".into(),
                    "string or integer or string (uuid)".into(),
                    false
                ),
            ]
        );
    }
}
