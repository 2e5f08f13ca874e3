//! What the `generate!` macro adds to a user crate's build: two crates over the same schema
//! project (tests/codegen/realworld, 66 event versions), one expanding the macro, one including
//! the file `eventsmith generate` wrote, each rebuilt after touching its source, in the same run
//! and the same target directory. Goal: the macro crate builds in under 1.1x the other's time.
//!
//! Run: `cargo bench -p eventsmith --bench macro_build` (builds with cargo, offline).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn user_crate(dir: &Path, name: &str, runtime: &Path, lib: &str) {
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\neventsmith = {{ path = {runtime:?} }}\n\n[workspace]\n"
        ),
    );
    write(&dir.join("src/lib.rs"), lib);
}

fn build(dir: &Path, target: &Path, lockfile: &Path) -> Duration {
    std::fs::copy(lockfile, dir.join("Cargo.lock")).unwrap();
    let start = Instant::now();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build in {}", dir.display());
    start.elapsed()
}

fn touch(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, text).unwrap();
}

fn main() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    let project = workspace.join("tests/codegen/realworld");
    let generated = eventsmith_core::commands::generate::code(&project, &Default::default())
        .map_err(|failed| failed.text)
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let target = temp.path().join("target");
    let lockfile = workspace.join("Cargo.lock");
    let runtime = workspace.join("runtime");
    let file = temp.path().join("generated/mod.rs");
    write(&file, &generated.source);
    let with_file = temp.path().join("with_file");
    let with_macro = temp.path().join("with_macro");
    user_crate(
        &with_file,
        "with_file",
        &runtime,
        &format!(
            "pub mod events {{\n    include!({:?});\n}}\n",
            file.display().to_string()
        ),
    );
    user_crate(
        &with_macro,
        "with_macro",
        &runtime,
        &format!(
            "pub mod events {{\n    eventsmith::generate!({:?});\n}}\n",
            project.display().to_string()
        ),
    );
    // Dependencies once, shared by both.
    build(&with_file, &target, &lockfile);
    build(&with_macro, &target, &lockfile);
    let mut file_times = Vec::new();
    let mut macro_times = Vec::new();
    for _ in 0..5 {
        touch(&with_file.join("src/lib.rs"));
        file_times.push(build(&with_file, &target, &lockfile));
        touch(&with_macro.join("src/lib.rs"));
        macro_times.push(build(&with_macro, &target, &lockfile));
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
    let (file_time, macro_time) = (best(&file_times), best(&macro_times));
    println!(
        "user crate rebuild over {} events: generate! {:>7.0} ms | included file {:>7.0} ms | ratio {:.3}x (goal < 1.1x)",
        generated.source.matches("pub fn decode_").count(),
        macro_time.as_secs_f64() * 1e3,
        file_time.as_secs_f64() * 1e3,
        macro_time.as_secs_f64() / file_time.as_secs_f64()
    );
}
