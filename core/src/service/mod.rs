//! `eventsmith service new`: a complete service crate for a project. Generated files (marked
//! `@generated`) are rewritten on every run; user-owned files (the rules, the projections' logic,
//! the named conversions of `convert` upcast rules, `Cargo.toml`) are written once and never
//! overwritten, so the schemas can move on under code people wrote.

pub mod conversions;
pub mod starters;

use crate::codegen::Generated;
use crate::codegen::api::Api;
use crate::codegen::emit::HEADER;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::io::output::SIGNED;
use crate::project::model::Project;
use crate::project::names::{Scope, field_name};
use crate::templates::Family;
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};

pub use crate::io::output::{OutputFile, Owner, stale};
pub use crate::templates::Templates;

/// The service's templates, embedded from `templates/service/`.
pub const TEMPLATES: Family = Family {
    dir: "service",
    rule: crate::diagnostic::Rule::ServiceTemplate,
    data: "docs/service.md#templates",
    embedded: &[
        (
            "Cargo.toml.hbs",
            include_str!("../../templates/service/Cargo.toml.hbs"),
        ),
        (
            "gitignore.hbs",
            include_str!("../../templates/service/gitignore.hbs"),
        ),
        (
            "README.md.hbs",
            include_str!("../../templates/service/README.md.hbs"),
        ),
        (
            "main.rs.hbs",
            include_str!("../../templates/service/main.rs.hbs"),
        ),
        (
            "tests.rs.hbs",
            include_str!("../../templates/service/tests.rs.hbs"),
        ),
    ],
};

/// Where the service's `eventsmith` dependency comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Runtime {
    /// A path (as written into `Cargo.toml`, relative to the service).
    Path(String),
    /// A crates.io version requirement.
    Version(String),
}

/// What the front-end decides about a service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The crate and binary name.
    pub name: String,
    /// The runtime dependency.
    pub runtime: Runtime,
    /// Whether the crate is a workspace of its own (`false` when an enclosing workspace lists it).
    pub standalone: bool,
    /// The schema project, relative to the service (for the regeneration command it documents).
    pub project_dir: String,
    /// A `Cargo.lock` to start from, so a standalone service builds offline.
    pub lock: Option<String>,
}

/// The files of the service for `project`, whose generated code is `generated`.
pub fn render(
    project: &Project,
    generated: &Generated,
    settings: &Settings,
    templates: &Templates,
) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
    let (data, modules) = template_data(project, &generated.api, settings);
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut render = |template: &str| match templates.render(template, &data) {
        Ok(text) => Some(text),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let cargo = render("Cargo.toml.hbs");
    let gitignore = render("gitignore.hbs");
    let readme = render("README.md.hbs");
    let main = render("main.rs.hbs");
    let tests = render("tests.rs.hbs");
    let mut rust = |template: &str, text: Option<String>| {
        let text = text?;
        match syn::parse_file(&text) {
            Ok(file) => Some(format!(
                "{HEADER}\n\n{}",
                starters::spaced(&prettyplease::unparse(&file))
            )),
            Err(error) => {
                errors.push(
                    Diagnostic::new(
                        Rule::ServiceTemplate,
                        format!("`{template}` does not render to Rust: {error}"),
                    )
                    .in_file(templates.path_of(template), None)
                    .with_help("fix the template; the embedded ones render valid Rust"),
                );
                None
            }
        }
    };
    let main = rust("main.rs.hbs", main);
    let tests = rust("tests.rs.hbs", tests);
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(cargo), Some(gitignore), Some(readme), Some(main), Some(tests)) =
        (cargo, gitignore, readme, main, tests)
    else {
        return Err(errors);
    };
    let mut add = |path: &str, contents: String, owner: Owner| {
        files.push(OutputFile {
            path: PathBuf::from(path),
            contents,
            owner,
        });
    };
    add("Cargo.toml", cargo, Owner::User);
    add(".gitignore", gitignore, Owner::User);
    if let (true, Some(lock)) = (settings.standalone, &settings.lock) {
        add("Cargo.lock", lock.clone(), Owner::User);
    }
    add(
        "README.md",
        format!("<!-- {SIGNED} service new: do not edit. -->\n\n{readme}"),
        Owner::Generated,
    );
    add("src/main.rs", main, Owner::Generated);
    add(
        "src/generated/mod.rs",
        generated.source.clone(),
        Owner::Generated,
    );
    add("tests/service.rs", tests, Owner::Generated);
    for (aggregate, module) in generated.api.aggregates.iter().zip(&modules.aggregates) {
        add(
            &format!("src/domain/{module}.rs"),
            starters::rules_file(aggregate),
            Owner::User,
        );
    }
    for (projection, module) in generated.api.projections.iter().zip(&modules.projections) {
        add(
            &format!("src/projections/{module}.rs"),
            starters::handler_file(projection),
            Owner::User,
        );
    }
    for (saga, module) in generated.api.sagas.iter().zip(&modules.sagas) {
        add(
            &format!("src/sagas/{module}.rs"),
            starters::saga_file(saga),
            Owner::User,
        );
    }
    for (window, module) in generated.api.windows.iter().zip(&modules.windows) {
        if window.rules.is_some() {
            add(
                &format!("src/windows/{module}.rs"),
                starters::window_file(window),
                Owner::User,
            );
        }
    }
    for (version, module) in generated.api.conversions.iter().zip(&modules.conversions) {
        add(
            &format!("{}/{module}.rs", conversions::DIR),
            conversions::conversions_file(version),
            Owner::User,
        );
    }
    Ok(files)
}

/// What the service leaves out, as warnings: aggregates without events (nothing to decide with,
/// so their commands are not served) and projections without a handler.
pub fn omissions(project: &Project, api: &Api) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for (name, aggregate) in &project.aggregates {
        if !api.aggregates.iter().any(|a| &a.name == name) {
            warnings.push(
                Diagnostic::new(
                    Rule::ServiceNoEvents,
                    format!("aggregate `{name}` has no events yet, so the service does not serve its commands"),
                )
                .in_file(project.store.document(aggregate.schema).display(), None)
                .with_help(format!("add one with `eventsmith new event {name}.<name>`")),
            );
        }
    }
    for (name, projection) in &project.projections {
        if !api.projections.iter().any(|p| &p.name == name) {
            warnings.push(
                Diagnostic::new(
                    Rule::ServiceNoHandler,
                    format!("projection `{name}` gets no handler, so the service does not run it"),
                )
                .in_file(project.store.document(projection.schema).display(), None)
                .with_help("its row schema must be an object of its own (not a bare `$ref`) with the key among its properties"),
            );
        }
    }
    warnings
}

/// The user files' module names.
pub struct Modules {
    aggregates: Vec<String>,
    projections: Vec<String>,
    conversions: Vec<String>,
    sagas: Vec<String>,
    /// Of every window (only those with custom aggregates have a file).
    windows: Vec<String>,
}

/// What the templates see:
/// - `name`, `project` (the schema project's name), `description`, `project_dir`;
/// - `runtime_path` or `runtime_version`, `standalone`;
/// - `aggregates[]`: `name`, `module`, `aggregate` (the generated type's path), `snapshot_every`,
///   `commands[]` (`name`, `emits` as Markdown);
/// - `projections[]`: `name`, `module`, `projection` (the generated type's path), `key`,
///   `subscribes` (Markdown);
/// - `conversions[]`, one per version module whose upcast rules `convert` fields: `module` (of
///   its file in `src/conversions/`), `conversions` (the generated trait's path), `methods[]`
///   (the conversions' names);
/// - `first_command` (`aggregate`, `name`) and `required_commands[]`, for the tests.
pub fn template_data(project: &Project, api: &Api, settings: &Settings) -> (Value, Modules) {
    let code = |events: &mut dyn Iterator<Item = &str>| {
        let list: Vec<String> = events.map(|e| format!("`{e}`")).collect();
        if list.is_empty() {
            "nothing".to_owned()
        } else {
            list.join(", ")
        }
    };
    let aggregate_modules: Vec<String> = api.aggregates.iter().map(|a| a.module.clone()).collect();
    let mut names = Scope::new();
    let projection_modules: Vec<String> = api
        .projections
        .iter()
        .map(|p| names.claim(field_name(&p.name)))
        .collect();
    let aggregates: Vec<Value> = api
        .aggregates
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "module": a.module,
                "aggregate": a.aggregate.join("::"),
                "snapshot_every": a.snapshot_every,
                "commands": a.decides.iter().map(|d| json!({
                    "name": d.command,
                    "emits": code(&mut d.emits.iter().map(|e| e.event_type.as_str())),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let projections: Vec<Value> = api
        .projections
        .iter()
        .zip(&projection_modules)
        .map(|(p, module)| {
            json!({
                "name": p.name,
                "module": module,
                "projection": p.projection.join("::"),
                "key": p.key,
                "subscribes": code(&mut p.handles.iter().map(|h| h.event.event_type.as_str())),
            })
        })
        .collect();
    let conversion_modules = conversions::module_names(&api.conversions);
    let conversions: Vec<Value> = api
        .conversions
        .iter()
        .zip(&conversion_modules)
        .map(|(c, module)| {
            json!({
                "module": module,
                "conversions": c.conversions.join("::"),
                "methods": c.methods.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let commands = || {
        api.aggregates
            .iter()
            .flat_map(|a| a.decides.iter().map(move |d| (a, d)))
    };
    let first_command = commands()
        .next()
        .map(|(a, d)| json!({ "aggregate": a.name, "name": d.command }));
    let required_commands: Vec<Value> = commands()
        .filter(|(_, d)| !d.command_required.is_empty())
        .map(|(a, d)| json!({ "aggregate": a.name, "name": d.command }))
        .collect();
    let config = &project.config.project;
    let description = config
        .description
        .clone()
        .unwrap_or_else(|| format!("The `{}` service.", settings.name));
    let (runtime_path, runtime_version) = match &settings.runtime {
        Runtime::Path(path) => (Some(path.clone()), None),
        Runtime::Version(version) => (None, Some(version.clone())),
    };
    let mut saga_names = Scope::new();
    let saga_modules: Vec<String> = api
        .sagas
        .iter()
        .map(|s| saga_names.claim(field_name(&s.name)))
        .collect();
    let sagas: Vec<Value> = api
        .sagas
        .iter()
        .zip(&saga_modules)
        .map(|(saga, module)| {
            let annotations = project.sagas.get(&saga.name).map(|s| s.annotations.clone()).unwrap_or_default();
            let timeouts: Vec<String> = annotations.timeouts.iter().map(|(name, after)| format!("`{name}` {after}")).collect();
            json!({
                "name": saga.name,
                "module": module,
                "saga": saga.saga.join("::"),
                "starts": code(&mut annotations.starts.iter().map(String::as_str)),
                "timeouts": if timeouts.is_empty() { "none".to_owned() } else { timeouts.join(", ") },
                "start": saga_start(project, &annotations),
            })
        })
        .collect();
    let mut window_names = Scope::new();
    let window_modules: Vec<String> = api
        .windows
        .iter()
        .map(|w| window_names.claim(field_name(&w.name)))
        .collect();
    let window_rules: Vec<&String> = api
        .windows
        .iter()
        .zip(&window_modules)
        .filter(|(w, _)| w.rules.is_some())
        .map(|(_, module)| module)
        .collect();
    let windows: Vec<Value> = api
        .windows
        .iter()
        .zip(&window_modules)
        .map(|(window, module)| {
            let annotations = project
                .windows
                .get(&window.name)
                .map(|w| w.annotations.clone())
                .unwrap_or_default();
            let runner = match &window.rules {
                Some(_) => format!("{}<windows::{module}::Rules>", window.window.join("::")),
                None => window.window.join("::"),
            };
            json!({
                "name": window.name,
                "module": module,
                "window": runner,
                "rules": window.rules.is_some(),
                "reads": code(&mut annotations.reads.iter().map(String::as_str)),
                "kind": annotations.window.name(),
                "aggregates": code(&mut annotations.aggregates.keys().map(String::as_str)),
            })
        })
        .collect();
    let data = json!({
        "name": settings.name,
        "project": config.name,
        "description": description,
        "project_dir": settings.project_dir,
        "runtime_path": runtime_path,
        "runtime_version": runtime_version,
        "standalone": settings.standalone,
        "aggregates": aggregates,
        "projections": projections,
        "conversions": conversions,
        "sagas": sagas,
        "windows": windows,
        "window_rules": !window_rules.is_empty(),
        "first_command": first_command,
        "required_commands": required_commands,
    });
    (
        data,
        Modules {
            aggregates: aggregate_modules,
            projections: projection_modules,
            conversions: conversion_modules,
            sagas: saga_modules,
            windows: window_modules,
        },
    )
}

/// A command that starts an instance of a saga, for the generated tests: one that emits a start
/// event correlated by its stream, with an example body, sent to an id its aggregate accepts.
fn saga_start(
    project: &Project,
    annotations: &crate::project::saga::SagaAnnotations,
) -> Option<Value> {
    annotations.starts.iter().find_map(|event| {
        if annotations.correlation.get(event).map(String::as_str)
            != Some(crate::project::saga::STREAM)
        {
            return None;
        }
        let command = project
            .commands
            .values()
            .find(|c| c.annotations.emits.contains(event))?;
        let example = project
            .store
            .document(command.schema)
            .value()
            .get("examples")?
            .as_array()?
            .first()?;
        let id_schema = project
            .aggregates
            .get(&command.aggregate)
            .and_then(|a| a.annotations.id.clone())
            .unwrap_or_default();
        let id = match (
            id_schema.get("format").and_then(Value::as_str),
            id_schema.get("type").and_then(Value::as_str),
        ) {
            (Some("uuid"), _) => "0190f5d3-1b2c-7d4e-8f5a-5a6a5a6a0001",
            (_, Some("integer")) => "1",
            _ => "saga-test-1",
        };
        Some(json!({
            "aggregate": command.aggregate,
            "command": command.name,
            "id": id,
            "body": serde_json::to_string(example).ok()?,
        }))
    })
}

/// Writes the service's files under `dir`: generated ones only over files `service new` signed,
/// user ones only when missing.
pub fn write(
    dir: &Path,
    files: &[OutputFile],
) -> Result<crate::io::output::Written, Vec<Diagnostic>> {
    crate::io::output::write(dir, files, &crate::io::output::Signature::service())
}

/// Whether a crate at `dir` needs a `[workspace]` of its own: not when an enclosing workspace
/// lists it among its members.
pub fn standalone(dir: &Path) -> bool {
    let Ok(dir) = absolute(dir) else { return true };
    for root in dir.ancestors().skip(1) {
        let Ok(text) = std::fs::read_to_string(root.join("Cargo.toml")) else {
            continue;
        };
        let Ok(manifest) = text.parse::<toml::Table>() else {
            continue;
        };
        let Some(workspace) = manifest.get("workspace").and_then(|w| w.as_table()) else {
            continue;
        };
        let Ok(relative) = dir.strip_prefix(root) else {
            return true;
        };
        let relative = relative.to_string_lossy().replace('\\', "/");
        let members = workspace
            .get("members")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str());
        let listed = members.into_iter().any(|member| {
            let member = member.trim_end_matches('/');
            member == relative
                || member.strip_suffix("/*").is_some_and(|parent| {
                    relative
                        .rsplit_once('/')
                        .is_some_and(|(dir_parent, _)| dir_parent == parent)
                })
        });
        // The nearest workspace decides: cargo would claim the crate for it.
        return !listed;
    }
    true
}

fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let path = std::path::absolute(path)?;
    // Without `..` and `.`, so ancestors are the real parents.
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_listed_by_an_enclosing_workspace_joins_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"core\", \"services/*\", \"example/\"]\n",
        )
        .unwrap();
        assert!(!standalone(&root.path().join("example")));
        assert!(!standalone(&root.path().join("services/shop")));
        assert!(standalone(&root.path().join("elsewhere")));
        assert!(standalone(&root.path().join("services/shop/deeper")));
    }
}
