//! A schema as a table of fields: every property, nested ones by dotted path (`lines[].sku`), with
//! its type, whether it is required, its constraints and its description. `$ref`s are followed,
//! across files too; a type met again on its own path is named, not expanded.

use crate::compat::schema::View;
use crate::pointer;
use crate::store::{NodeRef, Store};
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

fn walk(
    store: &Store,
    node: &NodeRef,
    prefix: &str,
    depth: usize,
    on_path: &mut Vec<NodeRef>,
    out: &mut Vec<Field>,
) {
    let view = View::resolve(store, node);
    // Properties of the object itself and of its `allOf` members.
    let mut objects = vec![view.clone()];
    for (members, at) in view.get_all("allOf") {
        if let Value::Array(members) = members {
            for index in 0..members.len() {
                let member = NodeRef {
                    doc: at.doc,
                    pointer: pointer::push(&at.pointer, &index.to_string()),
                };
                objects.push(View::resolve(store, &member));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for object in &objects {
        let required: Vec<&str> = object
            .get_all("required")
            .into_iter()
            .filter_map(|(value, _)| value.as_array())
            .flatten()
            .filter_map(Value::as_str)
            .collect();
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
    let view = View::resolve(store, node);
    let description = view
        .get("description")
        .and_then(|(v, _)| v.as_str())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    out.push(Field {
        ty: type_of(store, &view, 0),
        constraints: constraints(&view),
        path: path.clone(),
        required,
        description,
        depth,
    });
    // Nested objects, directly or as array items, expand below their field.
    let target = store.follow(node).unwrap_or_else(|| node.clone());
    if depth + 1 >= MAX_DEPTH || on_path.contains(&target) {
        return;
    }
    on_path.push(target);
    if is_object(&view) {
        walk(store, node, &path, depth + 1, on_path, out);
    } else if let Some((Value::Object(_) | Value::Bool(_), at)) = view.get("items") {
        let items = View::resolve(store, &at);
        if is_object(&items) {
            let item_target = store.follow(&at).unwrap_or_else(|| at.clone());
            if !on_path.contains(&item_target) {
                on_path.push(item_target);
                walk(store, &at, &format!("{path}[]"), depth + 1, on_path, out);
                on_path.pop();
            }
        }
    }
    on_path.pop();
}

fn is_object(view: &View<'_>) -> bool {
    view.get("properties").is_some()
        || view
            .get("type")
            .is_some_and(|(t, _)| t.as_str() == Some("object"))
            && view.get("allOf").is_some()
}

/// The name a referenced schema goes by: its title, else the last token of its pointer, else
/// its file's stem.
fn named(store: &Store, view: &View<'_>) -> Option<String> {
    let target = store.ref_target(&view.at)?.as_ref().ok()?;
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

/// The type of a schema, in words.
fn type_of(store: &Store, view: &View<'_>, depth: usize) -> String {
    if let Some(b) = view.boolean {
        return if b { "any" } else { "nothing" }.to_owned();
    }
    let base = plain_type(store, view, depth);
    match named(store, view) {
        Some(name) if depth == 0 && !base.contains(&name) => format!("{name}: {base}"),
        _ => base,
    }
}

fn plain_type(store: &Store, view: &View<'_>, depth: usize) -> String {
    if depth > 3 {
        return "…".to_owned();
    }
    let types: Vec<&str> = match view.get("type") {
        Some((Value::String(t), _)) => vec![t.as_str()],
        Some((Value::Array(list), _)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let format = view.get("format").and_then(|(v, _)| v.as_str());
    let words: Vec<String> = types
        .iter()
        .map(|t| match (*t, format) {
            ("string", Some(format)) => format!("string ({format})"),
            ("array", _) => match view.get("items") {
                Some((Value::Object(_), at)) => {
                    let items = View::resolve(store, &at);
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
        if let Some((Value::Array(members), at)) = view.get(keyword) {
            let alternatives: Vec<String> = (0..members.len())
                .map(|index| {
                    let member = NodeRef {
                        doc: at.doc,
                        pointer: pointer::push(&at.pointer, &index.to_string()),
                    };
                    let member = View::resolve(store, &member);
                    named(store, &member).unwrap_or_else(|| plain_type(store, &member, depth + 1))
                })
                .collect();
            return alternatives.join(" or ");
        }
    }
    if let Some((value, _)) = view.get("const") {
        return json_type(value).to_owned();
    }
    if let Some((Value::Array(values), _)) = view.get("enum") {
        let mut kinds: Vec<&str> = values.iter().map(json_type).collect();
        kinds.dedup();
        return kinds.join(" or ");
    }
    if view.get("properties").is_some() {
        return "object".to_owned();
    }
    "any".to_owned()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON value as inline code.
pub fn code(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    inline_code(&text)
}

/// Text as an inline code span, with enough backticks around it.
pub fn inline_code(text: &str) -> String {
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

/// The constraints of a schema, in words.
fn constraints(view: &View<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let number = |keyword: &str| view.get(keyword).map(|(v, _)| v.to_string());
    let bounds = [
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ];
    for (keyword, symbol) in bounds {
        if let Some((value, _)) = view.get(keyword) {
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
    if view
        .get("uniqueItems")
        .is_some_and(|(v, _)| v == &Value::Bool(true))
    {
        out.push("unique items".to_owned());
    }
    if let Some((Value::String(pattern), _)) = view.get("pattern") {
        out.push(format!("pattern {}", inline_code(pattern)));
    }
    if let Some((Value::Array(values), _)) = view.get("enum") {
        let values: Vec<String> = values.iter().map(code).collect();
        out.push(format!("one of {}", values.join(", ")));
    }
    if let Some((value, _)) = view.get("const") {
        out.push(format!("always {}", code(value)));
    }
    if let Some((value, _)) = view.get("default") {
        out.push(format!("default {}", code(value)));
    }
    if view
        .get("additionalProperties")
        .is_some_and(|(v, _)| v == &Value::Bool(false))
        && view.get("properties").is_some()
    {
        out.push("no other properties".to_owned());
    }
    if view
        .get("deprecated")
        .is_some_and(|(v, _)| v == &Value::Bool(true))
    {
        out.push("deprecated".to_owned());
    }
    out
}
