//! `eventsmith diff` and `eventsmith check` end to end: every output format, exit codes, and a
//! temporary git repository for `check --against`.

use super::{eventsmith, repo_root, run};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command as Process;

fn diff_dir() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/diff")
}

#[test]
fn diff_formats_are_pinned() {
    for format in ["human", "json", "github", "sarif"] {
        let (code, stdout, _) = run(eventsmith()
            .current_dir(diff_dir())
            .args(["diff", "old.json", "new.json", "--format", format]));
        assert_eq!(code, 1, "{stdout}");
        insta::assert_snapshot!(format!("diff {format}"), stdout);
    }
}

#[test]
fn sarif_is_valid_against_the_sarif_schema() {
    let text =
        std::fs::read_to_string(repo_root().join("tests/specs/sarif-2.1.0-rtm.5.json")).unwrap();
    // The published schema has one pattern with a stray `]` that ECMA-262 reads as a literal and
    // the Rust regex engine rejects; escape it so the schema compiles.
    let text = text.replace("[a-zA-Z]{2}]?$", "[a-zA-Z]{2}\\\\]?$");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let (_, diff_sarif, _) = run(eventsmith()
        .current_dir(diff_dir())
        .args(["diff", "old.json", "new.json", "--format", "sarif"]));
    let fixture = repo_root().join("tests/fixtures/invalid/three-broken-files");
    let (_, validate_sarif, _) = run(eventsmith()
        .current_dir(fixture)
        .args(["validate", "--format", "sarif"]));
    for sarif in [diff_sarif, validate_sarif] {
        let log: Value = serde_json::from_str(&sarif).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(!log["runs"][0]["results"].as_array().unwrap().is_empty());
    }
}

#[test]
fn diff_exit_codes_follow_the_level() {
    let dir = diff_dir();
    let code = |args: &[&str]| run(eventsmith().current_dir(&dir).args(args)).0;
    assert_eq!(code(&["diff", "old.json", "compatible.json"]), 0);
    assert_eq!(
        code(&["diff", "old.json", "compatible.json", "--level", "forward"]),
        1
    );
    assert_eq!(
        code(&["diff", "compatible.json", "old.json", "--level", "forward"]),
        0
    );
    assert_eq!(
        code(&[
            "diff",
            "old.json",
            "compatible.json",
            "--level",
            "full-transitive"
        ]),
        1
    );
    assert_eq!(
        code(&["diff", "old.json", "new.json", "--level", "none"]),
        0
    );
    assert_eq!(
        code(&["diff", "old.json", "old.json", "--level", "full"]),
        0
    );
    assert_eq!(code(&["diff", "old.json", "broken.json"]), 2);
    assert_eq!(code(&["diff", "old.json", "missing.json"]), 2);
    assert_eq!(
        code(&["diff", "old.json", "new.json", "--level", "sideways"]),
        2
    );
}

#[test]
fn diff_json_lists_changes_with_both_positions() {
    let (_, stdout, _) = run(eventsmith()
        .current_dir(diff_dir())
        .args(["diff", "old.json", "new.json", "--format", "json"]));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["compatible"], false);
    let narrowed = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "enum-narrowed")
        .unwrap();
    assert_eq!(
        narrowed["old"],
        json!({"file": "old.json", "pointer": "/properties/status/enum", "line": 8, "column": 16})
    );
    assert_eq!(narrowed["new"]["line"], 9);
    assert_eq!(narrowed["breaking"], true);
}

/// A temporary git repository with a project in it.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q"]);
        repo.git(&["config", "user.email", "ci@example.com"]);
        repo.git(&["config", "user.name", "ci"]);
        assert_eq!(run(eventsmith().args(["init", "-q"]).arg(repo.path())).0, 0);
        repo.commit("init");
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) {
        let status = Process::new("git")
            .arg("-C")
            .arg(self.path())
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-qm", message]);
    }

    fn edit(&self, file: &str, change: impl FnOnce(&mut Value)) {
        let path = self.path().join(file);
        let mut value: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        change(&mut value);
        std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
    }

    fn check(&self, args: &[&str]) -> (i32, String, String) {
        run(eventsmith()
            .current_dir(self.path())
            .arg("check")
            .args(args))
    }

    /// 1-based line of the first line containing `needle`.
    fn line_of(&self, file: &str, needle: &str) -> usize {
        std::fs::read_to_string(self.path().join(file))
            .unwrap()
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    }
}

const CREATED: &str = "schema/events/task/created.v1.json";

#[test]
fn check_flags_a_breaking_edit_at_its_line() {
    let repo = Repo::new();
    repo.edit(CREATED, |v| v["properties"]["due"]["maxLength"] = json!(10));
    repo.edit(CREATED, |v| {
        v["properties"]["due"]["type"] = json!("integer")
    });
    let (code, stdout, _) = repo.check(&["--against", "HEAD", "--format", "github"]);
    assert_eq!(code, 1, "{stdout}");
    let line = repo.line_of(CREATED, "\"integer\"");
    assert!(
        stdout.contains(&format!(
            "::error file=schema/events/task/created.v1.json,line={line},"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("title=eventsmith type-changed"), "{stdout}");
    for format in ["human", "json", "github", "sarif"] {
        let (_, output, _) = repo.check(&["--against", "HEAD", "--format", format]);
        insta::assert_snapshot!(format!("check {format} breaking edit"), output);
    }
}

#[test]
fn check_passes_compatible_edits() {
    let repo = Repo::new();
    // An optional property added to a closed model (the event is `additionalProperties: false`).
    repo.edit(CREATED, |v| {
        v["properties"]["priority"] = json!({"type": "integer", "description": "How urgent."})
    });
    let (code, stdout, _) = repo.check(&["--against", "HEAD"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("compatible at `backward`"), "{stdout}");
}

#[test]
fn an_optional_property_added_to_an_open_model_is_forward_compatible_only() {
    let repo = Repo::new();
    repo.edit(CREATED, |v| {
        v.as_object_mut().unwrap().remove("additionalProperties");
    });
    repo.commit("open the model");
    repo.edit(CREATED, |v| {
        v["properties"]["priority"] = json!({"type": "integer"})
    });
    // Old events may carry `priority` with any value (the model was open): Confluent and the
    // subset relation both call this backward incompatible.
    assert_eq!(repo.check(&["--against", "HEAD"]).0, 1);
    assert_eq!(
        repo.check(&["--against", "HEAD", "--level", "forward"]).0,
        0
    );
    // A property that accepts anything is compatible both ways.
    repo.edit(CREATED, |v| {
        v["properties"]["priority"] = json!({"description": "anything"})
    });
    assert_eq!(repo.check(&["--against", "HEAD"]).0, 0);
}

#[test]
fn new_versions_need_a_sound_upcast() {
    let repo = Repo::new();
    assert_eq!(
        run(eventsmith()
            .current_dir(repo.path())
            .args(["new", "version", "task.created", "-q"]))
        .0,
        0
    );
    let v2 = "schema/events/task/created.v2.json";
    repo.edit(v2, |v| {
        let title = v["properties"]
            .as_object_mut()
            .unwrap()
            .remove("title")
            .unwrap();
        v["properties"]["name"] = title;
        v["required"] = json!(["name", "priority"]);
        v["properties"]["priority"] = json!({"type": "integer"});
        v["examples"] = json!([{"name": "Write the notes", "priority": 1}]);
        v["x-eventsmith"]["upcast"]["rules"] = json!([{"rename": {"from": "title", "to": "name"}}]);
    });
    // Unsound: v1 events have no `priority`.
    let (code, stdout, _) = repo.check(&["--against", "HEAD"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("unsound-upcast"), "{stdout}");
    assert!(stdout.contains("property `priority`"), "{stdout}");
    // Sound: a default bridges it.
    repo.edit(v2, |v| {
        v["x-eventsmith"]["upcast"]["rules"] = json!([
            {"rename": {"from": "title", "to": "name"}},
            {"default": {"field": "priority", "value": 3}}
        ]);
    });
    let (code, stdout, _) = repo.check(&["--against", "HEAD"]);
    assert_eq!(code, 0, "{stdout}");
    // No upcast at all.
    repo.edit(v2, |v| {
        v["x-eventsmith"].as_object_mut().unwrap().remove("upcast");
    });
    let (code, stdout, _) = repo.check(&["--against", "HEAD"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("upcast-required"), "{stdout}");
    // Moving fields into a new closed object, and defaulting a field v1 already had, are sound.
    repo.edit(v2, |v| {
        v["properties"]["meta"] = json!({"type": "object", "properties": {"due": {"type": "string", "format": "date"}}, "additionalProperties": false});
        v["properties"].as_object_mut().unwrap().remove("due");
        v["x-eventsmith"]["upcast"] = json!({"rules": [
            {"rename": {"from": "title", "to": "name"}},
            {"default": {"field": "priority", "value": 3}},
            {"move": {"from": "due", "to": "/meta/due"}}
        ]});
        v["examples"] = json!([{"name": "Write the notes", "priority": 1, "meta": {"due": "2026-12-01"}}]);
    });
    let (code, stdout, _) = repo.check(&["--against", "HEAD"]);
    assert_eq!(code, 0, "{stdout}");
    // A custom upcaster is accepted.
    repo.edit(v2, |v| {
        v["x-eventsmith"]["upcast"] = json!({"custom": true})
    });
    assert_eq!(repo.check(&["--against", "HEAD"]).0, 0);
}

#[test]
fn deleting_released_things_is_an_error() {
    let repo = Repo::new();
    let eventsmith_in = |args: &[&str]| run(eventsmith().current_dir(repo.path()).args(args)).0;
    assert_eq!(eventsmith_in(&["new", "event", "task.closed", "-q"]), 0);
    assert_eq!(eventsmith_in(&["new", "version", "task.created", "-q"]), 0);
    repo.commit("closed, created v2");
    // Rename `task.closed` to `task.finished` and drop `task.created` v2.
    std::fs::rename(
        repo.path().join("schema/events/task/closed.v1.json"),
        repo.path().join("schema/events/task/finished.v1.json"),
    )
    .unwrap();
    std::fs::remove_file(repo.path().join("schema/events/task/created.v2.json")).unwrap();
    let (code, stdout, _) = repo.check(&["--against", "HEAD", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(&str, &str)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["help"].as_str().unwrap()))
        .collect();
    assert!(
        found
            .iter()
            .any(|(code, help)| *code == "event-deleted"
                && help.contains("renamed to `task.finished`")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(code, _)| *code == "version-deleted"),
        "{found:?}"
    );
    assert_eq!(report["level"], "backward");
}

#[test]
fn transitive_levels_compare_every_committed_state() {
    let repo = Repo::new();
    repo.edit(CREATED, |v| {
        v["properties"]["state"] = json!({"enum": ["open", "done"]})
    });
    repo.commit("state");
    repo.edit(CREATED, |v| {
        v["properties"]["state"] = json!({"enum": ["open"]})
    });
    repo.commit("narrow state (let through)");
    repo.edit(CREATED, |v| {
        v["properties"]["state"]["description"] = json!("Where the task is.")
    });
    assert_eq!(repo.check(&["--against", "HEAD"]).0, 0);
    let (code, stdout, _) = repo.check(&["--against", "HEAD", "--level", "backward-transitive"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("enum-narrowed"), "{stdout}");
}

#[test]
fn check_against_a_directory() {
    let repo = Repo::new();
    let base = tempfile::tempdir().unwrap();
    assert_eq!(
        run(eventsmith()
            .args(["init", "-q"])
            .arg(base.path())
            .args(["--name", "x"]))
        .0,
        0
    );
    repo.edit(CREATED, |v| v["required"] = json!(["title", "due"]));
    let (code, stdout, _) = run(eventsmith()
        .current_dir(repo.path())
        .arg("check")
        .arg("--against-dir")
        .arg(base.path()));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("required-added"), "{stdout}");
    let (code, _, stderr) = repo.check(&["--against", "no-such-branch"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, stdout, _) = repo.check(&["--against-dir", "no/such/dir"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("holds no eventsmith.toml"), "{stdout}");
}

#[test]
fn a_thousand_levels_deep_change_is_found() {
    let deep = |max: u64| {
        let mut schema = json!({"type": "string", "maxLength": max});
        for _ in 0..1000 {
            schema = json!({"type": "object", "properties": {"next": schema}});
        }
        schema
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.json"), deep(10).to_string()).unwrap();
    std::fs::write(dir.path().join("new.json"), deep(5).to_string()).unwrap();
    let (code, stdout, _) = run(eventsmith()
        .current_dir(dir.path())
        .args(["diff", "old.json", "new.json", "--format", "json"]));
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["changes"][0]["kind"], "max-length-decreased");
    assert_eq!(
        report["changes"][0]["new"]["pointer"]
            .as_str()
            .unwrap()
            .matches("/properties/next")
            .count(),
        1000
    );
}
