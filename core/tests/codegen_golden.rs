//! The checked-in generated types of the example project are what the generator produces now.
//! `EVENTSMITH_BLESS=1 cargo test -p eventsmith-core --test codegen_golden` rewrites them.

use eventsmith_core::fs::RealFs;
use eventsmith_core::{LoadOptions, codegen, load};
use std::path::Path;

#[test]
fn example_event_types_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let loaded = load(&RealFs, &LoadOptions::new(&root, None));
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let generated = codegen::latest_event_types(loaded.project.as_ref().unwrap());
    let golden = root.join("tests/codegen/example_events.rs");
    if std::env::var_os("EVENTSMITH_BLESS").is_some() {
        std::fs::write(&golden, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        committed == generated,
        "tests/codegen/example_events.rs is stale: rerun with EVENTSMITH_BLESS=1\n{generated}"
    );
    // Deterministic: a second run gives the same bytes.
    assert_eq!(
        codegen::latest_event_types(loaded.project.as_ref().unwrap()),
        generated
    );
}
