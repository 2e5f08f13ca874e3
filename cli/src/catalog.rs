//! `eventsmith catalog`: the project's catalog as Markdown, an EventCatalog directory or an
//! AsyncAPI document.

use crate::{Cli, Fatal, current_dir, emit, load_valid, project_root, report_stale, templates};
use clap::ValueEnum;
use eventsmith_core::catalog::{self, Format as CatalogFormat};
use eventsmith_core::output;
use eventsmith_core::report::Format;
use std::path::Path;
use std::process::ExitCode;

/// `--format` of `eventsmith catalog`.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Markdown pages with mermaid flows, for a repository.
    Markdown,
    /// An EventCatalog content directory.
    Eventcatalog,
    /// One AsyncAPI 3.0.0 document (`.json` or `.yaml`).
    Asyncapi,
}

/// What `eventsmith catalog` was asked.
pub struct Args<'a> {
    pub out: Option<&'a Path>,
    pub format: FormatArg,
    pub templates: Option<&'a Path>,
    pub check: bool,
}

pub fn run(cli: &Cli, args: &Args<'_>) -> Result<ExitCode, Fatal> {
    let root = project_root(cli)?;
    let cwd = current_dir()?;
    let Some(templates) = templates(cli, catalog::TEMPLATES, args.templates.map(|d| cwd.join(d)))
    else {
        return Ok(ExitCode::from(2));
    };
    let format = match (args.format, args.out) {
        (FormatArg::Markdown, _) => CatalogFormat::Markdown,
        (FormatArg::Eventcatalog, Some(_)) => CatalogFormat::EventCatalog,
        (FormatArg::Asyncapi, Some(out)) => match catalog::asyncapi_yaml(out) {
            Some(yaml) => {
                if args.templates.is_some() && !cli.quiet {
                    eprintln!("warning: --templates has no effect on the AsyncAPI document");
                }
                CatalogFormat::AsyncApi { yaml }
            }
            None => {
                return Err(Fatal::new(
                    format!("{} names neither a .json nor a .yaml file", out.display()),
                    Some("the AsyncAPI document is JSON or YAML by its extension: --out asyncapi.yaml".into()),
                ));
            }
        },
        (FormatArg::Eventcatalog, None) => {
            return Err(Fatal::new(
                "--format eventcatalog needs --out DIR",
                Some("name your EventCatalog's directory: eventsmith catalog --format eventcatalog --out ../catalog".into()),
            ));
        }
        (FormatArg::Asyncapi, None) => {
            return Err(Fatal::new(
                "--format asyncapi needs --out FILE",
                Some("eventsmith catalog --format asyncapi --out asyncapi.yaml".into()),
            ));
        }
    };
    // Examples are left to `validate`: the catalog shows them as written.
    let loaded = match load_valid(cli, &root)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let Some(project) = loaded.project.as_ref() else {
        return Ok(ExitCode::from(2));
    };
    let out = match args.out {
        Some(out) => cwd.join(out),
        None => root.join(&project.config.output.catalog),
    };
    let target = match catalog::render(project, format, &templates, &out) {
        Ok(target) => target,
        Err(errors) => {
            emit(cli, Format::Human, &errors, &loaded.sources, None);
            return Ok(ExitCode::from(2));
        }
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
        return Ok(report_stale(
            cli,
            dir,
            &stale,
            "run `eventsmith catalog` with the same options and commit the result",
        ));
    }
    let written = match output::write(dir, &target.files, &target.signature) {
        Ok(written) => written,
        Err(errors) => {
            emit(cli, Format::Human, &errors, &loaded.sources, None);
            return Ok(ExitCode::from(2));
        }
    };
    let removed = match output::prune(dir, target.roots, &target.files, &target.signature) {
        Ok(removed) => removed,
        Err(error) => {
            emit(cli, Format::Human, &[error], &loaded.sources, None);
            return Ok(ExitCode::from(2));
        }
    };
    if !cli.quiet {
        if cli.verbose {
            for path in written.created.iter().chain(&written.updated) {
                println!("wrote {}", dir.join(path).display());
            }
            for path in &removed {
                println!("removed {}", dir.join(path).display());
            }
        }
        println!(
            "catalog in {}: {} files ({} created, {} updated, {} unchanged, {} removed)",
            out.display(),
            target.files.len(),
            written.created.len(),
            written.updated.len(),
            written.unchanged.len(),
            removed.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
