//! `eventsmith` without its default features depends on no database, async runtime, HTTP stack
//! or metrics: `cargo tree -p eventsmith --no-default-features -e normal` names none of them.
//! (tests/events-only builds a `generate!` crate that way.)

use std::path::Path;
use std::process::Command;

/// Crates that must not appear, with their families (`tokio-macros`, `hyper-util`, …).
const FORBIDDEN: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "tokio",
    "axum",
    "hyper",
    "metrics",
];

#[test]
fn without_default_features_there_is_no_database_runtime_http_or_metrics() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--manifest-path"])
        .arg(&manifest)
        .args(["-p", "eventsmith", "--no-default-features", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"serde_json"),
        "an unexpected tree:\n{tree}"
    );
    let found: Vec<&str> = crates
        .iter()
        .copied()
        .filter(|name| {
            FORBIDDEN
                .iter()
                .any(|forbidden| *name == *forbidden || name.starts_with(&format!("{forbidden}-")))
        })
        .collect();
    assert!(found.is_empty(), "found {found:?} in:\n{tree}");
}
