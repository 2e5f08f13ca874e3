//! `eventsmith check --against HEAD` on a generated project of 1,000 events x 3 versions in a git
//! repository, with a compatible edit in 10% of the events, printed next to a baseline measured
//! in the same run: loading the working-tree project once (what any command pays).
//!
//! Run: `cargo bench -p eventsmith-core --bench check`

mod support;

use eventsmith_core::commands::Context;
use eventsmith_core::commands::compare::{Base, check};
use eventsmith_core::{LoadOptions, RealFs, load};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{VERSIONS, best_of, event_file, generate};

const EVENTS: usize = 1_000;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn main() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    generate(root, EVENTS);
    git(root, &["init", "-q"]);
    git(
        root,
        &["-c", "user.email=b@b", "-c", "user.name=b", "add", "-A"],
    );
    git(
        root,
        &[
            "-c",
            "user.email=b@b",
            "-c",
            "user.name=b",
            "commit",
            "-qm",
            "base",
        ],
    );
    // A compatible edit in every tenth event: an optional property in a closed model.
    for event in (0..EVENTS).step_by(10) {
        let path = event_file(root, event, VERSIONS);
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        value["properties"]["channel"] = serde_json::json!({"type": "string", "maxLength": 20});
        std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    }
    let context = Context::new(root);
    let outcome = check(&context, &Base::Git("HEAD".into()), None).unwrap();
    assert!(
        outcome.status.code() == 0,
        "{:?}",
        &outcome.diagnostics[..outcome.diagnostics.len().min(3)]
    );
    let checked = best_of(3, || {
        let outcome = check(&context, &Base::Git("HEAD".into()), None).unwrap();
        assert!(outcome.status.code() == 0);
    });
    let mut options = LoadOptions::new(root, None);
    options.check_examples = false;
    let baseline = best_of(3, || {
        let loaded = load(&RealFs, &options);
        assert!(!loaded.has_errors());
    });
    println!(
        "check --against HEAD, {EVENTS} events x {VERSIONS} versions, 10% edited: {:>7.1} ms | load-once baseline {:>6.1} ms | ratio {:.2}x",
        checked.as_secs_f64() * 1e3,
        baseline.as_secs_f64() * 1e3,
        checked.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "goal: under 1 s: {}",
        if checked < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
