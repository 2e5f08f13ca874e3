//! JSON Schema itself, independent of eventsmith's project layout: drafts, their keywords and
//! meta-schemas,
//! the keyword walk, the `$ref` store that resolves references across files, the shared view of
//! a schema that compatibility, code generation and the catalog read, bundling, and patterns.

pub mod bundle;
pub mod draft;
pub mod keywords;
pub mod metaschema;
pub mod pattern;
pub mod store;
pub mod view;
pub mod walk;

/// The keyword that carries eventsmith's annotations.
pub const KEYWORD: &str = "x-eventsmith";

/// A value's JSON Schema type name: `integer` for a number without a fraction part, `1.0`
/// included, as draft-06 and later count it.
pub fn json_type(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n)
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) =>
        {
            "integer"
        }
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
