//! `eventsmith service new`: the example service is what it generates (CI's freshness check),
//! regeneration rewrites `@generated` files and never touches the user's, and `--check` finds
//! stale files.

use super::{eventsmith, repo_root, run};
use std::path::Path;

/// The files eventsmith owns in a service.
const GENERATED: &[&str] = &[
    "README.md",
    "src/main.rs",
    "src/generated/mod.rs",
    "tests/service.rs",
];

#[test]
fn the_example_service_is_what_service_new_generates() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("shop");
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(repo_root())
        .args(["service", "new"])
        .arg(&dir)
        .args(["--name", "shop"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let example = repo_root().join("generated-example");
    for file in GENERATED {
        let fresh = std::fs::read_to_string(dir.join(file)).unwrap();
        let committed = std::fs::read_to_string(example.join(file)).unwrap();
        assert!(
            fresh == committed,
            "generated-example/{file} is stale: run `cargo run --bin eventsmith -- service new` and commit it"
        );
        assert!(
            fresh.lines().next().unwrap().contains("@generated"),
            "{file}"
        );
    }
    // Outside any workspace, the service is a workspace of its own, with a lock file to build
    // offline from, and the runtime by path from this checkout.
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\n[workspace]"), "{manifest}");
    assert!(manifest.contains("eventsmith = { path = "), "{manifest}");
    assert!(dir.join("Cargo.lock").is_file());
    // In the repository, the example joins the workspace instead.
    let example_manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
    assert!(!example_manifest.contains("[workspace]"));
    // The same check, in place.
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(repo_root())
        .args(["service", "new", "--check"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

fn new_project(root: &Path) {
    let (code, _, stderr) = run(eventsmith().arg("init").arg(root).args(["--name", "tasks"]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn regeneration_rewrites_generated_files_and_keeps_the_users() {
    let root = tempfile::tempdir().unwrap();
    new_project(root.path());
    let service = root.path().join("svc");
    let new = || {
        run(eventsmith()
            .current_dir(root.path())
            .args(["service", "new", "svc", "--runtime-path"])
            .arg(repo_root().join("runtime")))
    };
    let (code, stdout, stderr) = new();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("service `tasks`"), "{stdout}");
    let rules = service.join("src/domain/task.rs");
    let defaults = std::fs::read_to_string(&rules).unwrap();
    assert!(defaults.contains("impl TaskRules for Rules"), "{defaults}");
    assert!(
        defaults.contains("eventsmith::defaults::emit"),
        "{defaults}"
    );
    let manifest = std::fs::read_to_string(service.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("eventsmith = { path = \""), "{manifest}");

    // The user's rules and manifest stay; a generated file edited by hand is restored.
    std::fs::write(&rules, "// my rules\n").unwrap();
    std::fs::write(service.join("Cargo.toml"), "# mine\n").unwrap();
    let main = service.join("src/main.rs");
    let generated_main = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{generated_main}\n// an edit\n")).unwrap();
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(root.path())
        .args(["service", "new", "svc", "--check"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("stale:") && stdout.contains("main.rs"),
        "{stdout}"
    );
    assert!(stderr.contains("out of date"), "{stderr}");
    let (code, stdout, stderr) = new();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("updated") && stdout.contains("main.rs"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), "// my rules\n");
    assert_eq!(
        std::fs::read_to_string(service.join("Cargo.toml")).unwrap(),
        "# mine\n"
    );
    assert_eq!(std::fs::read_to_string(&main).unwrap(), generated_main);

    // A file of the user's where a generated one goes is never overwritten.
    std::fs::write(&main, "fn main() {}\n").unwrap();
    let (code, stdout, stderr) = new();
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("not marked @generated"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&main).unwrap(), "fn main() {}\n");
}

#[test]
fn bad_names_templates_and_runtime_paths_are_usage_errors() {
    let root = tempfile::tempdir().unwrap();
    new_project(root.path());
    let (code, _, stderr) = run(eventsmith()
        .current_dir(root.path())
        .args(["service", "new", "svc", "--name", "9 lives"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot name a crate"), "{stderr}");
    let (code, _, stderr) = run(eventsmith().current_dir(root.path()).args([
        "service",
        "new",
        "svc",
        "--runtime-path",
        "nowhere",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("holds no Cargo.toml"), "{stderr}");
    // Templates that do not parse, or do not render to Rust, are reported; nothing is written.
    let templates = root.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    for (template, broken, message) in [
        ("main.rs.hbs", "fn main() { {{#if}} }", "does not parse"),
        (
            "tests.rs.hbs",
            "fn broken( {{name}}",
            "does not render to Rust",
        ),
    ] {
        std::fs::write(templates.join(template), broken).unwrap();
        let (code, stdout, stderr) = run(eventsmith().current_dir(root.path()).args([
            "service",
            "new",
            "svc",
            "--templates",
            "templates",
        ]));
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(
            stdout.contains(template) && stdout.contains(message),
            "{stdout}"
        );
        assert!(!root.path().join("svc").exists(), "nothing is written");
        std::fs::remove_file(templates.join(template)).unwrap();
    }
}

/// tests/service/edge's `task.scheduled` v2 converts ten fields, each with a default; CI builds,
/// lints and tests that service outside the workspace (`.ci/run`), so the defaults compile and
/// run over v1's examples there. Here: the file, its wiring, and that it stays the user's.
#[test]
fn convert_rules_get_a_conversions_file_of_the_users() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("edge");
    let new = || {
        run(eventsmith()
            .arg("--project")
            .arg(repo_root().join("tests/service/edge"))
            .args(["service", "new"])
            .arg(&dir)
            .arg("--quiet"))
    };
    let (code, stdout, stderr) = new();
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = dir.join("src/conversions/task_v2.rs");
    let conversions = std::fs::read_to_string(&file).unwrap();
    assert!(
        conversions.contains("impl Conversions for Upcasters {"),
        "{conversions}"
    );
    assert!(
        conversions.contains("use crate::generated::task::v2::{Conversions, TaskScheduledKind};"),
        "{conversions}"
    );
    for (method, body) in [
        (
            "unix_to_rfc3339",
            "::eventsmith::defaults::unix_seconds_to_date_time(value)",
        ),
        (
            "hours_as_number",
            "::eventsmith::defaults::to_number(value)",
        ),
        ("priority_as_text", "::eventsmith::defaults::to_text(value)"),
        ("parse_points", "::eventsmith::defaults::parse(value)"),
        (
            "label_texts",
            "value.into_iter().map(::eventsmith::defaults::to_text).collect()",
        ),
        ("kind_of", "::eventsmith::defaults::reread(value)"),
        ("same_owner", "Ok(value)"),
        (
            "note_as_json",
            "value.map(::eventsmith::defaults::to_json).transpose()",
        ),
        (
            "due_as_rfc3339",
            "value.map(::eventsmith::defaults::unix_seconds_to_date_time).transpose()",
        ),
        ("count_texts", "::eventsmith::defaults::to_text(value)"),
    ] {
        let at = conversions
            .find(&format!("fn {method}("))
            .unwrap_or_else(|| panic!("no `{method}` in {conversions}"));
        let end = conversions[at..].find("\n    }\n").unwrap() + at;
        assert!(
            conversions[at..end].contains(body),
            "`{method}` does not call `{body}`: {}",
            &conversions[at..end]
        );
    }
    assert!(!conversions.contains("compile_error!("), "{conversions}");
    let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    assert!(
        main.contains("mod conversions {\n    pub mod task_v2;\n}"),
        "{main}"
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains(
            "| `src/conversions/task_v2.rs` | `task::v2::Conversions` | `unix_to_rfc3339`, "
        ),
        "{readme}"
    );

    // The file is the user's: kept as they left it, and written again only when missing.
    std::fs::write(&file, "// my conversions\n").unwrap();
    let (code, stdout, stderr) = new();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "// my conversions\n"
    );
    std::fs::remove_file(&file).unwrap();
    let (code, stdout, stderr) = new();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), conversions);
}

/// A conversion no default fits starts as a `compile_error!` saying what to write.
#[test]
fn a_conversion_without_a_default_does_not_compile_until_written() {
    let root = tempfile::tempdir().unwrap();
    new_project(root.path());
    let events = root.path().join("schema/events/task");
    let version = |properties: &str, required: &str, upcast: &str| {
        format!(
            r#"{{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "TaskMoved",
  "description": "A task moved to another board.",
  "type": "object",
  "properties": {properties},
  "required": {required},
  "additionalProperties": false,
  "x-eventsmith": {{"owners": ["my-team"]{upcast}}}
}}"#
        )
    };
    let board = r#""board": {"type": "integer", "description": "The board."}"#;
    std::fs::write(
        events.join("moved.v1.json"),
        version(&format!("{{{board}}}"), "[]", ""),
    )
    .unwrap();
    std::fs::write(
        events.join("moved.v2.json"),
        version(
            &format!("{{{board}}}"),
            r#"["board"]"#,
            r#", "upcast": {"rules": [{"convert": {"field": "board", "using": "board_or_default"}}]}"#,
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(root.path())
        .args(["service", "new", "svc", "--quiet"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let conversions =
        std::fs::read_to_string(root.path().join("svc/src/conversions/task_v2.rs")).unwrap();
    assert!(
        conversions.contains(
            "fn board_or_default(value: Option<i64>) -> Result<i64, ::eventsmith::UpcastError> {"
        ),
        "{conversions}"
    );
    assert!(
        conversions.contains(
            "compile_error!(\n            \"write `task::v2::Conversions::board_or_default`: replace this line with code that turns `value: Option<i64>` into `Ok(…)` with the `i64` it becomes (`None` too)"
        ),
        "{conversions}"
    );
}
