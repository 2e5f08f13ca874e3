//! Bad input never panics and never overflows the stack: deep nesting, empty files, invalid UTF-8
//! and arbitrary JSON all end in a clean load with or without findings.
//!
//! `PROPTEST_CASES` sets the number of generated cases (the documented long run uses 100000:
//! `PROPTEST_CASES=100000 cargo test --release -p eventsmith-core --test robustness`).

use eventsmith_core::MemoryFs;
use eventsmith_core::{LoadOptions, Loaded, load};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::PathBuf;

const ROOT: &str = "/project";

fn project_with(files: &[(&str, Vec<u8>)]) -> Loaded {
    let mut fs = MemoryFs::new();
    fs.insert(
        format!("{ROOT}/eventsmith.toml"),
        "[project]\nname = \"p\"\n",
    );
    fs.insert(
        format!("{ROOT}/schema/aggregates/order.json"),
        r#"{"type": "object", "description": "An order."}"#,
    );
    for (path, bytes) in files {
        fs.insert(format!("{ROOT}/schema/{path}"), bytes.clone());
    }
    load(&fs, &LoadOptions::new(ROOT, Some(PathBuf::from(ROOT))))
}

fn codes(loaded: &Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn a_thousand_levels_deep_schema_loads() {
    let mut schema = json!({"type": "string"});
    for _ in 0..1000 {
        schema = json!({"type": "object", "properties": {"next": schema}});
    }
    schema["examples"] = json!([{}]);
    let text = serde_json::to_vec(&schema).unwrap();
    let loaded = project_with(&[("events/order/deep.v1.json", text)]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.project.unwrap().events.len(), 1);
}

#[test]
fn nesting_beyond_the_limit_is_a_finding() {
    let text = "[".repeat(100_000).into_bytes();
    let loaded = project_with(&[("events/order/deep.v1.json", text)]);
    assert_eq!(codes(&loaded), vec!["json-too-deep"]);
}

#[test]
fn empty_and_non_utf8_files_are_findings() {
    let loaded = project_with(&[
        ("events/order/empty.v1.json", Vec::new()),
        ("events/order/binary.v1.json", vec![b'{', 0xff, 0xfe, b'}']),
    ]);
    let mut found = codes(&loaded);
    found.sort();
    assert_eq!(found, vec!["encoding", "json-syntax"]);
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.file.is_some() && d.span.is_some())
    );
}

#[test]
fn ref_cycles_are_allowed() {
    let schema = json!({
        "type": "object",
        "properties": {"tree": {"$ref": "../../types/tree.json"}},
        "examples": [{"tree": {"children": [{"children": []}]}}]
    });
    let tree = json!({
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}
    });
    let loaded = project_with(&[
        (
            "events/order/grown.v1.json",
            serde_json::to_vec(&schema).unwrap(),
        ),
        ("types/tree.json", serde_json::to_vec(&tree).unwrap()),
    ]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            "[a-z$#/~.]{0,12}",
            Just("#/$defs/x".to_owned()),
            Just("../../types/t.json#/$defs/a".to_owned()),
            Just("http://json-schema.org/draft-07/schema#".to_owned()),
            Just("order.placed".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    let keys = prop_oneof![
        Just("type".to_owned()),
        Just("properties".to_owned()),
        Just("$ref".to_owned()),
        Just("$defs".to_owned()),
        Just("$id".to_owned()),
        Just("$anchor".to_owned()),
        Just("$schema".to_owned()),
        Just("items".to_owned()),
        Just("examples".to_owned()),
        Just("required".to_owned()),
        Just("allOf".to_owned()),
        Just("x-eventsmith".to_owned()),
        Just("emits".to_owned()),
        Just("upcast".to_owned()),
        "[a-z]{1,6}",
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(event in arbitrary_json(), shared in arbitrary_json(), command in arbitrary_json()) {
        let loaded = project_with(&[
            ("events/order/placed.v1.json", serde_json::to_vec(&event).unwrap()),
            ("types/t.json", serde_json::to_vec(&shared).unwrap()),
            ("commands/order/place.json", serde_json::to_vec(&command).unwrap()),
        ]);
        prop_assert!(loaded.project.is_some());
        for diagnostic in &loaded.diagnostics {
            prop_assert!(diagnostic.file.is_some(), "{diagnostic:?}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let loaded = project_with(&[("events/order/placed.v1.json", bytes)]);
        prop_assert!(loaded.project.is_some());
    }
}
