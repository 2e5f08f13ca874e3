//! Contract fidelity (issue #16) end to end: drafts in `diff` and projects, `$ref` cycles,
//! unknown and other-draft keywords, duplicate `$id`s, placeholder descriptions, follow-on
//! errors of unparsable files, what `new` refuses and how it parses `--emits`, and `check`
//! run from a subdirectory, with forward advice, on commands, aggregate states and projection
//! rows, beside broken files, and in JSON and SARIF.

use super::{eventsmith, run};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

/// Writes `text` to `path`, creating its directory.
fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_json(path: &Path, value: &Value) {
    write(path, &(serde_json::to_string_pretty(value).unwrap() + "\n"));
}

fn edit(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    change(&mut value);
    write_json(path, &value);
}

/// `eventsmith <args>` in `dir`: (exit code, stdout, stderr).
fn eventsmith_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(eventsmith().current_dir(dir).args(args))
}

/// A fresh `eventsmith init` project.
fn project() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(eventsmith().args(["init", "-q"]).arg(temp.path()));
    assert_eq!(code, 0, "{stdout}{stderr}");
    temp
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// Runs git in `dir`; its stdout. Panics when git fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Process::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A temporary git repository holding an `eventsmith init` project in `subdir` (`""` for the
/// repository root), committed.
struct Repo {
    dir: tempfile::TempDir,
    subdir: &'static str,
}

impl Repo {
    fn new(subdir: &'static str) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
            subdir,
        };
        git(repo.root(), &["init", "-q"]);
        git(repo.root(), &["config", "user.email", "ci@example.com"]);
        git(repo.root(), &["config", "user.name", "ci"]);
        git(repo.root(), &["config", "commit.gpgsign", "false"]);
        let (code, stdout, stderr) = run(eventsmith().args(["init", "-q"]).arg(repo.project()));
        assert_eq!(code, 0, "{stdout}{stderr}");
        repo.commit("init");
        repo
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn project(&self) -> PathBuf {
        self.root().join(self.subdir)
    }

    /// A file of the project.
    fn file(&self, relative: &str) -> PathBuf {
        self.project().join(relative)
    }

    fn commit(&self, message: &str) {
        git(self.root(), &["add", "-A"]);
        git(self.root(), &["commit", "-qm", message]);
    }

    fn edit(&self, relative: &str, change: impl FnOnce(&mut Value)) {
        edit(&self.file(relative), change);
    }

    /// `eventsmith check <args>` in the project directory.
    fn check(&self, args: &[&str]) -> (i32, String, String) {
        run(eventsmith()
            .current_dir(self.project())
            .arg("check")
            .args(args))
    }

    fn check_json(&self, args: &[&str]) -> (i32, Value) {
        let (code, stdout, stderr) = self.check(&[args, &["--format", "json"]].concat());
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}{stderr}"));
        (code, report)
    }
}

const CREATED: &str = "schema/events/task/created.v1.json";
const CREATE_TASK: &str = "schema/commands/task/create_task.json";
const TASK: &str = "schema/aggregates/task.json";
const OPEN_TASKS: &str = "schema/projections/open_tasks.json";

/// The `code`s of a JSON report's diagnostics.
fn codes(report: &Value) -> Vec<&str> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect()
}

/// The diagnostic with `code` in a JSON report.
fn diagnostic<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {report:#}"))
}

// 1. Drafts in `diff`.

#[test]
fn diff_reads_a_file_without_schema_as_draft_07() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let tuple = |closed: bool| {
        let mut point = json!({
            "type": "array",
            "items": [{"type": "number"}, {"type": "number"}]
        });
        if closed {
            point["additionalItems"] = json!(false);
        }
        json!({"type": "object", "properties": {"point": point}})
    };
    write_json(&dir.join("old.json"), &tuple(true));
    write_json(&dir.join("new.json"), &tuple(true));
    write_json(&dir.join("open.json"), &tuple(false));

    let (code, stdout, stderr) = eventsmith_in(dir, &["diff", "old.json", "new.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("meta-schema"), "{stdout}");
    assert!(!stdout.contains("draft-keyword"), "{stdout}");
    assert!(stdout.contains("0 breaking"), "{stdout}");

    // Read as draft-07, `additionalItems` is honoured: closing the tuple breaks backward.
    let (code, stdout, _) =
        eventsmith_in(dir, &["diff", "open.json", "old.json", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["changes"][0]["kind"], "additional-items-forbidden");

    // The same files read as 2020-12 are not valid schemas.
    let (code, stdout, stderr) =
        eventsmith_in(dir, &["diff", "old.json", "new.json", "--draft", "2020-12"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("error[meta-schema]"), "{stdout}");
    assert!(stdout.contains("not a valid 2020-12 schema"), "{stdout}");
}

#[test]
fn diff_reads_draft_04_boolean_exclusive_minimum() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let schema = |exclusive: Option<bool>| {
        let mut n = json!({"type": "number", "minimum": 0});
        if let Some(exclusive) = exclusive {
            n["exclusiveMinimum"] = json!(exclusive);
        }
        json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"n": n}
        })
    };
    write_json(&dir.join("inclusive.json"), &schema(None));
    write_json(&dir.join("not-exclusive.json"), &schema(Some(false)));
    write_json(&dir.join("exclusive.json"), &schema(Some(true)));

    let (code, stdout, stderr) = eventsmith_in(dir, &["diff", "exclusive.json", "exclusive.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("meta-schema"), "{stdout}");

    for old in ["inclusive.json", "not-exclusive.json"] {
        let (code, stdout, stderr) =
            eventsmith_in(dir, &["diff", old, "exclusive.json", "--format", "json"]);
        assert_eq!(code, 1, "{old}: {stdout}{stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let kinds: Vec<&str> = report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["exclusive-minimum-added"], "{old}");
        assert_eq!(report["changes"][0]["breaking"], true);
        assert_eq!(report["level"], "backward");
    }
}

// 2. `$ref` alias cycles.

#[test]
fn a_ref_alias_cycle_is_an_error_and_no_crash() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| {
        v["$defs"] = json!({"Loop": {"$ref": "#/$defs/Loop"}});
        v["properties"]["loop"] = json!({"$ref": "#/$defs/Loop", "description": "Loops."});
    });
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("error[ref-cycle]"), "{stdout}");
    assert!(stdout.contains("created.v1.json#/$defs/Loop"), "{stdout}");

    let (code, stdout, stderr) = eventsmith_in(dir, &["generate"]);
    // Not 134 (stack overflow) or 101 (panic): the same error, as validate reports it.
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("error[ref-cycle]"), "{stdout}");
    assert!(!stderr.contains("overflow"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// 3. Unknown and other-draft keywords, the project's default draft.

#[test]
fn a_misspelt_keyword_is_warned_with_a_did_you_mean() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| v["requried"] = json!(["title"]));
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("warning[unknown-keyword]"), "{stdout}");
    assert!(stdout.contains("`requried`"), "{stdout}");
    assert!(stdout.contains("did you mean `required`?"), "{stdout}");
}

#[test]
fn a_keyword_of_another_draft_is_an_error_naming_the_draft() {
    let temp = project();
    let dir = temp.path();
    // A 2020-12 file (it says so in `$schema`).
    edit(&dir.join(CREATED), |v| {
        v["properties"]["tags"] = json!({
            "type": "array",
            "items": {"type": "string"},
            "additionalItems": false,
            "description": "Labels."
        });
    });
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found = diagnostic(&report, "draft-keyword");
    assert_eq!(found["severity"], "error");
    assert_eq!(found["file"], CREATED);
    let message = found["message"].as_str().unwrap();
    assert!(message.contains("`additionalItems`"), "{message}");
    assert!(message.contains("2020-12"), "{message}");
}

#[test]
fn a_file_without_schema_follows_the_project_default_draft() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| {
        v.as_object_mut().unwrap().remove("$schema");
        v["properties"]["tags"] = json!({
            "type": "array",
            "items": [{"type": "string"}],
            "additionalItems": false,
            "description": "Labels."
        });
    });
    // The default draft is 2020-12: a draft-07 keyword is an error naming it.
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("error[draft-keyword]"), "{stdout}");
    assert!(stdout.contains("not of 2020-12"), "{stdout}");
    assert!(
        stdout.contains("set `[schema] draft` in eventsmith.toml"),
        "{stdout}"
    );

    // With draft-07 as the project's default, the same file validates.
    let config = dir.join("eventsmith.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[schema]\n"), "{text}");
    std::fs::write(
        &config,
        text.replace("[schema]\n", "[schema]\ndraft = \"draft-07\"\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("draft-keyword"), "{stdout}");
    assert!(!stdout.contains("meta-schema"), "{stdout}");
}

// 4. Duplicate `$id`s.

#[test]
fn the_same_id_in_two_files_is_an_error_naming_the_other() {
    let temp = project();
    let dir = temp.path();
    for name in ["money", "cash"] {
        write_json(
            &dir.join(format!("schema/types/{name}.json")),
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://example.com/money.json",
                "title": "Money",
                "description": "Amounts of money.",
                "$defs": {"Amount": {"type": "integer", "description": "Cents."}}
            }),
        );
    }
    edit(&dir.join(CREATED), |v| {
        v["properties"]["price"] = json!({
            "$ref": "https://example.com/money.json#/$defs/Amount",
            "description": "What it costs."
        });
    });
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found = diagnostic(&report, "duplicate-id");
    assert_eq!(found["severity"], "error");
    let file = found["file"].as_str().unwrap();
    let message = found["message"].as_str().unwrap();
    assert!(
        message.contains("https://example.com/money.json"),
        "{message}"
    );
    // Reported in one of the files, naming the other.
    let other = match file {
        "schema/types/cash.json" => "schema/types/money.json",
        "schema/types/money.json" => "schema/types/cash.json",
        _ => panic!("duplicate-id reported in {file}"),
    };
    assert!(message.contains(other), "{message}");
    // ...and no false dangling reference to the id.
    assert!(!codes(&report).contains(&"dangling-ref"), "{report:#}");
}

// 5. Placeholder descriptions.

#[test]
fn placeholder_descriptions_from_new_are_warned() {
    let temp = project();
    let dir = temp.path();
    for args in [
        &["new", "aggregate", "order"][..],
        &["new", "event", "order.placed"],
    ] {
        let (code, stdout, stderr) = eventsmith_in(dir, args);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    }
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let placed = report["diagnostics"].as_array().unwrap().iter().find(|d| {
        d["code"] == "placeholder-description" && d["file"] == "schema/events/order/placed.v1.json"
    });
    let placed = placed.unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(placed["severity"], "warning");
    assert_eq!(placed["pointer"], "/description");
    let (_, human, _) = eventsmith_in(dir, &["validate"]);
    assert!(
        human.contains("warning[placeholder-description]"),
        "{human}"
    );
}

// 6. No follow-on errors for a file that failed to parse.

#[test]
fn an_unparsable_emitted_event_reports_only_its_own_error() {
    for content in ["", "{\"title\": "] {
        let temp = project();
        let dir = temp.path();
        for args in [
            &["new", "aggregate", "order", "-q"][..],
            &["new", "event", "order.placed", "-q"],
            &[
                "new",
                "command",
                "order.place_order",
                "--emits",
                "order.placed",
                "-q",
            ],
        ] {
            let (code, stdout, stderr) = eventsmith_in(dir, args);
            assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
        }
        std::fs::write(dir.join("schema/events/order/placed.v1.json"), content).unwrap();
        let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
        assert_eq!(code, 1, "{content:?}: {stdout}{stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let syntax = diagnostic(&report, "json-syntax");
        assert_eq!(syntax["file"], "schema/events/order/placed.v1.json");
        let found = codes(&report);
        assert!(
            !found.contains(&"unknown-emitted-event"),
            "{content:?}: {report:#}"
        );
        assert_eq!(report["summary"]["errors"], 1, "{content:?}: {report:#}");
        let (_, human, _) = eventsmith_in(dir, &["validate"]);
        assert!(!human.contains("which is not defined"), "{human}");
    }
}

// 7. What `new` refuses, and its `--emits`.

#[test]
fn new_command_refuses_an_event_of_another_aggregate() {
    let temp = project();
    let dir = temp.path();
    for args in [
        &["new", "aggregate", "book", "-q"][..],
        &["new", "aggregate", "member", "-q"],
        &["new", "event", "member.registered", "-q"],
    ] {
        assert_eq!(eventsmith_in(dir, args).0, 0, "{args:?}");
    }
    let before = files_under(dir);
    let (code, stdout, stderr) = eventsmith_in(
        dir,
        &[
            "new",
            "command",
            "book.enrol",
            "--emits",
            "member.registered",
        ],
    );
    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("`member.registered` belongs to `member`"),
        "{stderr}"
    );
    assert_eq!(files_under(dir), before);
}

#[test]
fn new_event_refuses_a_name_that_clashes_with_an_existing_one() {
    let temp = project();
    let dir = temp.path();
    for args in [
        &["new", "aggregate", "book", "-q"][..],
        &["new", "event", "book.checked_out", "-q"],
    ] {
        assert_eq!(eventsmith_in(dir, args).0, 0, "{args:?}");
    }
    let before = files_under(dir);
    let (code, stdout, stderr) = eventsmith_in(dir, &["new", "event", "book.Checked-Out"]);
    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("clash"), "{stderr}");
    assert!(stderr.contains("`checked_out`"), "{stderr}");
    assert_eq!(files_under(dir), before);
}

#[test]
fn new_command_emits_is_not_greedy() {
    let temp = project();
    let dir = temp.path();
    for args in [
        &["new", "aggregate", "order", "-q"][..],
        &["new", "event", "order.a", "-q"],
        &["new", "event", "order.b", "-q"],
    ] {
        assert_eq!(eventsmith_in(dir, args).0, 0, "{args:?}");
    }
    let emits = |command: &str| -> Value {
        let path = dir.join(format!("schema/commands/order/{command}.json"));
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        value["x-eventsmith"]["emits"].clone()
    };
    // Separated with commas, or the flag repeated.
    let (code, stdout, stderr) = eventsmith_in(
        dir,
        &["new", "command", "order.x", "--emits", "order.a,order.b"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(emits("x"), json!(["order.a", "order.b"]));
    let (code, stdout, stderr) = eventsmith_in(
        dir,
        &[
            "new", "command", "order.y", "--emits", "order.a", "--emits", "order.b",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(emits("y"), json!(["order.a", "order.b"]));
    let (code, stdout, _) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 0, "{stdout}");

    // The old greedy trap: a second event after `--emits` is not taken as an event (nor as the
    // command): it is a usage error, and nothing is written.
    let before = files_under(dir);
    let (code, stdout, stderr) = eventsmith_in(
        dir,
        &["new", "command", "order.w", "--emits", "order.a", "order.b"],
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("unexpected argument 'order.b'"), "{stderr}");
    assert_eq!(files_under(dir), before);

    // `--emits` takes one value: what follows it is the command, as the usage line says.
    let (code, stdout, stderr) =
        eventsmith_in(dir, &["new", "command", "--emits", "order.a", "order.z"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(emits("z"), json!(["order.a"]));
    let (_, help, _) = eventsmith_in(dir, &["new", "command", "--help"]);
    assert!(help.contains("--emits <EVENT> <COMMAND>"), "{help}");
    assert!(!help.contains("<EVENT>..."), "{help}");
}

// 8. `check` from a subdirectory of the repository.

#[test]
fn check_from_a_subdirectory_writes_paths_from_the_repository_root() {
    let repo = Repo::new("proj");
    repo.edit(CREATED, |v| {
        v["properties"]["due"]["type"] = json!("integer")
    });
    let cwd = repo.file("schema");
    let check = |format: &str| {
        run(eventsmith()
            .current_dir(&cwd)
            .args(["check", "--format", format]))
    };

    let (code, stdout, stderr) = check("github");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("::error file=proj/schema/events/task/created.v1.json,line=12,"),
        "{stdout}"
    );

    let (code, stdout, _) = check("json");
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let old = &report["changes"][0]["old"];
    let before = old["file"].as_str().unwrap();
    assert_eq!(before, "HEAD:proj/schema/events/task/created.v1.json");
    let location = format!("{before}:{}:{}", old["line"], old["column"]);
    assert!(
        report["diagnostics"][0]["help"]
            .as_str()
            .unwrap()
            .contains(&format!("(before: {location})")),
        "{report:#}"
    );
    let (_, human, _) = check("human");
    assert!(human.contains(&format!("(before: {location})")), "{human}");

    // git resolves it, from where check ran as from the repository root, to the released file.
    let released = git(&cwd, &["show", before]);
    assert_eq!(git(repo.root(), &["show", before]), released);
    let released: Value = serde_json::from_str(&released).unwrap();
    assert_eq!(released["properties"]["due"]["type"], "string");

    let (_, sarif, _) = check("sarif");
    let log: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(
        log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "proj/schema/events/task/created.v1.json"
    );
}

// 9. Forward advice for forward-only breaks.

#[test]
fn a_forward_only_break_gets_forward_advice() {
    let repo = Repo::new("");
    repo.edit(CREATED, |v| {
        v["properties"]["state"] = json!({"enum": ["open", "done"], "description": "Where it is."})
    });
    repo.commit("state");
    repo.edit(CREATED, |v| {
        v["properties"]["state"]["enum"] = json!(["open", "done", "archived"])
    });
    // Backward compatible.
    assert_eq!(repo.check(&[]).0, 0);
    let (code, report) = repo.check_json(&["--level", "forward"]);
    assert_eq!(code, 1, "{report:#}");
    let found = diagnostic(&report, "enum-extended");
    let help = found["help"].as_str().unwrap();
    assert!(help.contains("readers still on the old schema"), "{help}");
    assert!(!help.contains("upcast"), "{help}");
    assert!(!help.contains("add v2"), "{help}");
}

// 10. A missing base ref.

#[test]
fn a_missing_base_ref_suggests_git_fetch() {
    let repo = Repo::new("");
    let (code, stdout, stderr) = repo.check(&["--against", "origin/main"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(output.contains("`origin/main`"), "{output}");
    assert!(output.contains("git fetch origin main"), "{output}");
}

// 11. Commands, aggregate states and projection rows.

#[test]
fn check_judges_a_released_command_at_the_project_level() {
    let repo = Repo::new("");
    repo.edit(CREATE_TASK, |v| v["required"] = json!(["title", "due"]));
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let found = diagnostic(&report, "required-added");
    assert_eq!(found["severity"], "error");
    assert_eq!(found["file"], CREATE_TASK);
    let message = found["message"].as_str().unwrap();
    assert!(
        message.starts_with("command `task.create_task`"),
        "{message}"
    );
}

#[test]
fn deleting_a_released_command_is_an_error() {
    let repo = Repo::new("");
    std::fs::remove_file(repo.file(CREATE_TASK)).unwrap();
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let found = diagnostic(&report, "command-deleted");
    assert_eq!(found["severity"], "error");
    assert!(
        found["message"]
            .as_str()
            .unwrap()
            .contains("`task.create_task`"),
        "{found:#}"
    );
}

#[test]
fn a_required_state_property_discards_snapshots() {
    let repo = Repo::new("");
    repo.edit(TASK, |v| {
        v["properties"]["priority"] = json!({"type": "integer", "description": "How urgent."});
        v["required"] = json!(["title", "open", "priority"]);
        v["examples"][0]["priority"] = json!(1);
    });
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    let found = diagnostic(&report, "snapshots-discarded");
    assert_eq!(found["severity"], "warning");
    assert_eq!(found["file"], TASK);
    assert!(
        found["message"]
            .as_str()
            .unwrap()
            .contains("aggregate `task`"),
        "{found:#}"
    );
}

#[test]
fn a_projection_row_type_change_means_a_replay() {
    let repo = Repo::new("");
    repo.edit(OPEN_TASKS, |v| {
        v["properties"]["due"] = json!({"type": "integer", "description": "Days left."})
    });
    // A warning: shown without --verbose, and the check still passes.
    let (code, stdout, stderr) = repo.check(&[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("warning[projection-replay]"), "{stdout}");
    assert!(stdout.contains("projection `open_tasks`"), "{stdout}");
    let (_, report) = repo.check_json(&[]);
    let found = diagnostic(&report, "projection-replay");
    assert_eq!(found["severity"], "warning");
    assert_eq!(found["file"], OPEN_TASKS);
}

#[test]
fn deleting_a_released_projection_is_warned() {
    let repo = Repo::new("");
    std::fs::remove_file(repo.file(OPEN_TASKS)).unwrap();
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    let found = diagnostic(&report, "projection-deleted");
    assert_eq!(found["severity"], "warning");
    assert!(
        found["message"].as_str().unwrap().contains("`open_tasks`"),
        "{found:#}"
    );
}

// 12. Valid files are compared when others have errors.

#[test]
fn check_compares_valid_files_beside_a_broken_one() {
    let repo = Repo::new("");
    repo.edit(CREATED, |v| {
        v["properties"]["due"]["type"] = json!("integer")
    });
    std::fs::write(repo.file(OPEN_TASKS), "{\"title\": ").unwrap();
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let syntax = diagnostic(&report, "json-syntax");
    assert_eq!(syntax["file"], OPEN_TASKS);
    let changed = diagnostic(&report, "type-changed");
    assert_eq!(changed["file"], CREATED);
    // A broken released file is not a deleted one.
    assert!(
        !codes(&report).contains(&"projection-deleted"),
        "{report:#}"
    );
}

// 13. Structured changes in `check --format json`.

#[test]
fn check_json_lists_structured_changes() {
    let repo = Repo::new("");
    repo.edit(CREATED, |v| {
        v["properties"]["due"]["type"] = json!("integer")
    });
    repo.edit(CREATE_TASK, |v| v["required"] = json!(["title", "due"]));
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let changes = report["changes"].as_array().unwrap();
    let find = |contract: &str| {
        changes
            .iter()
            .find(|c| c["contract"] == contract)
            .unwrap_or_else(|| panic!("no {contract} change in {report:#}"))
    };

    let event = find("event");
    assert_eq!(event["name"], "task.created");
    assert_eq!(event["version"], 1);
    assert_eq!(event["kind"], "type-changed");
    assert_eq!(event["breaking"], true);
    let line = std::fs::read_to_string(repo.file(CREATED))
        .unwrap()
        .lines()
        .position(|l| l.contains("\"integer\""))
        .unwrap()
        + 1;
    assert_eq!(
        event["new"],
        json!({"file": CREATED, "pointer": "/properties/due/type", "line": line, "column": 15})
    );
    assert_eq!(
        event["old"],
        json!({"file": format!("HEAD:{CREATED}"), "pointer": "/properties/due/type", "line": 12, "column": 15})
    );

    let command = find("command");
    assert_eq!(command["name"], "task.create_task");
    assert!(command.get("version").is_none(), "{command:#}");
    assert_eq!(command["kind"], "required-added");
    assert_eq!(command["breaking"], true);
    for side in ["old", "new"] {
        let location = &command[side];
        assert!(
            location["file"].as_str().unwrap().ends_with(CREATE_TASK),
            "{command:#}"
        );
        assert_eq!(location["pointer"], "/required", "{command:#}");
        assert!(location["line"].as_u64().unwrap() >= 1, "{command:#}");
        assert!(location["column"].as_u64().unwrap() >= 1, "{command:#}");
    }
}

// 14. SARIF rules have a help URI.

#[test]
fn diff_sarif_rules_have_a_help_uri() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    write_json(
        &dir.join("old.json"),
        &json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "maxLength": 10},
                "b": {"enum": ["x", "y"]}
            }
        }),
    );
    write_json(
        &dir.join("new.json"),
        &json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer"},
                "b": {"enum": ["x"]}
            },
            "required": ["a"]
        }),
    );
    let (code, stdout, stderr) =
        eventsmith_in(dir, &["diff", "old.json", "new.json", "--format", "sarif"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let log: Value = serde_json::from_str(&stdout).unwrap();
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(rules.len() >= 2, "{log:#}");
    for rule in rules {
        let uri = rule["helpUri"]
            .as_str()
            .unwrap_or_else(|| panic!("no helpUri: {rule:#}"));
        assert!(uri.starts_with("https://"), "{rule:#}");
    }
}

// 15. Review findings: cycles through combinators, bases that do not load, `$id`s of new
// versions, `$defs` before 2019-09, draft-04 help, the state fingerprint, tool-prefixed
// keywords, repeated `--emits`, `$recursiveRef`, and combinators facing plain schemas.

#[test]
fn a_ref_cycle_through_a_one_member_all_of_is_an_error_and_no_crash() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| {
        v["$defs"] = json!({"Loop": {"allOf": [{"$ref": "#/$defs/Loop"}]}});
        v["properties"]["loop"] = json!({"$ref": "#/$defs/Loop", "description": "Loops."});
    });
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("error[ref-cycle]"), "{stdout}");
    assert!(stdout.contains("created.v1.json#/$defs/Loop"), "{stdout}");

    let (code, stdout, stderr) = eventsmith_in(dir, &["generate"]);
    // Not 134 (stack overflow) or 101 (panic).
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("error[ref-cycle]"), "{stdout}");
    assert!(!stderr.contains("overflow"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.join("src/events/mod.rs").exists());
}

#[test]
fn check_against_a_base_whose_config_does_not_load_is_an_error() {
    let repo = Repo::new("");
    let (code, stdout, stderr) =
        eventsmith_in(&repo.project(), &["new", "event", "task.renamed", "-q"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let config = repo.file("eventsmith.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[project]\n"), "{text}");
    std::fs::write(
        &config,
        text.replace("[project]\n", "[project]\nbogus = 1\n"),
    )
    .unwrap();
    repo.commit("an invalid eventsmith.toml");
    // Fixed in the working tree, and a released event type deleted.
    std::fs::write(&config, &text).unwrap();
    std::fs::remove_file(repo.file("schema/events/task/renamed.v1.json")).unwrap();

    let (code, stdout, stderr) = repo.check(&[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(
        output.contains("the base project does not load"),
        "{output}"
    );
    assert!(output.contains("`bogus`"), "{output}");
    assert!(!output.contains("compatible"), "{output}");

    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["compatible"], false, "{report:#}");
    assert_eq!(codes(&report), ["io"], "{report:#}");
}

#[test]
fn a_base_file_that_does_not_load_is_named_and_the_others_are_compared() {
    const RENAMED: &str = "schema/events/task/renamed.v1.json";
    let repo = Repo::new("");
    let (code, stdout, stderr) =
        eventsmith_in(&repo.project(), &["new", "event", "task.renamed", "-q"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    repo.commit("renamed");
    let good = std::fs::read_to_string(repo.file(RENAMED)).unwrap();
    std::fs::write(repo.file(RENAMED), "{\"title\": ").unwrap();
    repo.commit("renamed, broken");
    // Fixed in the working tree; another released event changes in a breaking way.
    std::fs::write(repo.file(RENAMED), good).unwrap();
    repo.edit(CREATED, |v| {
        v["properties"]["due"]["type"] = json!("integer")
    });

    let (code, stdout, stderr) = repo.check(&[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("warning[base-not-compared]"), "{stdout}");
    assert!(stdout.contains("error[type-changed]"), "{stdout}");

    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let skipped = diagnostic(&report, "base-not-compared");
    assert_eq!(skipped["severity"], "warning");
    let message = skipped["message"].as_str().unwrap();
    assert!(message.contains(RENAMED), "{message}");
    assert!(message.contains("not compared"), "{message}");
    let changed = diagnostic(&report, "type-changed");
    assert_eq!(changed["severity"], "error");
    assert_eq!(changed["file"], CREATED);
    // Nothing is reported deleted, and only one file is named.
    let found = codes(&report);
    assert!(
        !found.iter().any(|code| code.ends_with("-deleted")),
        "{report:#}"
    );
    assert_eq!(
        found.iter().filter(|&&c| c == "base-not-compared").count(),
        1,
        "{report:#}"
    );
}

#[test]
fn new_version_gives_the_copy_its_own_id() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| {
        v["$id"] = json!("https://example.com/task/created/v1.json")
    });
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = eventsmith_in(dir, &["new", "version", "task.created"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let read = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
    };
    assert_eq!(
        read(CREATED)["$id"],
        "https://example.com/task/created/v1.json"
    );
    assert_eq!(
        read("schema/events/task/created.v2.json")["$id"],
        "https://example.com/task/created/v2.json"
    );
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(!codes(&report).contains(&"duplicate-id"), "{report:#}");
}

#[test]
fn a_draft_07_defs_member_is_meta_checked() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| {
        v["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        // Not referenced from anywhere: checked all the same.
        v["$defs"] = json!({"Code": {"type": "string", "maxLength": "x"}});
    });
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("error[meta-schema]"), "{stdout}");
    assert!(stdout.contains("not a valid draft-07 schema"), "{stdout}");

    let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found = diagnostic(&report, "meta-schema");
    assert_eq!(found["severity"], "error");
    assert_eq!(found["file"], CREATED);
    assert_eq!(found["pointer"], "/$defs/Code/maxLength");
}

#[test]
fn diff_of_draft_04_bounds_without_schema_points_at_draft_04() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let schema = |exclusive: bool| {
        let mut n = json!({"type": "number", "minimum": 0});
        if exclusive {
            n["exclusiveMinimum"] = json!(true);
        }
        json!({"type": "object", "properties": {"n": n}})
    };
    write_json(&dir.join("old.json"), &schema(false));
    write_json(&dir.join("new.json"), &schema(true));

    let (code, stdout, stderr) = eventsmith_in(dir, &["diff", "old.json", "new.json"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("error[meta-schema]"), "{stdout}");
    assert!(stdout.contains("draft-04"), "{stdout}");
    assert!(stdout.contains("--draft draft-04"), "{stdout}");

    let (code, stdout, stderr) =
        eventsmith_in(dir, &["diff", "new.json", "new.json", "--format", "json"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found = diagnostic(&report, "meta-schema");
    assert_eq!(found["pointer"], "/properties/n/exclusiveMinimum");
    let help = found["help"].as_str().unwrap();
    assert!(help.contains("draft-04"), "{help}");
    assert!(help.contains("--draft draft-04"), "{help}");

    let (code, stdout, stderr) = eventsmith_in(
        dir,
        &["diff", "new.json", "new.json", "--draft", "draft-04"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("meta-schema"), "{stdout}");
    assert!(stdout.contains("0 breaking"), "{stdout}");
}

/// Every object's keys in reverse order, recursively.
fn reverse_keys(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(object).into_iter().collect();
            entries.reverse();
            for (key, mut item) in entries {
                reverse_keys(&mut item);
                object.insert(key, item);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(reverse_keys),
        _ => {}
    }
}

/// The `STATE_VERSION` line of the one aggregate in the module `eventsmith generate` writes in
/// `dir`.
fn state_version(dir: &Path) -> String {
    let (code, stdout, stderr) = eventsmith_in(dir, &["generate", "-q"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let module = std::fs::read_to_string(dir.join("src/events/mod.rs")).unwrap();
    let versions: Vec<&str> = module
        .lines()
        .filter(|line| line.contains("const STATE_VERSION"))
        .map(str::trim)
        .collect();
    assert_eq!(versions.len(), 1, "{module}");
    versions[0].to_owned()
}

#[test]
fn the_state_fingerprint_ignores_key_order_and_prose_but_not_compatible_changes() {
    let repo = Repo::new("");
    // Closed, so that an optional property is a compatible addition.
    repo.edit(TASK, |v| v["additionalProperties"] = json!(false));
    repo.commit("closed state");
    let dir = repo.project();
    let before = state_version(&dir);

    // Keys reordered, the description reworded.
    repo.edit(TASK, |v| {
        reverse_keys(v);
        v["description"] = json!("A piece of work that someone must do.");
    });
    let text = std::fs::read_to_string(repo.file(TASK)).unwrap();
    assert!(
        text.trim_start()
            .starts_with("{\n  \"additionalProperties\""),
        "{text}"
    );
    let (code, stdout, stderr) = repo.check(&[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("snapshots-discarded"), "{stdout}");
    let (code, report) = repo.check_json(&["--verbose"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        !codes(&report).contains(&"snapshots-discarded"),
        "{report:#}"
    );
    assert_eq!(state_version(&dir), before);

    // An optional property: compatible, but another fingerprint.
    repo.edit(TASK, |v| {
        v["properties"]["priority"] = json!({"type": "integer", "description": "How urgent."})
    });
    let (code, stdout, stderr) = repo.check(&[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("warning[snapshots-discarded]"), "{stdout}");
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    let found = diagnostic(&report, "snapshots-discarded");
    assert_eq!(found["severity"], "warning");
    assert_eq!(found["file"], TASK);
    let message = found["message"].as_str().unwrap();
    assert!(message.contains("aggregate `task`"), "{message}");
    assert!(message.contains("changed (compatibly)"), "{message}");
    assert_ne!(state_version(&dir), before);
}

#[test]
fn tool_prefixed_keywords_are_not_unknown_but_misspellings_are() {
    let temp = project();
    let dir = temp.path();
    edit(&dir.join(CREATED), |v| {
        // Beside `additionalProperties`...
        v["tsAdditionalProperties"] = json!(false);
        // ...and alone.
        v["properties"]["meta"] = json!({
            "type": "object",
            "properties": {"note": {"type": "string", "description": "A note."}},
            "tsAdditionalProperties": false,
            "description": "Extra data."
        });
    });
    assert_eq!(
        std::fs::read_to_string(dir.join(CREATED))
            .unwrap()
            .matches("\"additionalProperties\"")
            .count(),
        1
    );
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("unknown-keyword"), "{stdout}");

    edit(&dir.join(CREATED), |v| v["requried"] = json!(["title"]));
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found = diagnostic(&report, "unknown-keyword");
    assert_eq!(found["severity"], "warning");
    assert_eq!(found["pointer"], "/requried");
    assert!(
        found["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `required`?"),
        "{found:#}"
    );
    assert_eq!(
        codes(&report)
            .iter()
            .filter(|&&c| c == "unknown-keyword")
            .count(),
        1,
        "{report:#}"
    );
}

#[test]
fn new_command_with_a_repeated_emits_writes_a_valid_command() {
    let temp = project();
    let dir = temp.path();
    let (code, stdout, stderr) = eventsmith_in(
        dir,
        &[
            "new",
            "command",
            "task.reopen_task",
            "--emits",
            "task.created",
            "--emits",
            "task.created",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let path = dir.join("schema/commands/task/reopen_task.json");
    let command: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(command["x-eventsmith"]["emits"], json!(["task.created"]));
    let (code, stdout, stderr) = eventsmith_in(dir, &["validate"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("error["), "{stdout}");
}

/// `eventsmith diff old.json new.json --format json` of two schemas in a fresh directory:
/// (exit code, report).
fn diff_json(old: &Value, new: &Value) -> (i32, Value) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    write_json(&dir.join("old.json"), old);
    write_json(&dir.join("new.json"), new);
    let (code, stdout, stderr) =
        eventsmith_in(dir, &["diff", "old.json", "new.json", "--format", "json"]);
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}{stderr}"));
    (code, report)
}

/// The `kind`s of a diff report's changes.
fn kinds(report: &Value) -> Vec<&str> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn diff_follows_recursive_ref() {
    let schema = "https://json-schema.org/draft/2019-09/schema";
    let (code, report) = diff_json(
        &json!({"$schema": schema, "type": "array", "items": {"type": "string"}}),
        &json!({"$schema": schema, "type": "array", "items": {"$recursiveRef": "#"}}),
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["compatible"], false, "{report:#}");
    assert_eq!(report["verdict"]["backward"], false, "{report:#}");
    let found = kinds(&report);
    assert!(!found.contains(&"type-removed"), "{report:#}");
    assert!(!found.is_empty(), "{report:#}");
    assert!(
        report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["breaking"] == true),
        "{report:#}"
    );
}

#[test]
fn diff_compares_combinators_with_plain_schemas_by_meaning() {
    // An `allOf` is its conjunction.
    let (code, report) = diff_json(
        &json!({"allOf": [{"type": "string"}, {"maxLength": 3}]}),
        &json!({"type": "string", "maxLength": 3}),
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(kinds(&report), Vec::<&str>::new(), "{report:#}");
    assert_eq!(
        report["verdict"],
        json!({"backward": true, "forward": true})
    );

    // An `anyOf` of types is a type list.
    let (code, report) = diff_json(
        &json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
        &json!({"type": ["string", "integer"]}),
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["compatible"], true, "{report:#}");

    // A `oneOf` whose members overlap rejects what both accept: short strings.
    let (code, report) = diff_json(
        &json!({"type": "string"}),
        &json!({"type": "string", "oneOf": [{"type": "string"}, {"maxLength": 5}]}),
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["level"], "backward");
    assert_eq!(report["compatible"], false, "{report:#}");
    assert_eq!(report["verdict"]["backward"], false, "{report:#}");
    assert!(
        report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["breaking"] == true && c["backward"] == false),
        "{report:#}"
    );
}

#[test]
fn a_new_version_that_retypes_a_saga_s_correlation_property_breaks_the_saga() {
    let repo = Repo::new("");
    write_json(
        &repo.file("schema/sagas/follow_up.json"),
        &json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": "Follows a task up until it is created twice.",
            "type": "object",
            "x-eventsmith": {
                "starts": ["task.created"],
                "correlation": {"task.created": "due"},
                "initial": "waiting",
                "states": {
                    "waiting": {"on": {"task.created": {"then": "done"}}},
                    "done": {"end": "completed"}
                }
            }
        }),
    );
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 0, "a saga on its own breaks nothing: {report:#}");
    repo.commit("a saga");
    let mut v2: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.file(CREATED)).unwrap()).unwrap();
    v2["properties"]["due"] = json!({"type": "integer", "description": "Days until it is due."});
    v2["examples"][0]["due"] = json!(3);
    v2["x-eventsmith"]["upcast"] = json!({"custom": true});
    write_json(&repo.file("schema/events/task/created.v2.json"), &v2);
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let found = diagnostic(&report, "correlation-broken");
    assert_eq!(found["severity"], "error");
    assert_eq!(found["file"], "schema/events/task/created.v2.json");
    let message = found["message"].as_str().unwrap();
    assert!(
        message.contains("`task.created` v2 turns `due` from string into integer")
            && message.contains("saga `follow_up`"),
        "{message}"
    );
}

#[test]
fn a_new_version_that_drops_or_retypes_a_field_a_window_reads_breaks_the_window() {
    let repo = Repo::new("");
    write_json(
        &repo.file("schema/windows/daily_tasks.json"),
        &json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": "Tasks created per due date and day.",
            "type": "object",
            "properties": {
                "tasks": {"type": "integer", "minimum": 0},
                "titles": {"type": "integer", "minimum": 0}
            },
            "x-eventsmith": {
                "reads": ["task.created"],
                "key": ["due"],
                "window": {"kind": "tumbling", "size": "P1D"},
                "aggregates": {
                    "tasks": {"kind": "count"},
                    "titles": {"kind": "distinct", "field": "title"}
                }
            }
        }),
    );
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 0, "a window on its own breaks nothing: {report:#}");
    repo.commit("a window");
    let mut v2: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.file(CREATED)).unwrap()).unwrap();
    v2["properties"]["due"] = json!({"type": "integer", "description": "Days until it is due."});
    v2["properties"].as_object_mut().unwrap().remove("title");
    v2["required"] = json!([]);
    v2["examples"] = json!([{"due": 3}]);
    v2["x-eventsmith"]["upcast"] = json!({"custom": true});
    write_json(&repo.file("schema/events/task/created.v2.json"), &v2);
    let (code, report) = repo.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    let broken: Vec<&Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "window-field-broken")
        .collect();
    assert_eq!(broken.len(), 2, "{report:#}");
    for found in &broken {
        assert_eq!(found["severity"], "error");
        assert_eq!(found["file"], "schema/events/task/created.v2.json");
    }
    let messages: Vec<&str> = broken
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"`task.created` v2 turns `due` from a string into an integer, which window `daily_tasks` reads as its key (v1 has it as a string)"),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"`task.created` v2 drops `title`, which window `daily_tasks` reads for aggregate `titles` (v1 has it as a string)"),
        "{messages:#?}"
    );
}
