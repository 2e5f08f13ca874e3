//! `eventsmith catalog`: the project's events, commands, aggregates, projections, sagas and
//! windows as documentation, from the schemas alone: Markdown pages with changelogs computed by
//! the compatibility engine and mermaid flows, an EventCatalog directory, or an AsyncAPI 3.0
//! document.
//! Every file is generated and signed; rerunning rewrites them and removes those of items that
//! are gone, and never touches files it did not write.

pub mod asyncapi;
pub mod changelog;
pub mod eventcatalog;
pub mod facts;
pub mod fields;
pub mod markdown;
pub mod saga_page;
pub mod sagas;
pub mod text;
pub mod window_page;
pub mod windows;

use crate::diagnostic::Diagnostic;
use crate::io::output::{OutputFile, Owner, Signature};
use crate::project::model::Project;
use crate::templates::Family;
use std::path::{Path, PathBuf};

pub use crate::templates::Templates;
pub use facts::gather;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown pages for a repository (GitHub renders them, mermaid included).
    Markdown,
    /// An EventCatalog (eventcatalog.dev) content directory.
    EventCatalog,
    /// One AsyncAPI 3.0.0 document, JSON or YAML.
    AsyncApi {
        /// YAML rather than JSON.
        yaml: bool,
    },
}

/// The catalog's templates, embedded from `templates/catalog/`.
pub const TEMPLATES: Family = Family {
    dir: "catalog",
    rule: crate::diagnostic::Rule::CatalogTemplate,
    data: "docs/catalog.md#templates",
    embedded: &[
        (
            "index.md.hbs",
            include_str!("../../templates/catalog/index.md.hbs"),
        ),
        (
            "event.md.hbs",
            include_str!("../../templates/catalog/event.md.hbs"),
        ),
        (
            "aggregate.md.hbs",
            include_str!("../../templates/catalog/aggregate.md.hbs"),
        ),
        (
            "command.md.hbs",
            include_str!("../../templates/catalog/command.md.hbs"),
        ),
        (
            "projection.md.hbs",
            include_str!("../../templates/catalog/projection.md.hbs"),
        ),
        (
            "saga.md.hbs",
            include_str!("../../templates/catalog/saga.md.hbs"),
        ),
        (
            "window.md.hbs",
            include_str!("../../templates/catalog/window.md.hbs"),
        ),
        (
            "eventcatalog-event.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-event.mdx.hbs"),
        ),
        (
            "eventcatalog-changelog.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-changelog.mdx.hbs"),
        ),
        (
            "eventcatalog-command.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-command.mdx.hbs"),
        ),
        (
            "eventcatalog-service.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-service.mdx.hbs"),
        ),
        (
            "eventcatalog-saga.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-saga.mdx.hbs"),
        ),
        (
            "eventcatalog-window.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-window.mdx.hbs"),
        ),
        (
            "eventcatalog-team.mdx.hbs",
            include_str!("../../templates/catalog/eventcatalog-team.mdx.hbs"),
        ),
    ],
};

/// Where a catalog goes: a directory, or for AsyncAPI the document's file.
#[derive(Debug, Clone)]
pub struct Target {
    /// The directory files are written under.
    pub dir: PathBuf,
    /// The files, relative to `dir`.
    pub files: Vec<OutputFile>,
    /// The parts of `dir` the catalog owns: generated files there that it no longer writes
    /// are removed.
    pub roots: &'static [&'static str],
    /// How the files are signed: only files with this signature are overwritten or removed.
    pub signature: Signature,
}

/// Renders the catalog of `project` in `format` to `out` (a directory, or for AsyncAPI a file
/// ending in `.json`, `.yaml` or `.yml`).
pub fn render(
    project: &Project,
    format: Format,
    templates: &Templates,
    out: &Path,
) -> Result<Target, Vec<Diagnostic>> {
    let facts = gather(project);
    let signature = Signature::catalog(&project.config.project.name);
    let signed = format!("{}: do not edit.", signature.text);
    let generated = |files: Vec<(String, String)>| -> Vec<OutputFile> {
        files
            .into_iter()
            .map(|(path, contents)| OutputFile {
                path: PathBuf::from(path),
                contents,
                owner: Owner::Generated,
            })
            .collect()
    };
    match format {
        Format::Markdown => Ok(Target {
            dir: out.to_owned(),
            files: generated(markdown::pages(
                &facts,
                templates,
                out,
                &project.root,
                &signed,
            )?),
            roots: markdown::ROOTS,
            signature,
        }),
        Format::EventCatalog => Ok(Target {
            dir: out.to_owned(),
            files: generated(eventcatalog::files(&facts, templates, &signed)?),
            roots: eventcatalog::ROOTS,
            signature,
        }),
        Format::AsyncApi { yaml } => {
            let document = asyncapi::document(project, &facts, &signed);
            let text = asyncapi::to_text(&document, yaml).map_err(|e| vec![e])?;
            let name = out.file_name().map(PathBuf::from).unwrap_or_default();
            Ok(Target {
                dir: out.parent().map(Path::to_owned).unwrap_or_default(),
                files: generated(vec![(name.to_string_lossy().into_owned(), text)]),
                roots: &[],
                signature,
            })
        }
    }
}

/// The AsyncAPI flavour a file name asks for: `Some(true)` for YAML, `Some(false)` for JSON.
pub fn asyncapi_yaml(out: &Path) -> Option<bool> {
    match out.extension()?.to_str()? {
        "yaml" | "yml" => Some(true),
        "json" => Some(false),
        _ => None,
    }
}
