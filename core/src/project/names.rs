//! Rust names for schema names: fields, types and enum variants. A name that is not a valid
//! Rust identifier, or is a keyword, is changed so that it is; the caller then adds a serde
//! rename, so the JSON stays exactly as the schema says.

use heck::{ToSnakeCase, ToUpperCamelCase};
use std::collections::HashSet;

/// Rust's strict and reserved keywords (2024 edition), which cannot name a field or a type.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Whether `name` is a Rust keyword.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Keeps ASCII letters, digits and `_`; other characters become word breaks, so `e-mail`,
/// `e mail` and `e.mail` all read as two words.
fn words(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                ' '
            }
        })
        .collect()
}

/// A field name: snake_case, a leading digit prefixed with `_`, a keyword suffixed with `_`
/// (`type` → `type_`), and `field` when nothing usable is left.
pub fn field_name(json_name: &str) -> String {
    let mut name = words(json_name).to_snake_case();
    if name.is_empty() {
        name = "field".to_owned();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if is_keyword(&name) {
        name.push('_');
    }
    name
}

/// The names generated code gives an aggregate's own items in its module, in this order: the
/// event enum, the command enum, the rules trait and the aggregate type (`OrderEvent`,
/// `OrderCommand`, `OrderRules`, `OrderAggregate`). They are claimed first: an event whose title
/// would take one of them gives way.
pub fn aggregate_items(aggregate: &str) -> [String; 4] {
    let base = suffix_base(aggregate, "Aggregate");
    ["Event", "Command", "Rules", "Aggregate"].map(|suffix| format!("{base}{suffix}"))
}

/// The start of a name that a suffix completes (`Order` of `OrderEvent`): a type name without
/// the `_` a keyword gets, since `SelfEvent` is no keyword.
pub fn suffix_base(text: &str, fallback: &str) -> String {
    let mut base = type_name(text, fallback);
    base.truncate(base.trim_end_matches('_').len());
    base
}

/// A type or variant name: UpperCamelCase, a leading digit prefixed with `V`, `Self` suffixed
/// with `_`, and `fallback` when nothing usable is left.
pub fn type_name(text: &str, fallback: &str) -> String {
    let mut name = words(text).to_upper_camel_case();
    if name.is_empty() {
        name = fallback.to_owned();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'V');
    }
    if is_keyword(&name) {
        name.push('_');
    }
    name
}

/// Hands out names that are unique within one scope (a struct's fields, an enum's variants, a
/// module's types) by suffixing `2`, `3`, … to a name already taken.
#[derive(Debug, Default)]
pub struct Scope {
    taken: HashSet<String>,
}

impl Scope {
    /// An empty scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// `name`, or `name2`, `name3`, … if taken.
    pub fn claim(&mut self, name: String) -> String {
        if self.taken.insert(name.clone()) {
            return name;
        }
        // `Self_` becomes `Self2`, not `Self_2`, which is not UpperCamelCase.
        let base = match name.trim_end_matches('_') {
            "" => name.as_str(),
            trimmed => trimmed,
        };
        let unique = (2..)
            .map(|n| format!("{base}{n}"))
            .find(|candidate| !self.taken.contains(candidate))
            .unwrap_or_default();
        self.taken.insert(unique.clone());
        unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_snake_case_identifiers() {
        assert_eq!(field_name("customerId"), "customer_id");
        assert_eq!(field_name("total-amount"), "total_amount");
        assert_eq!(field_name("type"), "type_");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(field_name("match"), "match_");
        assert_eq!(field_name("3d"), "_3d");
        assert_eq!(field_name("$ref"), "ref_");
        assert_eq!(field_name("@@@"), "field");
        assert_eq!(field_name("é"), "field");
    }

    #[test]
    fn types_and_variants_are_upper_camel_case() {
        assert_eq!(type_name("order placed", "X"), "OrderPlaced");
        assert_eq!(type_name("in_progress", "X"), "InProgress");
        assert_eq!(type_name("Self", "X"), "Self_");
        assert_eq!(type_name("2fa", "X"), "V2fa");
        assert_eq!(type_name("", "Empty"), "Empty");
    }

    #[test]
    fn scopes_keep_names_unique() {
        let mut scope = Scope::new();
        assert_eq!(scope.claim(field_name("item-added")), "item_added");
        assert_eq!(scope.claim(field_name("item_added")), "item_added2");
        assert_eq!(scope.claim(field_name("itemAdded")), "item_added3");
        // A suffixed keyword stays UpperCamelCase when it needs a number.
        assert_eq!(scope.claim(type_name("Self", "X")), "Self_");
        assert_eq!(scope.claim(type_name("self", "X")), "Self2");
    }
}
