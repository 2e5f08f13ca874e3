//! Properties of the code generator over random schema projects: it never panics, what it
//! generates is valid Rust (it parses with syn), and generating twice gives the same bytes. Names
//! are drawn from keywords, punctuation, digits and unicode, so renaming is exercised too.
//! (That generated code compiles and round-trips is checked on the fixtures and the real-world
//! project; compiling per random case would take minutes each.)

mod schemas;

use eventsmith_core::MemoryFs;
use eventsmith_core::commands::generate::{Settings, project as generate};
use eventsmith_core::{LoadOptions, load};
use proptest::prelude::*;
use schemas::schema;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Property names that stress identifier rules.
const ODD_NAMES: &[&str] = &[
    "type",
    "self",
    "Self",
    "fn",
    "a-b",
    "A_B",
    "aB",
    "2fa",
    "",
    "ü",
    "x y",
    "~/",
    "additional_properties",
];

fn project(versions: &[Value]) -> MemoryFs {
    let mut fs = MemoryFs::new();
    fs.insert("/p/eventsmith.toml", b"[project]\nname = \"p\"\n".to_vec());
    fs.insert(
        "/p/schema/aggregates/thing.json",
        serde_json::to_vec(&json!({"type": "object", "description": "A thing."})).unwrap(),
    );
    for (index, schema) in versions.iter().enumerate() {
        fs.insert(
            format!("/p/schema/events/thing/happened.v{}.json", index + 1),
            serde_json::to_vec(schema).unwrap(),
        );
    }
    fs
}

fn event(properties: BTreeMap<String, Value>, required: Vec<String>, closed: bool) -> Value {
    let mut event = json!({
        "title": "Happened",
        "description": "Something happened.",
        "type": "object",
        "properties": properties,
        "required": required,
    });
    if closed {
        event["additionalProperties"] = json!(false);
    }
    event
}

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(schemas::NAMES.to_vec()).prop_map(str::to_owned),
        prop::sample::select(ODD_NAMES.to_vec()).prop_map(str::to_owned),
    ]
}

proptest! {
    #[test]
    fn generation_never_panics_and_gives_valid_deterministic_rust(
        properties in prop::collection::btree_map(names(), schema(), 0..5),
        required in prop::collection::vec(names(), 0..3),
        closed in any::<bool>(),
        renamed in any::<bool>(),
    ) {
        let v1 = event(properties.clone(), required.clone(), closed);
        // A second version: the same properties plus an optional one, and a rename rule when a
        // property can be renamed.
        let mut v2_properties = properties.clone();
        v2_properties.insert("added".to_owned(), json!({"type": "string"}));
        let mut rules = Vec::new();
        if renamed && let Some((name, schema)) = properties.iter().next() {
            v2_properties.remove(name);
            v2_properties.insert("renamed".to_owned(), schema.clone());
            rules.push(json!({"rename": {"from": name, "to": "renamed"}}));
        }
        let v2_required: Vec<String> = required
            .iter()
            .map(|r| if !rules.is_empty() && properties.keys().next() == Some(r) { "renamed".to_owned() } else { r.clone() })
            .collect();
        let mut v2 = event(v2_properties, v2_required, closed);
        if !rules.is_empty() {
            v2["x-eventsmith"] = json!({"upcast": {"rules": rules}});
        }
        let fs = project(&[v1, v2]);
        let mut options = LoadOptions::new(Path::new("/p"), None);
        options.check_examples = false;
        let loaded = load(&fs, &options);
        // Random schemas may break the project's rules; those are the loader's to report.
        prop_assume!(!loaded.has_errors());
        let project = loaded.project.as_ref().unwrap();
        match generate(project, &Settings::default()) {
            Ok(generated) => {
                let parsed = syn::parse_file(&generated.source);
                prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed.err(), generated.source);
                let again = generate(project, &Settings::default()).unwrap();
                prop_assert_eq!(again.source, generated.source);
            }
            // An upcaster that cannot be generated is reported at its file.
            Err(errors) => {
                for error in &errors {
                    prop_assert!(error.is_error() && error.file.is_some(), "{error:?}");
                }
            }
        }
    }
}
