//! The checker generated `Validate` implementations drive: it walks a value, tracks the path,
//! and collects violations of the keywords serde cannot express. `Pattern` compiles a `pattern`
//! once; `Numeric` is a number a range check reads.

use super::schema::Schema;
use crate::validate::Violation;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;

/// One step of the path to the value being checked.
#[derive(Debug, Clone)]
enum Segment {
    Property(&'static str),
    Key(String),
    Index(usize),
}

/// Walks a value, tracking the path, and collects violations. The path is kept as segments and
/// written as a JSON pointer only when something is wrong, so checking a valid value costs no
/// string building.
#[derive(Debug, Default)]
pub struct Checker {
    path: Vec<Segment>,
    violations: Vec<Violation>,
}

impl Checker {
    /// Runs `check` one declared property deeper.
    pub fn at(&mut self, property: &'static str, check: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Property(property));
        check(self);
        self.path.pop();
    }

    /// Runs `check` one map entry deeper.
    pub fn at_key(&mut self, key: &str, check: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Key(key.to_owned()));
        check(self);
        self.path.pop();
    }

    /// Runs `check` one array item deeper.
    pub fn at_index(&mut self, index: usize, check: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Index(index));
        check(self);
        self.path.pop();
    }

    /// How many violations were recorded so far.
    pub fn violation_count(&self) -> usize {
        self.violations.len()
    }

    /// Checks `value` against `schema` (the subschema of a value whose type leaves one of its
    /// keywords unenforced), unless more than `before` violations were recorded by then: the
    /// type's own checks found something wrong here, which the schema would mostly repeat. The
    /// value is encoded as JSON again: the typed value, which re-encodes the payload's JSON
    /// (serde's looser shapes, a struct read from an array, come back in the schema's shape).
    pub fn schema<T: serde::Serialize + ?Sized>(
        &mut self,
        before: usize,
        value: &T,
        schema: &Schema,
    ) {
        if self.violations.len() > before {
            return;
        }
        let json = match serde_json::to_value(value) {
            Ok(json) => json,
            Err(error) => {
                self.fail(format!("cannot be checked against its schema: {error}"));
                return;
            }
        };
        for violation in schema.violations(&json) {
            self.fail_below(&violation.pointer, violation.message);
        }
    }

    /// Records a violation at the current path.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.fail_below("", message);
    }

    /// Records a violation at `below` (a JSON pointer) under the current path.
    fn fail_below(&mut self, below: &str, message: impl Into<String>) {
        let mut pointer = String::new();
        for segment in &self.path {
            pointer.push('/');
            match segment {
                Segment::Property(name) => escape_into(&mut pointer, name),
                Segment::Key(key) => escape_into(&mut pointer, key),
                Segment::Index(index) => pointer.push_str(&index.to_string()),
            }
        }
        pointer.push_str(below);
        self.violations.push(Violation {
            pointer,
            message: message.into(),
        });
    }

    /// `minLength`, counted in characters as JSON Schema counts them.
    pub fn min_length(&mut self, value: &str, min: u64) {
        if (value.chars().count() as u64) < min {
            self.fail(format!("shorter than {min} characters"));
        }
    }

    /// `maxLength`, counted in characters.
    pub fn max_length(&mut self, value: &str, max: u64) {
        if value.chars().count() as u64 > max {
            self.fail(format!("longer than {max} characters"));
        }
    }

    /// `pattern`: the regular expression must match somewhere in the value.
    pub fn pattern(&mut self, value: &str, pattern: &Pattern) {
        match pattern.regex() {
            Some(regex) if regex.is_match(value) => {}
            Some(_) => self.fail(format!("does not match the pattern `{}`", pattern.source)),
            None => self.fail(format!("the pattern `{}` does not compile", pattern.source)),
        }
    }

    /// `patternProperties` when no other key is allowed: every key must match one of `patterns`
    /// (a pattern that does not compile allows every key: refusing could be wrong).
    pub fn keys_match<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k String>,
        patterns: &[Pattern],
    ) {
        for key in keys {
            let allowed = patterns
                .iter()
                .any(|pattern| pattern.regex().is_none_or(|regex| regex.is_match(key)));
            if !allowed {
                let sources: Vec<String> = patterns
                    .iter()
                    .map(|pattern| format!("`{}`", pattern.source))
                    .collect();
                self.at_key(key, |checker| {
                    checker.fail(format!(
                        "the key matches none of the allowed patterns {}",
                        sources.join(", ")
                    ))
                });
            }
        }
    }

    /// `propertyNames`: runs `check` on every key, at the key's path, and says in each of its
    /// messages that the property name is at fault (the value sits at the same path).
    pub fn property_names<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k String>,
        check: impl Fn(&mut Self, &String),
    ) {
        for key in keys {
            let found = self.violations.len();
            self.at_key(key, |checker| check(checker, key));
            for violation in &mut self.violations[found..] {
                violation.message = format!("property name {}", violation.message);
            }
        }
    }

    /// `minimum` or `exclusiveMinimum`.
    pub fn minimum(&mut self, value: impl Numeric, min: f64, exclusive: bool) {
        let value = value.to_f64();
        if value < min || (exclusive && value == min) {
            let word = if exclusive {
                "greater than"
            } else {
                "at least"
            };
            self.fail(format!("must be {word} {min}"));
        }
    }

    /// `maximum` or `exclusiveMaximum`.
    pub fn maximum(&mut self, value: impl Numeric, max: f64, exclusive: bool) {
        let value = value.to_f64();
        if value > max || (exclusive && value == max) {
            let word = if exclusive { "less than" } else { "at most" };
            self.fail(format!("must be {word} {max}"));
        }
    }

    /// `multipleOf`.
    pub fn multiple_of(&mut self, value: impl Numeric, factor: f64) {
        let quotient = value.to_f64() / factor;
        if !quotient.is_finite() || (quotient - quotient.round()).abs() > 1e-9 {
            self.fail(format!("must be a multiple of {factor}"));
        }
    }

    /// `minItems`.
    pub fn min_items(&mut self, len: usize, min: u64) {
        if (len as u64) < min {
            self.fail(format!("fewer than {min} items"));
        }
    }

    /// `maxItems`.
    pub fn max_items(&mut self, len: usize, max: u64) {
        if len as u64 > max {
            self.fail(format!("more than {max} items"));
        }
    }

    /// `minProperties`.
    pub fn min_properties(&mut self, len: usize, min: u64) {
        if (len as u64) < min {
            self.fail(format!("fewer than {min} properties"));
        }
    }

    /// `maxProperties`.
    pub fn max_properties(&mut self, len: usize, max: u64) {
        if len as u64 > max {
            self.fail(format!("more than {max} properties"));
        }
    }

    /// `uniqueItems`: pairwise for a few items, else through a hash of each item's JSON (equal
    /// as JSON Schema compares, so equal hashes), so a long array costs linear time, not
    /// quadratic.
    pub fn unique_items<T: PartialEq + serde::Serialize>(&mut self, items: &[T]) {
        let duplicate = if items.len() <= 16 {
            items
                .iter()
                .enumerate()
                .any(|(i, item)| items[..i].contains(item))
        } else {
            // Keyed at random, so colliding payloads cannot be prepared.
            let keys = std::collections::hash_map::RandomState::new();
            let mut seen: std::collections::HashMap<u64, Vec<usize>> =
                std::collections::HashMap::with_capacity(items.len());
            items.iter().enumerate().any(|(i, item)| {
                let hash = {
                    let mut hasher = keys.build_hasher();
                    match serde_json::to_value(item) {
                        Ok(value) => hash_json(&value, &keys, &mut hasher),
                        Err(_) => 0u8.hash(&mut hasher),
                    }
                    hasher.finish()
                };
                let same = seen.entry(hash).or_default();
                let duplicate = same.iter().any(|&j| items[j] == *item);
                same.push(i);
                duplicate
            })
        };
        if duplicate {
            self.fail("items are not unique");
        }
    }

    /// `const` or `enum` for values without a Rust enum of their own: compared as JSON Schema
    /// compares (`-2` equals `-2.0`).
    pub fn one_of_values<T: serde::Serialize>(&mut self, value: &T, allowed: &[&str]) {
        let Ok(actual) = serde_json::to_value(value) else {
            return self.fail("cannot be compared with its allowed values");
        };
        let allowed_value = |text: &&str| serde_json::from_str::<serde_json::Value>(text).ok();
        if !allowed
            .iter()
            .filter_map(allowed_value)
            .any(|v| json_equal(&v, &actual))
        {
            match allowed {
                [one] => self.fail(format!("must be {one}")),
                _ => self.fail(format!("must be one of {}", allowed.join(", "))),
            }
        }
    }

    /// The violations found so far.
    pub fn into_violations(self) -> Vec<Violation> {
        self.violations
    }
}

/// Equality as JSON Schema defines it for `const`, `enum` and `uniqueItems`: numbers by value
/// (`1` equals `1.0`), arrays item by item, objects key by key in any order.
pub fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

/// Hashes `value` so that values [`json_equal`] calls equal hash alike: numbers by value, object
/// members in any order.
fn hash_json(value: &serde_json::Value, keys: &impl BuildHasher, hasher: &mut impl Hasher) {
    use serde_json::Value;
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => {
            2u8.hash(hasher);
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i128::from(i).hash(hasher),
                (_, Some(u), _) => i128::from(u).hash(hasher),
                // A float with an integer value hashes as that integer, as `1.0` equals `1`.
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1.7e38 => (f as i128).hash(hasher),
                (_, _, f) => f.unwrap_or_default().to_bits().hash(hasher),
            }
        }
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            for item in items {
                hash_json(item, keys, hasher);
            }
        }
        Value::Object(members) => {
            (5u8, members.len()).hash(hasher);
            // Order-independent: the members' hashes summed.
            let sum = members.iter().fold(0u64, |sum, (key, value)| {
                let mut member = keys.build_hasher();
                key.hash(&mut member);
                hash_json(value, keys, &mut member);
                sum.wrapping_add(member.finish())
            });
            sum.hash(hasher);
        }
    }
}

fn escape_into(pointer: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// A number a range check can read.
pub trait Numeric: Copy {
    /// The value as `f64` (bounds are compared in `f64`, as JSON numbers are).
    fn to_f64(self) -> f64;
}

macro_rules! numeric {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
numeric!(i8, i16, i32, i64, u8, u16, u32, u64, f64);

impl Numeric for &serde_json::Number {
    fn to_f64(self) -> f64 {
        self.as_f64().unwrap_or(f64::NAN)
    }
}

/// A `pattern`, compiled once on first use. The generator checks that it compiles.
#[derive(Debug)]
pub struct Pattern {
    source: &'static str,
    rust: &'static str,
    regex: OnceLock<Option<regex::Regex>>,
}

impl Pattern {
    /// A pattern whose source text is also its Rust form.
    pub const fn new(source: &'static str) -> Self {
        Self::translated(source, source)
    }

    /// A pattern as the schema writes it (ECMA-262) and its Rust form (`\d` as `[0-9]`, ...).
    pub const fn translated(source: &'static str, rust: &'static str) -> Self {
        Self {
            source,
            rust,
            regex: OnceLock::new(),
        }
    }

    /// The compiled expression, or `None` when it does not compile.
    pub fn regex(&self) -> Option<&regex::Regex> {
        self.regex
            .get_or_init(|| regex::Regex::new(self.rust).ok())
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subschema_reports_below_the_path_unless_the_type_already_failed_there() {
        static NOT_EMPTY: Schema =
            Schema::new(r#"{"type": "array", "items": {"not": {"const": ""}}}"#);
        let mut checker = Checker::default();
        checker.at("tags", |checker| {
            let before = checker.violation_count();
            checker.schema(before, &["a", ""], &NOT_EMPTY);
        });
        let violations = checker.into_violations();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].pointer, "/tags/1");
        // The type's own check failed here: the subschema is not asked to say it again.
        let mut checker = Checker::default();
        checker.at("tags", |checker| {
            let before = checker.violation_count();
            checker.max_items(2, 1);
            checker.schema(before, &["a", ""], &NOT_EMPTY);
        });
        assert_eq!(messages(checker).len(), 1);
    }

    /// The violations as `pointer: message` lines.
    fn messages(checker: Checker) -> Vec<String> {
        checker
            .into_violations()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_translated_pattern_matches_by_its_rust_form_and_reports_its_source() {
        static DIGITS: Pattern = Pattern::translated(r"^\d+$", "^[0-9]+$");
        let mut checker = Checker::default();
        checker.pattern("123", &DIGITS);
        checker.pattern("١٢٣", &DIGITS);
        let found = messages(checker);
        assert_eq!(found, [r"/: does not match the pattern `^\d+$`"]);
    }

    #[test]
    fn long_arrays_are_checked_for_unique_items_by_hash() {
        let mut items: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
        let mut checker = Checker::default();
        checker.unique_items(&items);
        assert!(checker.into_violations().is_empty());
        items.push("s77".to_owned());
        let mut checker = Checker::default();
        checker.unique_items(&items);
        assert_eq!(checker.into_violations().len(), 1);
        // JSON values equal as JSON Schema compares them: members in another order.
        let mut values: Vec<serde_json::Value> = (0..20)
            .map(|i| serde_json::json!({"a": i, "b": [i]}))
            .collect();
        values.push(serde_json::json!({"b": [3], "a": 3}));
        let mut checker = Checker::default();
        checker.unique_items(&values);
        assert_eq!(checker.into_violations().len(), 1);
    }

    #[test]
    fn keys_must_match_one_of_the_patterns() {
        static PATTERNS: [Pattern; 2] = [
            Pattern::new("^x-"),
            Pattern::translated(r"^\d+$", "^[0-9]+$"),
        ];
        let keys: Vec<String> = ["x-owner", "42", "name", "a/b", "٤٢"]
            .map(str::to_owned)
            .to_vec();
        let mut checker = Checker::default();
        checker.at("labels", |checker| checker.keys_match(&keys, &PATTERNS));
        let found = messages(checker);
        assert_eq!(
            found,
            [
                "/labels/name: the key matches none of the allowed patterns `^x-`, `^\\d+$`",
                "/labels/a~1b: the key matches none of the allowed patterns `^x-`, `^\\d+$`",
                "/labels/٤٢: the key matches none of the allowed patterns `^x-`, `^\\d+$`",
            ]
        );
    }

    #[test]
    fn property_names_are_checked_and_named_as_such() {
        static LOWER: Pattern = Pattern::new("^[a-z]+$");
        let keys: Vec<String> = ["ok", "Bad", "toolong"].map(str::to_owned).to_vec();
        let mut checker = Checker::default();
        checker.at("tags", |checker| {
            checker.property_names(&keys, |checker, key| {
                checker.max_length(key, 3);
                checker.pattern(key, &LOWER);
            })
        });
        assert_eq!(
            messages(checker),
            [
                "/tags/Bad: property name does not match the pattern `^[a-z]+$`",
                "/tags/toolong: property name longer than 3 characters",
            ]
        );
    }

    #[test]
    fn violations_carry_escaped_pointers() {
        let mut checker = Checker::default();
        checker.at("a/b", |c| c.at_index(2, |c| c.min_length("x", 2)));
        checker.at_key("k~", |c| c.fail("bad key"));
        checker.at("ok", |c| c.maximum(3u32, 3.0, false));
        checker.at("n", |c| c.maximum(3u32, 3.0, true));
        static DIGITS: Pattern = Pattern::new("^[0-9]+$");
        checker.pattern("12a", &DIGITS);
        checker.multiple_of(0.3, 0.1);
        checker.multiple_of(7u32, 2.0);
        checker.unique_items(&[1, 2, 1]);
        checker.one_of_values(&3, &["4"]);
        checker.one_of_values(&3, &["1", "3"]);
        let found = messages(checker);
        assert_eq!(
            found,
            [
                "/a~1b/2: shorter than 2 characters",
                "/k~0: bad key",
                "/n: must be less than 3",
                "/: does not match the pattern `^[0-9]+$`",
                "/: must be a multiple of 2",
                "/: items are not unique",
                "/: must be 4",
            ]
        );
    }

    #[test]
    fn json_schema_equality_compares_numbers_by_value() {
        use serde_json::json;
        assert!(json_equal(&json!(-2), &json!(-2.0)));
        assert!(json_equal(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(json_equal(
            &json!({"a": 1, "b": 2}),
            &json!({"b": 2, "a": 1})
        ));
        assert!(!json_equal(&json!(1), &json!(true)));
        assert!(!json_equal(&json!([1]), &json!([1, 1])));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": null})));
        let mut checker = Checker::default();
        checker.one_of_values(&json!(-2.0), &["-2", "3"]);
        assert!(checker.into_violations().is_empty());
    }
}
