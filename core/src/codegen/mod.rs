//! Rust code generation: one engine behind `eventsmith generate`, the `generate!` macro and the
//! build.rs API. [`generate`] names every event version ([`plan`]), plans the types ([`types`]), writes them
//! with their checks ([`emit`]), the upcasters between versions ([`upcast`]) and the event sets
//! with their generated tests ([`events`]), and formats the result with prettyplease.

pub mod api;
pub mod deciders;
pub mod emit;
pub mod events;
pub mod parallel;
pub mod plan;
pub use crate::project::names;
pub mod projections;
pub mod sagas;
pub mod shape;
pub mod types;
pub mod upcast;
pub mod windows;

use crate::diagnostic::Diagnostic;
use crate::project::model::Project;
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
    inputs.push(project.root.join(crate::project::config::FILE_NAME));
    inputs.sort();
    inputs.dedup();
    Ok(Generated {
        source: format!("{}\n\n{source}", emit::HEADER),
        warnings,
        inputs,
        api,
    })
}
