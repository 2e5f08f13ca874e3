//! `eventsmith generate` (the module tree written to a directory), and the generation the
//! `generate!` macro and the build.rs API run: one engine, three front-ends.

use super::{Context, Outcome, Status, load_project, load_valid};
use crate::codegen;
pub use crate::codegen::emit::HEADER;
pub use crate::codegen::{Generated, Settings};
use crate::diagnostic::{Diagnostic, Failure};
use crate::io::output::{self, OutputFile, Owner, Signature};
use crate::report;
use crate::text::source::SourceMap;
use std::path::{Path, PathBuf};

/// The file `generate` writes in its output directory.
pub const MODULE_FILE: &str = "mod.rs";

/// Generates the project's code into `out/mod.rs` (default: `[output] rust`), with or without
/// the generated tests. The file is written only over one eventsmith generated.
pub fn generate(context: &Context, out: Option<&Path>, tests: bool) -> Result<Outcome, Failure> {
    let root = context.project_root()?;
    let (project, sources) = match load_valid(&root) {
        Ok(valid) => valid,
        Err(outcome) => return Ok(outcome),
    };
    let settings = Settings {
        tests,
        ..Settings::default()
    };
    let generated = match codegen::generate(&project, &settings) {
        Ok(generated) => generated,
        Err(errors) => return Ok(Outcome::findings(Status::Findings, errors, sources)),
    };
    let dir = match out {
        Some(dir) => context.path(dir),
        None => root.join(&project.config.output.rust),
    };
    let mut diagnostics = generated.warnings.clone();
    context.shown(&mut diagnostics, false);
    let file = OutputFile {
        path: PathBuf::from(MODULE_FILE),
        contents: generated.source,
        owner: Owner::Generated,
    };
    if let Err(errors) = output::write(&dir, &[file], &Signature::service()) {
        diagnostics.extend(errors);
        return Ok(Outcome::findings(Status::Failure, diagnostics, sources));
    }
    let mut outcome = Outcome::findings(Status::Success, diagnostics, sources);
    if !context.quiet() {
        let versions: usize = project.events.values().map(|e| e.versions.len()).sum();
        outcome.say(format!(
            "wrote {} ({} events, {versions} versions)",
            dir.join(MODULE_FILE).display(),
            project.events.len()
        ));
    }
    Ok(outcome)
}

/// Why [`code`] generated nothing: every finding, and the same rendered as text (file, line,
/// column, help) for a compile error or a build script's output.
#[derive(Debug)]
pub struct NotGenerated {
    /// The findings as text.
    pub text: String,
    /// The findings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads the project at `dir` (the directory of `eventsmith.toml`) and generates its code: what
/// the macro and the build.rs API call, through the same loading as `eventsmith generate`.
/// Examples are not validated here: the generated tests check every one.
pub fn code(dir: &Path, settings: &Settings) -> Result<Generated, NotGenerated> {
    let fail = |diagnostics: Vec<Diagnostic>, sources: &SourceMap| NotGenerated {
        text: report::human(&diagnostics, sources, false),
        diagnostics,
    };
    let (project, sources) =
        load_project(dir, dir).map_err(|not| fail(not.errors, &not.sources))?;
    codegen::generate(&project, settings).map_err(|errors| fail(errors, &sources))
}

/// Generates the code of a loaded project (what [`code`] does after loading).
pub fn project(
    project: &crate::project::model::Project,
    settings: &Settings,
) -> Result<Generated, Vec<Diagnostic>> {
    codegen::generate(project, settings)
}

/// Writes generated code to `file` through the one writer (only over a file eventsmith wrote;
/// unchanged output is left untouched, so cargo does not rebuild for nothing).
pub fn write_to(file: &Path, generated: &Generated) -> Result<(), Failure> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file.file_name().map(PathBuf::from).unwrap_or_default();
    let output = OutputFile {
        path: name,
        contents: generated.source.clone(),
        owner: Owner::Generated,
    };
    output::write(dir, &[output], &Signature::service())
        .map(drop)
        .map_err(|errors| {
            let first = errors.into_iter().next();
            Failure {
                message: first.as_ref().map_or_else(
                    || format!("cannot write {}", file.display()),
                    |d| d.message.clone(),
                ),
                help: first.and_then(|d| d.help),
            }
        })
}
