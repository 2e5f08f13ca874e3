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
    assert!(stdout.contains("(10 events, 11 versions)"), "{stdout}");
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

#[test]
fn generate_refuses_to_overwrite_a_hand_written_module_and_leaves_it_as_it_was() {
    let out = tempfile::tempdir().unwrap();
    let mine = "//! My own module, not generated.\npub fn mine() {}\n";
    std::fs::write(out.path().join("mod.rs"), mine).unwrap();
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(repo_root())
        .args(["generate", "--out"])
        .arg(out.path()));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("error[owned-file]") && stdout.contains("is not marked @generated"),
        "{stdout}"
    );
    assert!(stdout.contains("move it away"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("mod.rs")).unwrap(),
        mine
    );
    // A file eventsmith wrote is rewritten, and a second run leaves it unchanged.
    let generated = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let (code, stdout, stderr) = run(eventsmith()
            .current_dir(repo_root())
            .args(["generate", "--out"])
            .arg(generated.path()));
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
}

#[test]
fn quiet_means_errors_only_in_every_command() {
    // `diff` between two versions with a compatible change prints notes and a verdict line.
    let (code, stdout, stderr) = run(eventsmith().current_dir(repo_root()).args([
        "--quiet",
        "diff",
        "schema/events/order/placed.v1.json",
        "schema/events/order/placed.v2.json",
        "--level",
        "none",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        !stdout.contains("warning") && !stdout.contains("note"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(repo_root())
        .args(["--quiet", "validate"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "", "{stdout}");
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(eventsmith()
        .current_dir(repo_root())
        .args(["--quiet", "generate", "--out"])
        .arg(out.path()));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(format!("{stdout}{stderr}"), "");
}
