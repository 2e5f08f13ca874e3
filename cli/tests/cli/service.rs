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
