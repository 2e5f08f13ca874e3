//! The build.rs API: generate a schema project's Rust code into `OUT_DIR`.
//!
//! ```text
//! // build.rs
//! fn main() {
//!     eventsmith_core::build::Builder::new("schema-project-dir").compile();
//! }
//! ```
//! ```text
//! // src/events.rs
//! include!(concat!(env!("OUT_DIR"), "/eventsmith.rs"));
//! ```

use crate::codegen::{Generated, Settings};
use crate::commands::generate::{code, write_to};
use std::path::{Path, PathBuf};

/// Settings for one generation from a build script.
#[derive(Debug, Clone)]
pub struct Builder {
    project: PathBuf,
    file_name: String,
    settings: Settings,
}

impl Builder {
    /// Generates the project whose `eventsmith.toml` is in `project` (relative paths are relative
    /// to the crate's manifest directory, as build scripts run there).
    pub fn new(project: impl AsRef<Path>) -> Self {
        Self {
            project: project.as_ref().to_path_buf(),
            file_name: "eventsmith.rs".to_owned(),
            settings: Settings::default(),
        }
    }

    /// The file written in `OUT_DIR` (default `eventsmith.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// Whether to emit the generated `#[cfg(test)]` tests (default yes).
    pub fn tests(mut self, tests: bool) -> Self {
        self.settings.tests = tests;
        self
    }

    /// Generates into `out_dir`, returning the file written and what was generated. The file
    /// is written only over one eventsmith generated, and only when its contents change (so
    /// cargo does not recompile for nothing).
    pub fn write_to(&self, out_dir: &Path) -> Result<(PathBuf, Generated), String> {
        let generated = code(&self.project, &self.settings).map_err(|failed| failed.text)?;
        let file = out_dir.join(&self.file_name);
        write_to(&file, &generated).map_err(|failure| failure.render())?;
        Ok((file, generated))
    }

    /// Generates into `$OUT_DIR`, tells cargo to rerun when a schema changes, and on failure
    /// prints every finding and exits with status 1 (the build stops with the findings shown).
    pub fn compile(&self) -> PathBuf {
        let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from);
        let Some(out_dir) = out_dir else {
            eprintln!("eventsmith: OUT_DIR is not set; call `compile` from a build script");
            std::process::exit(1);
        };
        println!("cargo:rerun-if-changed={}", self.project.display());
        match self.write_to(&out_dir) {
            Ok((file, generated)) => {
                for input in &generated.inputs {
                    println!("cargo:rerun-if-changed={}", input.display());
                }
                for warning in &generated.warnings {
                    println!("cargo:warning={}", crate::report::one_line(warning));
                }
                file
            }
            Err(text) => {
                eprintln!("{text}");
                std::process::exit(1);
            }
        }
    }
}
