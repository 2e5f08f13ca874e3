//! The example project's generated code, checked in at generated-example/src/generated/mod.rs, is what the
//! generator produces now, from the engine and from the build.rs API alike.
//! `EVENTSMITH_BLESS=1 cargo test -p eventsmith-core --test example_code` rewrites it.

use eventsmith_core::commands::generate::{Settings, code};
use std::path::Path;

#[test]
fn example_code_is_fresh_and_the_build_api_writes_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let generated = code(&root, &Settings::default())
        .map_err(|failed| failed.text)
        .unwrap();
    let golden = root.join("generated-example/src/generated/mod.rs");
    if std::env::var_os("EVENTSMITH_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &generated.source).unwrap();
    }
    let committed = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        committed == generated.source,
        "generated-example/src/generated/mod.rs is stale: rerun with EVENTSMITH_BLESS=1"
    );
    // Deterministic: a second run gives the same bytes.
    let again = code(&root, &Settings::default())
        .map_err(|failed| failed.text)
        .unwrap();
    assert_eq!(again.source, generated.source);
    // The build.rs API writes the same file.
    let out = tempfile::tempdir().unwrap();
    let (file, _) = eventsmith_core::build::Builder::new(&root)
        .write_to(out.path())
        .unwrap();
    assert_eq!(std::fs::read_to_string(file).unwrap(), committed);
}
