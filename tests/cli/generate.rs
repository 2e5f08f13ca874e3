//! `eventsmith generate`: writes the module tree the macro and the build.rs API also produce.

use super::{eventsmith, repo_root, run};

#[test]
fn generate_writes_the_example_module_tree() {
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(repo_root())
        .args(["generate", "--out"])
        .arg(out.path().join("events")));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("(7 events, 8 versions)"), "{stdout}");
    let written = std::fs::read_to_string(out.path().join("events/mod.rs")).unwrap();
    // The same bytes as the checked-in file the runtime compiles and the macro test compares.
    let committed =
        std::fs::read_to_string(repo_root().join("generated-example/src/generated/mod.rs"))
            .unwrap();
    assert!(
        written == committed,
        "generated-example/src/generated/mod.rs differs from `eventsmith generate`"
    );
    assert!(written.starts_with("// @generated"));
}

#[test]
fn generate_defaults_to_the_configured_directory_and_can_leave_tests_out() {
    let project = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(eventsmith().arg("init").arg(project.path()));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(project.path())
        .args(["generate", "--no-tests"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let written = std::fs::read_to_string(project.path().join("src/events/mod.rs")).unwrap();
    assert!(written.contains("pub enum DomainEvent"), "{written}");
    assert!(!written.contains("#[cfg(test)]"), "{written}");
}

#[test]
fn generate_reports_project_errors_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(eventsmith()
        .arg("--project")
        .arg(repo_root().join("tests/fixtures/invalid/three-broken-files"))
        .args(["generate", "--out"])
        .arg(out.path()));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("3 errors"), "{stdout}");
    assert!(!out.path().join("mod.rs").exists());
}
