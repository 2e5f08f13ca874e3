//! Properties of the compatibility engine over random schemas:
//! - a schema compared with itself has no changes and passes every level;
//! - `backward(a, b) == forward(b, a)`;
//! - soundness: when the verdict says backward compatible, every instance valid under the old
//!   schema (generated from it, then checked with `jsonschema`) validates under the new one.
//!   Cases with Confluent's documented exceptions (defaults, `oneOf` alternatives) are skipped.

use eventsmith_core::Level;
use eventsmith_core::MemoryFs;
use eventsmith_core::{Change, Verdict, diff_files_in};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::path::Path;

fn changes(old: &Value, new: &Value) -> Vec<Change> {
    let mut fs = MemoryFs::new();
    fs.insert("/old/s.json", serde_json::to_vec(old).unwrap());
    fs.insert("/new/s.json", serde_json::to_vec(new).unwrap());
    diff_files_in(
        &fs,
        Path::new("/old/s.json"),
        Path::new("/new/s.json"),
        eventsmith_core::Draft::Draft202012,
    )
    .unwrap_or_else(|errors| panic!("{errors:?}"))
}

mod schemas;

use schemas::{NAMES, schema};

/// Small random-number generator for instances (deterministic per seed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An instance aimed at `schema` (best effort: callers keep only the ones that validate).
fn instance(schema: &Value, rng: &mut Rng, depth: u32) -> Value {
    if depth > 4 {
        return json!(null);
    }
    let object = match schema {
        Value::Object(o) => o,
        _ => return random_value(rng, depth),
    };
    if let Some(c) = object.get("const") {
        return c.clone();
    }
    if let Some(Value::Array(values)) = object.get("enum") {
        if !values.is_empty() && rng.pick(4) > 0 {
            return values[rng.pick(values.len())].clone();
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(subs)) = object.get(key) {
            if !subs.is_empty() {
                return instance(&subs[rng.pick(subs.len())], rng, depth + 1);
            }
        }
    }
    let types: Vec<&str> = match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![
            "string", "integer", "number", "object", "array", "null", "boolean",
        ],
    };
    match types[rng.pick(types.len().max(1))] {
        "string" => {
            let min = object.get("minLength").and_then(Value::as_u64).unwrap_or(0);
            let max = object
                .get("maxLength")
                .and_then(Value::as_u64)
                .unwrap_or(min + 4);
            let len = min + rng.next() % (max.saturating_sub(min) + 1);
            let alphabet = ['a', 'b', 'x'];
            json!((0..len).map(|_| alphabet[rng.pick(3)]).collect::<String>())
        }
        "integer" | "number" => {
            let low = object
                .get("minimum")
                .or(object.get("exclusiveMinimum"))
                .and_then(Value::as_f64)
                .unwrap_or(-4.0);
            let span = object
                .get("maximum")
                .and_then(Value::as_f64)
                .map_or(8.0, |high| (high - low).max(0.0));
            let base = low + (rng.next() % (span as u64 + 1)) as f64;
            if rng.pick(3) == 0 {
                json!(base + 0.5)
            } else {
                json!(base as i64)
            }
        }
        "boolean" => json!(rng.pick(2) == 0),
        "null" => json!(null),
        "object" => {
            let mut out = Map::new();
            let props = object.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = object
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in NAMES.iter().chain(["z"].iter()) {
                let wanted = required.contains(name) || rng.pick(2) == 0;
                if !wanted {
                    continue;
                }
                let sub = props
                    .and_then(|p| p.get(*name))
                    .or(object.get("additionalProperties"))
                    .cloned()
                    .unwrap_or(json!({}));
                out.insert((*name).to_owned(), instance(&sub, rng, depth + 1));
            }
            Value::Object(out)
        }
        "array" => {
            let prefix = object
                .get("prefixItems")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let rest = object.get("items").cloned().unwrap_or(json!({}));
            let len = rng.pick(4);
            json!(
                (0..len)
                    .map(|i| instance(prefix.get(i).unwrap_or(&rest), rng, depth + 1))
                    .collect::<Vec<_>>()
            )
        }
        _ => random_value(rng, depth),
    }
}

/// `schema` with one random edit somewhere: a keyword dropped, a bound moved, a name required or
/// no longer required, a type or enum value added, a content model opened or closed.
fn mutate(schema: &Value, rng: &mut Rng) -> Value {
    let mut out = schema.clone();
    let mut nodes = Vec::new();
    collect_objects(&out, String::new(), &mut nodes);
    if nodes.is_empty() {
        return json!({});
    }
    let at = nodes[rng.pick(nodes.len())].clone();
    let Some(Value::Object(object)) = out.pointer_mut(&at) else {
        return out;
    };
    let keys: Vec<String> = object.keys().cloned().collect();
    match rng.pick(6) {
        0 if !keys.is_empty() => {
            object.remove(&keys[rng.pick(keys.len())]);
        }
        1 => {
            for key in [
                "minimum",
                "maximum",
                "minLength",
                "maxLength",
                "minItems",
                "maxItems",
                "exclusiveMinimum",
            ] {
                if let Some(v) = object.get(key).and_then(Value::as_i64) {
                    let delta = if rng.pick(2) == 0 { 1 } else { -1 };
                    object.insert(key.into(), json!((v + delta).max(0)));
                    break;
                }
            }
        }
        2 => {
            let name = NAMES[rng.pick(NAMES.len())];
            let list = object.entry("required").or_insert(json!([]));
            if let Some(list) = list.as_array_mut() {
                if let Some(i) = list.iter().position(|v| v == name) {
                    list.remove(i);
                } else {
                    list.push(json!(name));
                }
            }
        }
        3 => {
            if let Some(Value::String(t)) = object.get("type").cloned() {
                let extra = ["null", "string", "number"][rng.pick(3)];
                if extra != t {
                    object.insert("type".into(), json!([t, extra]));
                }
            }
        }
        4 => {
            if let Some(Value::Array(values)) = object.get_mut("enum") {
                values.push(json!("added"));
            }
        }
        _ => {
            let flip = match object.get("additionalProperties") {
                Some(Value::Bool(false)) => json!(true),
                _ => json!(false),
            };
            if object.get("type") == Some(&json!("object")) {
                object.insert("additionalProperties".into(), flip);
            }
        }
    }
    out
}

/// Pointers of every subschema object (not of `properties` maps or `enum` values).
fn collect_objects(value: &Value, at: String, out: &mut Vec<String>) {
    let Value::Object(o) = value else { return };
    out.push(at.clone());
    for (k, v) in o {
        let here = format!("{at}/{k}");
        match (k.as_str(), v) {
            ("properties", Value::Object(map)) => {
                for (name, sub) in map {
                    collect_objects(sub, format!("{here}/{name}"), out);
                }
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(list)) => {
                for (i, sub) in list.iter().enumerate() {
                    collect_objects(sub, format!("{here}/{i}"), out);
                }
            }
            ("items" | "not" | "additionalProperties", sub) => collect_objects(sub, here, out),
            _ => {}
        }
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.pick(if depth > 3 { 5 } else { 7 }) {
        0 => json!(null),
        1 => json!(rng.pick(2) == 0),
        2 => json!(rng.pick(7) as i64 - 3),
        3 => json!(["a", "ab", "x", "", "bb"][rng.pick(5)]),
        4 => json!(1.5),
        5 => json!({"a": random_value(rng, depth + 1)}),
        _ => json!([random_value(rng, depth + 1)]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_schema_has_no_changes_against_itself(a in schema()) {
        let found = changes(&a, &a);
        prop_assert!(found.is_empty(), "{found:?}");
        for level in [Level::Backward, Level::Forward, Level::Full, Level::FullTransitive] {
            prop_assert!(Verdict::of(&found).passes(level));
        }
    }

    #[test]
    fn backward_one_way_is_forward_the_other(a in schema(), b in schema()) {
        let ab = Verdict::of(&changes(&a, &b));
        let ba = Verdict::of(&changes(&b, &a));
        prop_assert_eq!(ab.backward, ba.forward, "a={} b={}", a, b);
        prop_assert_eq!(ab.forward, ba.backward, "a={} b={}", a, b);
    }

    #[test]
    fn backward_compatible_means_old_instances_stay_valid(a in schema(), other in schema(), seed in 1u64..u64::MAX) {
        let mut rng = Rng(seed);
        // Half the time a random schema, half the time a small edit of `a` (often compatible).
        let b = if rng.pick(2) == 0 { other } else { mutate(&a, &mut rng) };
        let found = changes(&a, &b);
        let verdict = Verdict::of(&found);
        if !verdict.backward || found.iter().any(|c| c.confluent_exception) {
            return Ok(());
        }
        let old = jsonschema::validator_for(&a).unwrap();
        let new = jsonschema::validator_for(&b).unwrap();
        for _ in 0..40 {
            let candidate = instance(&a, &mut rng, 0);
            if old.is_valid(&candidate) {
                prop_assert!(new.is_valid(&candidate), "backward-compatible verdict, but {} is valid under\n old {}\n and not under\n new {}\n changes: {:?}", candidate, a, b, found);
            }
        }
    }
}
