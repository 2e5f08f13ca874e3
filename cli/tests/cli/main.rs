//! End-to-end tests of the `eventsmith` binary: help, init, new, validate and its diagnostics.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod catalog;
mod compat;
mod fidelity;
mod generate;
mod service;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn eventsmith() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventsmith"));
    command.env_remove("NO_COLOR").arg("--color").arg("never");
    command
}

/// Runs the command and returns (exit code, stdout, stderr).
fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn help_is_pinned() {
    for args in [
        &["--help"][..],
        &["init", "--help"],
        &["new", "--help"],
        &["new", "version", "--help"],
        &["new", "command", "--help"],
        &["validate", "--help"],
        &["generate", "--help"],
        &["catalog", "--help"],
    ] {
        let (code, stdout, _) = run(Command::new(env!("CARGO_BIN_EXE_eventsmith")).args(args));
        assert_eq!(code, 0);
        insta::assert_snapshot!(format!("help {}", args.join(" ")), stdout);
    }
}

#[test]
fn the_example_project_validates() {
    let (code, stdout, _) = run(eventsmith().current_dir(repo_root()).arg("validate"));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok: 3 aggregates"), "{stdout}");
}

#[test]
fn invalid_fixtures_report_positioned_diagnostics() {
    insta::glob!(
        "../../../tests/fixtures/invalid",
        "*/eventsmith.toml",
        |config| {
            let dir = config.parent().unwrap();
            let (code, stdout, stderr) = run(eventsmith().current_dir(dir).arg("validate"));
            assert_eq!(code, 1, "{stdout}{stderr}");
            insta::assert_snapshot!(format!("exit code: {code}\n\n{stdout}"));

            let (_, json, _) = run(eventsmith()
                .current_dir(dir)
                .args(["validate", "--format", "json"]));
            let report: Value = serde_json::from_str(&json).unwrap();
            let diagnostics = report["diagnostics"].as_array().unwrap();
            assert!(!diagnostics.is_empty());
            for diagnostic in diagnostics {
                assert!(diagnostic["file"].is_string(), "{diagnostic}");
                assert!(diagnostic["line"].as_u64().unwrap() >= 1, "{diagnostic}");
                assert!(diagnostic["column"].as_u64().unwrap() >= 1, "{diagnostic}");
                assert!(stdout.contains(&format!(
                    "{}:{}:{}",
                    diagnostic["file"].as_str().unwrap(),
                    diagnostic["line"],
                    diagnostic["column"]
                )));
            }
        }
    );
}

#[test]
fn three_broken_files_are_reported_in_one_run() {
    let dir = repo_root().join("tests/fixtures/invalid/three-broken-files");
    let (code, json, _) = run(eventsmith()
        .current_dir(&dir)
        .args(["validate", "--format", "json"]));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&json).unwrap();
    let mut files: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    files.dedup();
    assert_eq!(
        files,
        vec![
            "schema/commands/order/ship_order.json",
            "schema/events/order/paid.v1.json",
            "schema/events/order/shipped.v1.json"
        ]
    );
    assert_eq!(report["summary"]["errors"], 3);
}

#[test]
fn valid_fixtures_pass() {
    for entry in std::fs::read_dir(repo_root().join("tests/fixtures/valid")).unwrap() {
        let dir = entry.unwrap().path();
        let (code, stdout, _) = run(eventsmith().current_dir(&dir).arg("validate"));
        assert_eq!(code, 0, "{}: {stdout}", dir.display());
    }
}

#[test]
fn github_format_annotates_lines() {
    let dir = repo_root().join("tests/fixtures/invalid/meta-schema-type");
    let (code, stdout, _) = run(eventsmith()
        .current_dir(&dir)
        .args(["validate", "--format", "github"]));
    assert_eq!(code, 1);
    // GitHub resolves `file=` against the repository root, wherever the command ran.
    assert!(
        stdout.starts_with("::error file=tests/fixtures/invalid/meta-schema-type/schema/events/order/paid.v1.json,line=6,col=15,"),
        "{stdout}"
    );
}

#[test]
fn init_then_validate() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("shop");
    let (code, stdout, _) = run(eventsmith().arg("init").arg(&dir));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("created project `shop`"));
    let (code, stdout, _) = run(eventsmith().current_dir(&dir).arg("validate"));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(
            "ok: 1 aggregate, 1 event (1 version), 1 command, 1 projection, 1 shared type file"
        ),
        "{stdout}"
    );

    // A second init never overwrites.
    let before = std::fs::read_to_string(dir.join("eventsmith.toml")).unwrap();
    let (code, _, stderr) = run(eventsmith().arg("init").arg(&dir));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("already holds an eventsmith project"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("eventsmith.toml")).unwrap(),
        before
    );
}

#[test]
fn new_items_validate() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    assert_eq!(run(eventsmith().arg("init").arg(dir)).0, 0);
    for args in [
        &["new", "aggregate", "order"][..],
        &["new", "event", "order.placed"],
        &[
            "new",
            "command",
            "order.place_order",
            "--emits",
            "order.placed",
        ],
        &[
            "new",
            "projection",
            "order_summary",
            "--key",
            "order_id",
            "--subscribes",
            "order.placed,task.created",
        ],
        &["new", "version", "order.placed"],
        &["new", "version", "order.placed"],
    ] {
        let (code, stdout, stderr) = run(eventsmith().current_dir(dir).args(args));
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    }
    let (code, stdout, _) = run(eventsmith().current_dir(dir).arg("validate"));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("2 events (4 versions)"), "{stdout}");

    let v3: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("schema/events/order/placed.v3.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v3["x-eventsmith"]["upcast"]["rules"], serde_json::json!([]));
    assert!(
        v3["x-eventsmith"]["upcast"]["description"]
            .as_str()
            .unwrap()
            .contains("v2 to v3")
    );
}

#[test]
fn new_refuses_what_would_break_or_overwrite() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    assert_eq!(run(eventsmith().arg("init").arg(dir)).0, 0);
    let cases: &[(&[&str], &str)] = &[
        (
            &["new", "event", "invoice.sent"],
            "aggregate `invoice` is not defined",
        ),
        (&["new", "event", "task.created"], "already exists"),
        (&["new", "event", "created"], "is not `<aggregate>.<name>`"),
        (
            &["new", "command", "task.close", "--emits", "task.closed"],
            "event `task.closed` does not exist",
        ),
        (&["new", "version", "task.finished"], "does not exist"),
        (&["new", "aggregate", "task"], "already exists"),
        (
            &["new", "aggregate", "9lives"],
            "not a valid aggregate name",
        ),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = run(eventsmith().current_dir(dir).args(*args));
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn usage_and_io_errors_exit_2() {
    let temp = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(eventsmith().current_dir(temp.path()).arg("validate"));
    assert_eq!(code, 2);
    assert!(stderr.contains("no eventsmith.toml"), "{stderr}");
    let (code, _, _) = run(eventsmith().arg("validate").arg("--format").arg("yaml"));
    assert_eq!(code, 2);
    let (code, _, _) = run(eventsmith().arg("frobnicate"));
    assert_eq!(code, 2);
    // A project whose schema directory is missing is an I/O error.
    std::fs::write(
        temp.path().join("eventsmith.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    let (code, stdout, _) = run(eventsmith().current_dir(temp.path()).arg("validate"));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("schema directory"), "{stdout}");
}
