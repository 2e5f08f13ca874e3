//! `eventsmith init` (a new project) and `eventsmith new` (a new schema file): files that
//! validate as written, never written over anything that exists.

use super::{Context, Outcome, Status};
use crate::diagnostic::Failure;
use crate::io::output::{self, OutputFile, Owner, Signature};
use crate::project::config::{Config, FILE_NAME};
pub use crate::scaffold::NewItem;
use crate::scaffold::{self, PlannedFile};
use crate::text::source::SourceFile;
use std::path::Path;

/// Creates a project in `dir` (default: the working directory) named `name` (default: the
/// directory's name).
pub fn init(context: &Context, dir: Option<&Path>, name: Option<&str>) -> Result<Outcome, Failure> {
    let dir = context.path(dir.unwrap_or(Path::new(".")));
    if dir.join(FILE_NAME).exists() {
        return Err(Failure::new(format!(
            "{} already holds an eventsmith project",
            dir.display()
        ))
        .with_help("eventsmith never overwrites a project; choose another directory"));
    }
    let name = name.map_or_else(|| scaffold::project_name_for(&dir), str::to_owned);
    let mut outcome = create(context, &scaffold::init(&dir, &name))?;
    if !context.quiet() {
        outcome.say(format!("created project `{name}` in {}", dir.display()));
        outcome.say(format!("next: cd {} && eventsmith validate", dir.display()));
    }
    Ok(outcome)
}

/// Adds an event, command, aggregate, projection or event version to the project.
pub fn new(context: &Context, item: &NewItem) -> Result<Outcome, Failure> {
    let root = context.project_root()?;
    let config_path = root.join(FILE_NAME);
    let text = std::fs::read_to_string(&config_path)
        .map_err(|err| Failure::new(format!("cannot read {}: {err}", config_path.display())))?;
    let config = Config::parse(&SourceFile::new(&config_path, text)).map_err(|d| Failure {
        message: format!("{}: {}", d.location(), d.message),
        help: d.help,
    })?;
    let files = scaffold::new_item(&root, &config, item)?;
    let mut outcome = create(context, &files)?;
    if !context.quiet() {
        outcome.say(if let NewItem::Version { .. } = item {
            "next: describe the change in `x-eventsmith.upcast` (rules or \"custom\": true), then run `eventsmith validate`"
        } else {
            "next: fill in the descriptions, properties and examples, then run `eventsmith validate`"
        });
    }
    Ok(outcome)
}

/// Writes new files through the one writer; refuses, before writing anything, if any exists.
fn create(context: &Context, files: &[PlannedFile]) -> Result<Outcome, Failure> {
    if let Some(existing) = files.iter().find(|f| f.path.exists()) {
        return Err(
            Failure::new(format!("{} already exists", existing.path.display())).with_help(
                "eventsmith never overwrites files; move it away or choose another directory",
            ),
        );
    }
    let outputs: Vec<OutputFile> = files
        .iter()
        .map(|file| OutputFile {
            path: file.path.clone(),
            contents: file.contents.clone(),
            owner: Owner::User,
        })
        .collect();
    // The paths are absolute (or relative to the working directory): joined to nothing.
    match output::write(Path::new(""), &outputs, &Signature::service()) {
        Ok(_) => {}
        Err(errors) => {
            return Ok(Outcome::findings(
                Status::Failure,
                errors,
                Default::default(),
            ));
        }
    }
    let mut outcome = Outcome::default();
    if !context.quiet() {
        for file in files {
            outcome.say(format!("created {}", file.path.display()));
        }
    }
    Ok(outcome)
}
