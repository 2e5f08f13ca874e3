//! `eventsmith catalog`: the project's catalog as Markdown, an EventCatalog directory or an
//! AsyncAPI document.

use super::{Context, Outcome, Status, load_valid, stale_report, templates};
use crate::catalog::{self, Format};
use crate::diagnostic::Failure;
use crate::io::output;
use std::path::Path;

/// What `eventsmith catalog` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Markdown pages with mermaid flows, for a repository.
    Markdown,
    /// An EventCatalog content directory.
    EventCatalog,
    /// One AsyncAPI 3.0.0 document (`.json` or `.yaml`).
    AsyncApi,
}

/// What `eventsmith catalog` was asked.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    /// `--out`: a directory, or for AsyncAPI a file.
    pub out: Option<&'a Path>,
    /// `--format`.
    pub kind: Kind,
    /// `--templates DIR`.
    pub templates: Option<&'a Path>,
    /// `--check`: write nothing, report stale files.
    pub check: bool,
}

/// Renders the catalog and writes it (or, with `check`, reports what is stale).
pub fn catalog(context: &Context, args: &Args<'_>) -> Result<Outcome, Failure> {
    let root = context.project_root()?;
    let templates = match templates(context, catalog::TEMPLATES, args.templates) {
        Ok(templates) => templates,
        Err(outcome) => return Ok(outcome),
    };
    let mut outcome = Outcome::default();
    let format = match (args.kind, args.out) {
        (Kind::Markdown, _) => Format::Markdown,
        (Kind::EventCatalog, Some(_)) => Format::EventCatalog,
        (Kind::AsyncApi, Some(out)) => match catalog::asyncapi_yaml(out) {
            Some(yaml) => {
                if args.templates.is_some() && !context.quiet() {
                    outcome
                        .stderr
                        .push("warning: --templates has no effect on the AsyncAPI document".into());
                }
                Format::AsyncApi { yaml }
            }
            None => {
                return Err(Failure::new(format!(
                    "{} names neither a .json nor a .yaml file",
                    out.display()
                ))
                .with_help(
                    "the AsyncAPI document is JSON or YAML by its extension: --out asyncapi.yaml",
                ));
            }
        },
        (Kind::EventCatalog, None) => {
            return Err(Failure::new("--format eventcatalog needs --out DIR").with_help(
                "name your EventCatalog's directory: eventsmith catalog --format eventcatalog --out ../catalog",
            ));
        }
        (Kind::AsyncApi, None) => {
            return Err(Failure::new("--format asyncapi needs --out FILE")
                .with_help("eventsmith catalog --format asyncapi --out asyncapi.yaml"));
        }
    };
    // Examples are left to `validate`: the catalog shows them as written.
    let (project, sources) = match load_valid(&root) {
        Ok(valid) => valid,
        Err(outcome) => return Ok(outcome),
    };
    let out = match args.out {
        Some(out) => context.path(out),
        None => root.join(&project.config.output.catalog),
    };
    let target = match catalog::render(&project, format, &templates, &out) {
        Ok(target) => target,
        Err(errors) => return Ok(Outcome::findings(Status::Failure, errors, sources)),
    };
    let dir = &target.dir;
    if args.check {
        let mut stale = output::stale(dir, &target.files);
        stale.extend(output::orphans(
            dir,
            target.roots,
            &target.files,
            &target.signature,
        ));
        return Ok(stale_report(
            context,
            dir,
            &stale,
            "run `eventsmith catalog` with the same options and commit the result",
        ));
    }
    let written = match output::write(dir, &target.files, &target.signature) {
        Ok(written) => written,
        Err(errors) => return Ok(Outcome::findings(Status::Failure, errors, sources)),
    };
    let removed = match output::prune(dir, target.roots, &target.files, &target.signature) {
        Ok(removed) => removed,
        Err(error) => return Ok(Outcome::findings(Status::Failure, vec![error], sources)),
    };
    if !context.quiet() {
        if context.verbose() {
            for path in written.created.iter().chain(&written.updated) {
                outcome.say(format!("wrote {}", dir.join(path).display()));
            }
            for path in &removed {
                outcome.say(format!("removed {}", dir.join(path).display()));
            }
        }
        outcome.say(format!(
            "catalog in {}: {} files ({} created, {} updated, {} unchanged, {} removed)",
            out.display(),
            target.files.len(),
            written.created.len(),
            written.updated.len(),
            written.unchanged.len(),
            removed.len()
        ));
    }
    Ok(outcome)
}
