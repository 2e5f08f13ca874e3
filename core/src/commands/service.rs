//! `eventsmith service new`: a runnable service crate for the project, written or brought up to
//! date (generated files rewritten, the user's files kept), or checked for staleness.

use super::{Context, Outcome, Status, load_valid, stale_report, templates};
use crate::codegen::{self, Settings as CodegenSettings};
use crate::diagnostic::Failure;
use crate::io::paths::relative_path;
use crate::service::{self, Runtime, Settings};
use std::path::{Path, PathBuf};

/// What `eventsmith service new` was asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Args<'a> {
    /// The service directory (default: `[output] service`).
    pub dir: Option<&'a Path>,
    /// The crate and binary name (default: `[project] service`, else `[project] name`).
    pub name: Option<&'a str>,
    /// The `runtime/` of an eventsmith checkout to depend on by path.
    pub runtime_path: Option<&'a Path>,
    /// `--templates DIR`.
    pub templates: Option<&'a Path>,
    /// `--check`: write nothing, report stale files.
    pub check: bool,
}

/// Whether `name` can name a crate and its binary.
fn is_crate_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// This checkout's `runtime/`, when eventsmith was built from one that is still there.
fn checkout_runtime() -> Option<PathBuf> {
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    runtime
        .join("Cargo.toml")
        .is_file()
        .then(|| std::path::absolute(&runtime).unwrap_or(runtime))
}

/// Writes (or checks) the service crate for the project.
pub fn new(context: &Context, args: &Args<'_>) -> Result<Outcome, Failure> {
    let root = context.project_root()?;
    let templates = match templates(context, service::TEMPLATES, args.templates) {
        Ok(templates) => templates,
        Err(outcome) => return Ok(outcome),
    };
    let (project, sources) = match load_valid(&root) {
        Ok(valid) => valid,
        Err(outcome) => return Ok(outcome),
    };
    let generated = match codegen::generate(&project, &CodegenSettings::default()) {
        Ok(generated) => generated,
        Err(errors) => return Ok(Outcome::findings(Status::Findings, errors, sources)),
    };
    let mut diagnostics = generated.warnings.clone();
    let dir = match args.dir {
        Some(dir) => context.path(dir),
        None => root.join(&project.config.output.service),
    };
    let name = args
        .name
        .map(str::to_owned)
        .or_else(|| project.config.project.service.clone())
        .unwrap_or_else(|| project.config.project.name.clone());
    if !is_crate_name(&name) {
        return Err(
            Failure::new(format!("`{name}` cannot name a crate and its binary")).with_help(
                "use a letter, then letters, digits, `_` or `-` (like `shop-service`): pass --name",
            ),
        );
    }
    let runtime_dir = match args.runtime_path {
        Some(path) => {
            let path = context.path(path);
            if !path.join("Cargo.toml").is_file() {
                return Err(
                    Failure::new(format!("{} holds no Cargo.toml", path.display())).with_help(
                        "--runtime-path names the `runtime/` directory of an eventsmith checkout",
                    ),
                );
            }
            Some(path)
        }
        None => checkout_runtime(),
    };
    let lock = runtime_dir
        .as_ref()
        .and_then(|runtime| std::fs::read_to_string(runtime.join("../Cargo.lock")).ok());
    let settings = Settings {
        name: name.clone(),
        runtime: match &runtime_dir {
            Some(runtime) => Runtime::Path(relative_path(&dir, runtime)),
            None => Runtime::Version(env!("CARGO_PKG_VERSION").to_owned()),
        },
        standalone: service::standalone(&dir),
        project_dir: relative_path(&dir, &root),
        lock,
    };
    diagnostics.extend(service::omissions(&project, &generated.api));
    context.shown(&mut diagnostics, false);
    let files = match service::render(&project, &generated, &settings, &templates) {
        Ok(files) => files,
        Err(errors) => return Ok(Outcome::findings(Status::Failure, errors, sources)),
    };
    if args.check {
        let mut outcome = stale_report(
            context,
            &dir,
            &service::stale(&dir, &files),
            &format!(
                "run `eventsmith service new {}` and commit the result",
                dir.display()
            ),
        );
        outcome.diagnostics = diagnostics;
        outcome.sources = sources;
        return Ok(outcome);
    }
    let written = match service::write(&dir, &files) {
        Ok(written) => written,
        Err(errors) => return Ok(Outcome::findings(Status::Failure, errors, sources)),
    };
    let mut outcome = Outcome::findings(Status::Success, diagnostics, sources);
    if !context.quiet() {
        for path in &written.created {
            outcome.say(format!("created {}", dir.join(path).display()));
        }
        for path in &written.updated {
            outcome.say(format!("updated {}", dir.join(path).display()));
        }
        if context.verbose() {
            for path in &written.kept {
                outcome.say(format!("kept {} (yours)", dir.join(path).display()));
            }
        }
        outcome.say(format!(
            "service `{name}` in {}: {} created, {} updated, {} unchanged, {} of yours kept",
            dir.display(),
            written.created.len(),
            written.updated.len(),
            written.unchanged.len(),
            written.kept.len()
        ));
        outcome.say(format!("next: cd {} && cargo run -- serve", dir.display()));
    }
    Ok(outcome)
}
