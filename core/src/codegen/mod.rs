//! Rust code generation: one engine behind `eventsmith generate`, the `generate!` macro and the
//! build.rs API. [`generate`] plans the types of every event version ([`types`]), writes them
//! with their checks ([`emit`]), the upcasters between versions ([`upcast`]) and the event sets
//! with their generated tests ([`events`]), and formats the result with prettyplease.

pub mod api;
pub mod deciders;
pub mod emit;
pub mod events;
pub mod names;
pub mod projections;
pub mod shape;
pub mod types;
pub mod upcast;

use crate::diagnostic::Diagnostic;
use crate::model::Project;
use std::path::PathBuf;

/// What the front-ends may choose. Everything else is decided by the schemas.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Emit the `#[cfg(test)]` tests (examples round-trip, upcasts give valid next versions).
    pub tests: bool,
    /// Format the source with prettyplease. The macro turns the source into tokens at once and
    /// skips it: the tokens are the same either way.
    pub format: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tests: true,
            format: true,
        }
    }
}

/// Generated code.
#[derive(Debug)]
pub struct Generated {
    /// The formatted source of the module tree, starting with the `@generated` line.
    pub source: String,
    /// Findings that did not stop generation (constraints that cannot be enforced).
    pub warnings: Vec<Diagnostic>,
    /// Every file the code was generated from (for rebuild tracking).
    pub inputs: Vec<PathBuf>,
    /// What the code offers the code written against it.
    pub api: api::Api,
}

/// Generates the Rust module tree of a loaded project: `types` (shared types), one module per
/// aggregate with `v1`, `v2`, … modules, latest-version aliases, the aggregate's event enum and
/// its upcasters, and `DomainEvent` at the root. Errors are upcast rules that cannot be
/// generated; each names its file and rule.
pub fn generate(project: &Project, settings: &Settings) -> Result<Generated, Vec<Diagnostic>> {
    let (source, warnings, api) = events::render(project, settings)?;
    let mut inputs: Vec<PathBuf> = project
        .store
        .ids()
        .map(|id| project.store.document(id).path().to_path_buf())
        .collect();
    inputs.push(project.root.join(crate::config::FILE_NAME));
    inputs.sort();
    inputs.dedup();
    Ok(Generated {
        source: format!("{}\n\n{source}", emit::HEADER),
        warnings,
        inputs,
        api,
    })
}

/// Loads the project at `dir` (the directory of `eventsmith.toml`) and generates its code: what
/// the CLI, the macro and the build.rs API all call. On failure, the findings rendered as text
/// (file, line, column, help) with the findings themselves.
pub fn generate_dir(
    dir: &std::path::Path,
    settings: &Settings,
) -> Result<Generated, (String, Vec<Diagnostic>)> {
    // Examples are not validated here: the generated tests check every one.
    let mut options = crate::LoadOptions::new(dir, Some(dir.to_path_buf()));
    options.check_examples = false;
    let loaded = crate::load(&crate::fs::RealFs, &options);
    let fail = |diagnostics: Vec<Diagnostic>| {
        (
            crate::report::human(&diagnostics, &loaded.sources, false),
            diagnostics,
        )
    };
    if loaded.has_errors() {
        let errors = loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        return Err(fail(errors));
    }
    let Some(project) = loaded.project.as_ref() else {
        return Err(fail(loaded.diagnostics.clone()));
    };
    generate(project, settings).map_err(fail)
}
