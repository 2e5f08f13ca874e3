//! Generated code against this runtime: a trybuild run that compiles the code of every fixture of
//! tests/codegen/fixtures (one small schema project per mapping rule) as its own crate under
//! `#![deny(warnings)]`, and compile-fail cases that pin the errors of the `generate!` macro and
//! of `#[derive(Event)]`. (core's tests/fixture_code.rs snapshots the code; tests/codegen/crate
//! compiles the fixtures under clippy and runs their generated tests.)

use eventsmith_core::commands::generate::{Settings, code};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = workspace().join("tests/codegen/fixtures");
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

/// What a fixture's crate adds by hand: the traits generated code declares for hand-written code.
fn hand_written(name: &str) -> &'static str {
    match name {
        "custom-upcaster" => {
            r#"
impl events::cart::v2::CartCheckedOutFromV1 for events::Upcasters {
    fn upcast(
        prev: events::cart::v1::CartCheckedOut,
    ) -> Result<events::cart::v2::CartCheckedOut, eventsmith::UpcastError> {
        let mut quantities = eventsmith::indexmap::IndexMap::new();
        for line in prev.lines {
            *quantities.entry(line.sku).or_insert(0) += line.quantity;
        }
        Ok(events::cart::v2::CartCheckedOut { quantities })
    }
}
"#
        }
        "name-clashes" => {
            r#"
/// The traits the `name-clashes` fixture's ledger declares, under the names they keep while
/// event titles give way: `Conversions` (a conversion named `type`, a keyword, is `type_`) and
/// the custom upcaster `ShippedFromV1`.
impl events::ledger::v2::Conversions for events::Upcasters {
    fn type_(value: i64) -> Result<String, eventsmith::UpcastError> {
        Ok(value.to_string())
    }
}

impl events::ledger::v2::ShippedFromV1 for events::Upcasters {
    fn upcast(
        prev: events::ledger::v1::Shipped,
    ) -> Result<events::ledger::v2::Shipped, eventsmith::UpcastError> {
        Ok(events::ledger::v2::Shipped { id: prev.id })
    }
}
"#
        }
        _ => "",
    }
}

#[test]
fn fixtures_compile_without_warnings() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 40, "only {} fixtures", fixtures.len());
    let out = workspace().join("target/codegen-golden/pass");
    std::fs::create_dir_all(&out).unwrap();
    let cases = trybuild::TestCases::new();
    for (name, dir) in &fixtures {
        let generated = code(dir, &Settings::default())
            .map_err(|failed| failed.text)
            .unwrap_or_else(|text| panic!("{name}: {text}"));
        let file = out.join(format!("{}.rs", name.replace('-', "_")));
        let crate_source = format!(
            "#![deny(warnings)]\n\nmod events {{\n{}\n}}\n{}\nfn main() {{}}\n",
            generated.source,
            hand_written(name)
        );
        std::fs::write(&file, crate_source).unwrap();
        cases.pass(&file);
    }
}

#[test]
fn macro_and_derive_errors_are_pinned() {
    // A trybuild crate builds in target/tests/trybuild/eventsmith, so the cases reach the
    // repository's schemas by `../../../../`, relative to that crate's manifest.
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile-fail/*.rs");
}
