//! The generator over tests/codegen/fixtures (one small schema project per mapping rule): an
//! insta snapshot of each fixture's generated code, with no warnings. (The runtime's
//! tests/generated_code.rs compiles each under `#![deny(warnings)]`; tests/codegen/crate runs
//! their generated tests under clippy.)

use eventsmith_core::commands::generate::{Settings, code};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/codegen/fixtures");
    let mut fixtures: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("eventsmith.toml").is_file())
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    fixtures.sort();
    fixtures
}

#[test]
fn fixtures_generate_their_snapshots_without_warnings() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 40, "only {} fixtures", fixtures.len());
    for (name, dir) in &fixtures {
        let generated = code(dir, &Settings::default())
            .map_err(|failed| failed.text)
            .unwrap_or_else(|text| panic!("{name}: {text}"));
        // `name-clashes` is there to give way: every warning it gives is `name-gives-way`.
        let codes: Vec<&str> = generated.warnings.iter().map(|w| w.code).collect();
        if name == "name-clashes" {
            assert_eq!(codes, ["name-gives-way"; 5], "{name}");
            // The names the warnings give are the names generated.
            for (said, generated_as) in [
                ("it is `Conversions2` there", "pub struct Conversions2 {"),
                (
                    "it is `ShippedFromV12` there",
                    "pub struct ShippedFromV12 {",
                ),
                ("re-exports it as `PushEvent2`", "PushEvent as PushEvent2"),
                (
                    "variant for `member.registered` is `MemberRegistered2`",
                    "MemberRegistered2(",
                ),
            ] {
                assert!(
                    generated.warnings.iter().any(|w| w.message.contains(said)),
                    "{said}"
                );
                assert!(generated.source.contains(generated_as), "{generated_as}");
            }
        } else {
            assert!(codes.is_empty(), "{name}: {:?}", generated.warnings);
        }
        insta::assert_snapshot!(name.as_str(), generated.source);
    }
}

#[test]
fn a_default_for_a_field_the_previous_version_may_lack_is_not_generated() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("eventsmith.toml", "[project]\nname = \"p\"\n");
    write(
        "schema/aggregates/order.json",
        r#"{"description": "An order.", "type": "object"}"#,
    );
    write(
        "schema/events/order/placed.v1.json",
        r#"{"description": "v1", "type": "object", "properties": {"currency": {"type": "string"}}, "additionalProperties": false}"#,
    );
    write(
        "schema/events/order/placed.v2.json",
        r#"{"description": "v2", "type": "object", "properties": {"currency": {"type": "string"}},
            "required": ["currency"], "additionalProperties": false,
            "x-eventsmith": {"upcast": {"rules": [{"default": {"field": "currency", "value": "EUR"}}]}}}"#,
    );
    let failed = code(dir.path(), &Settings::default()).unwrap_err();
    assert!(
        failed.text.contains("upcast-not-generated")
            && failed
                .text
                .contains("may be absent or null in the previous version"),
        "{}",
        failed.text
    );
}

#[test]
fn one_conversion_name_for_two_signatures_is_not_generated() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("eventsmith.toml", "[project]\nname = \"p\"\n");
    write(
        "schema/aggregates/order.json",
        r#"{"description": "An order.", "type": "object"}"#,
    );
    write(
        "schema/events/order/placed.v1.json",
        r#"{"description": "v1", "type": "object", "required": ["at", "count"],
            "properties": {"at": {"type": "integer"}, "count": {"type": "string"}}, "additionalProperties": false}"#,
    );
    write(
        "schema/events/order/placed.v2.json",
        r#"{"description": "v2", "type": "object", "required": ["at", "count"],
            "properties": {"at": {"type": "string", "format": "date-time"}, "count": {"type": "integer"}},
            "additionalProperties": false,
            "x-eventsmith": {"upcast": {"rules": [
                {"convert": {"field": "at", "using": "fix"}},
                {"convert": {"field": "count", "using": "fix"}}]}}}"#,
    );
    let failed = code(dir.path(), &Settings::default()).unwrap_err();
    assert!(
        failed.text.contains("upcast-not-generated")
            && failed
                .text
                .contains("conversion `fix` already converts `/at`"),
        "{}",
        failed.text
    );
}
