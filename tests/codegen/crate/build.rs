//! Generates every project under tests/codegen/fixtures, and tests/codegen/realworld, with the
//! build.rs API, plus `all.rs` declaring one module per project.

use eventsmith_core::build::Builder;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let fixtures = manifest.join("../fixtures");
    let mut projects: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("tests/codegen/fixtures")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.join("eventsmith.toml").is_file())
        .collect();
    projects.sort();
    projects.push(manifest.join("../realworld"));
    println!("cargo:rerun-if-changed={}", fixtures.display());
    let mut all = String::new();
    for project in &projects {
        let module = module_name(project);
        let file = format!("{module}.rs");
        Builder::new(project).file_name(&file).compile();
        all.push_str(&format!(
            "pub mod {module} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{file}\"));\n}}\n"
        ));
    }
    std::fs::write(out.join("all.rs"), all).expect("OUT_DIR is writable");
}

fn module_name(project: &Path) -> String {
    let name = project
        .file_name()
        .expect("a project directory")
        .to_string_lossy();
    name.replace('-', "_")
}
