//! Random JSON Schemas over the vocabulary the compatibility engine compares and the code
//! generator maps, shared by the property tests.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

pub const NAMES: &[&str] = &["a", "b", "c"];

/// Random schemas over the vocabulary the engine compares.
pub fn schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!({})),
        Just(json!(true)),
        prop::sample::select(vec!["string", "integer", "number", "boolean", "null"])
            .prop_map(|t| json!({"type": t})),
        (0u64..4, 2u64..8)
            .prop_map(|(min, max)| json!({"type": "string", "minLength": min, "maxLength": max})),
        prop::sample::select(vec!["^a", "b$", "^[ab]+$"])
            .prop_map(|p| json!({"type": "string", "pattern": p})),
        (-3i64..3, 0i64..6).prop_map(
            |(min, span)| json!({"type": "integer", "minimum": min, "maximum": min + span})
        ),
        (-3i64..3).prop_map(|min| json!({"type": "number", "exclusiveMinimum": min})),
        prop::sample::select(vec![1.0, 2.0, 0.5, 3.0])
            .prop_map(|m| json!({"type": "number", "multipleOf": m})),
        prop::collection::vec(
            prop::sample::select(vec![json!("x"), json!("y"), json!(1), json!(null)]),
            1..4
        )
        .prop_map(|v| json!({"enum": v})),
        prop::sample::select(vec![json!("x"), json!(1)]).prop_map(|v| json!({"const": v})),
        prop::collection::btree_set(
            prop::sample::select(vec!["string", "integer", "null"]),
            1..3
        )
        .prop_map(|t| json!({"type": t})),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (
                prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), inner.clone(), 0..3),
                prop::collection::btree_set(prop::sample::select(NAMES.to_vec()), 0..3),
                prop_oneof![Just(None), Just(Some(json!(false))), Just(Some(json!(true))), inner.clone().prop_map(Some)],
            )
                .prop_map(|(props, required, additional)| {
                    let mut o = Map::new();
                    o.insert("type".into(), json!("object"));
                    o.insert("properties".into(), json!(props));
                    if !required.is_empty() {
                        o.insert("required".into(), json!(required));
                    }
                    if let Some(a) = additional {
                        o.insert("additionalProperties".into(), a);
                    }
                    Value::Object(o)
                }),
            (inner.clone(), 0u64..2, 1u64..4, any::<bool>()).prop_map(|(items, min, max, unique)| {
                json!({"type": "array", "items": items, "minItems": min, "maxItems": min + max, "uniqueItems": unique})
            }),
            (prop::collection::vec(inner.clone(), 1..3), prop_oneof![Just(json!(false)), Just(json!(true)), inner.clone()])
                .prop_map(|(prefix, rest)| json!({"type": "array", "prefixItems": prefix, "items": rest})),
            (prop::sample::select(vec!["anyOf", "oneOf", "allOf"]), prop::collection::vec(inner.clone(), 1..3))
                .prop_map(|(k, subs)| json!({ k: subs })),
            inner.clone().prop_map(|s| json!({"not": s})),
        ]
    })
}
