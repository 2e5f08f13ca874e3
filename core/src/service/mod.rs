//! `eventsmith service new`: a complete service crate for a project. Generated files (marked
//! `@generated`) are rewritten on every run; user-owned files (the rules, the projections' logic,
//! `Cargo.toml`) are written once and never overwritten, so the schemas can move on under code
//! people wrote.

pub mod starters;
mod templates;

use crate::codegen::Generated;
use crate::codegen::api::Api;
use crate::codegen::emit::HEADER;
use crate::codegen::names::{Scope, field_name};
use crate::diagnostic::Diagnostic;
use crate::model::Project;
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};

pub use templates::Templates;

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

/// Who owns a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// eventsmith: rewritten on every run, first line marked `@generated`.
    Generated,
    /// The user: written when missing, never overwritten.
    User,
}

/// One file of the service.
#[derive(Debug, Clone)]
pub struct ServiceFile {
    /// Relative to the service directory.
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
    /// Who owns it.
    pub owner: Owner,
}

/// The marker generated files carry in their first line.
pub const MARKER: &str = "@generated";

/// The files of the service for `project`, whose generated code is `generated`.
pub fn render(
    project: &Project,
    generated: &Generated,
    settings: &Settings,
    templates: &Templates,
) -> Result<Vec<ServiceFile>, Vec<Diagnostic>> {
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
                    Diagnostic::error(
                        "service-template",
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
        files.push(ServiceFile {
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
        format!("<!-- {MARKER} by eventsmith service new: do not edit. -->\n\n{readme}"),
        Owner::Generated,
    );
    add("src/main.rs", main, Owner::Generated);
    add(
        "src/generated/mod.rs",
        generated.source.clone(),
        Owner::Generated,
    );
    add("tests/service.rs", tests, Owner::Generated);
    for (aggregate, module) in generated.api.aggregates.iter().zip(&modules.0) {
        add(
            &format!("src/domain/{module}.rs"),
            starters::rules_file(aggregate),
            Owner::User,
        );
    }
    for (projection, module) in generated.api.projections.iter().zip(&modules.1) {
        add(
            &format!("src/projections/{module}.rs"),
            starters::handler_file(projection),
            Owner::User,
        );
    }
    Ok(files)
}

/// The user files' module names: (aggregates, projections).
type Modules = (Vec<String>, Vec<String>);

/// What the templates see:
/// - `name`, `project` (the schema project's name), `description`, `project_dir`;
/// - `runtime_path` or `runtime_version`, `standalone`;
/// - `aggregates[]`: `name`, `module`, `aggregate` (the generated type's path), `snapshot_every`,
///   `commands[]` (`name`, `emits` as Markdown);
/// - `projections[]`: `name`, `module`, `projection` (the generated type's path), `key`,
///   `subscribes` (Markdown);
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
        "first_command": first_command,
        "required_commands": required_commands,
    });
    (data, (aggregate_modules, projection_modules))
}

/// What [`write`] did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files that did not exist.
    pub created: Vec<PathBuf>,
    /// Generated files rewritten with new contents.
    pub updated: Vec<PathBuf>,
    /// Generated files already up to date.
    pub unchanged: Vec<PathBuf>,
    /// User files that exist and were left alone.
    pub kept: Vec<PathBuf>,
}

/// Writes `files` under `dir`: generated ones always, user ones only when missing. Refuses,
/// before writing anything, to overwrite a file the user owns at a generated file's path (one
/// without the `@generated` marker in its first line).
pub fn write(dir: &Path, files: &[ServiceFile]) -> Result<Written, Vec<Diagnostic>> {
    let mut refused = Vec::new();
    for file in files.iter().filter(|f| f.owner == Owner::Generated) {
        let path = dir.join(&file.path);
        if let Ok(existing) = std::fs::read_to_string(&path)
            && !existing.lines().next().is_some_and(|l| l.contains(MARKER))
        {
            refused.push(
                Diagnostic::error(
                    "service-owned-file",
                    format!(
                        "{} exists and is not marked {MARKER}: eventsmith will not overwrite it",
                        path.display()
                    ),
                )
                .in_file(&path, None)
                .with_help("move it away (or delete it) and run `eventsmith service new` again"),
            );
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    let mut written = Written::default();
    let mut errors = Vec::new();
    for file in files {
        let path = dir.join(&file.path);
        let existing = std::fs::read_to_string(&path).ok();
        let list = match (&existing, file.owner) {
            (None, _) => &mut written.created,
            (Some(_), Owner::User) => {
                written.kept.push(file.path.clone());
                continue;
            }
            (Some(old), Owner::Generated) if *old == file.contents => {
                written.unchanged.push(file.path.clone());
                continue;
            }
            (Some(_), Owner::Generated) => &mut written.updated,
        };
        match write_file(&path, &file.contents) {
            Ok(()) => list.push(file.path.clone()),
            Err(error) => errors.push(
                Diagnostic::error(
                    "service-write",
                    format!("cannot write {}: {error}", path.display()),
                )
                .in_file(&path, None),
            ),
        }
    }
    if errors.is_empty() {
        Ok(written)
    } else {
        Err(errors)
    }
}

/// Writes through a temporary file beside it, so a failure never leaves half a file.
fn write_file(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_owned());
    let mut temporary = name.clone();
    temporary.push(".eventsmith-tmp");
    let temporary = path.with_file_name(temporary);
    std::fs::write(&temporary, contents)?;
    std::fs::rename(&temporary, path)
}

/// The generated files under `dir` that differ from `files` (or are missing): what a freshness
/// check reports.
pub fn stale(dir: &Path, files: &[ServiceFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| f.owner == Owner::Generated)
        .filter(|f| std::fs::read_to_string(dir.join(&f.path)).ok().as_ref() != Some(&f.contents))
        .map(|f| f.path.clone())
        .collect()
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

/// `to` relative to directory `from` (both made absolute), with `/` separators; absolute when
/// they share nothing but the root.
pub fn relative_path(from: &Path, to: &Path) -> String {
    let (Ok(from), Ok(to)) = (absolute(from), absolute(to)) else {
        return to.to_string_lossy().into_owned();
    };
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    // Sharing only the root, the absolute path survives moving the service.
    if common <= 1 {
        return to.to_string_lossy().into_owned();
    }
    let ups = from.components().count() - common;
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_owned(), ups).collect();
    parts.extend(
        to.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_walk_up_then_down() {
        assert_eq!(
            relative_path(
                Path::new("/work/repo/example"),
                Path::new("/work/repo/runtime")
            ),
            "../runtime"
        );
        assert_eq!(
            relative_path(Path::new("/work/repo"), Path::new("/work/repo")),
            "."
        );
        assert_eq!(
            relative_path(Path::new("/tmp/a/b"), Path::new("/work/repo/runtime")),
            "/work/repo/runtime"
        );
    }

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

    #[test]
    fn user_files_are_never_overwritten_and_generated_ones_always_are() {
        let dir = tempfile::tempdir().unwrap();
        let files = |version: &str| {
            vec![
                ServiceFile {
                    path: "src/main.rs".into(),
                    contents: format!("// {MARKER}\n{version}"),
                    owner: Owner::Generated,
                },
                ServiceFile {
                    path: "src/domain/order.rs".into(),
                    contents: format!("// default {version}"),
                    owner: Owner::User,
                },
            ]
        };
        let first = write(dir.path(), &files("1")).unwrap();
        assert_eq!(first.created.len(), 2);
        std::fs::write(dir.path().join("src/domain/order.rs"), "// my rules").unwrap();
        assert_eq!(
            stale(dir.path(), &files("2")),
            [PathBuf::from("src/main.rs")]
        );
        let second = write(dir.path(), &files("2")).unwrap();
        assert_eq!(second.updated, [PathBuf::from("src/main.rs")]);
        assert_eq!(second.kept, [PathBuf::from("src/domain/order.rs")]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/domain/order.rs")).unwrap(),
            "// my rules"
        );
        assert!(stale(dir.path(), &files("2")).is_empty());
        // A hand-written file where a generated one goes is refused, and nothing is written.
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}").unwrap();
        let refused = write(dir.path(), &files("3")).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert!(refused[0].message.contains("not marked @generated"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/main.rs")).unwrap(),
            "fn main() {}"
        );
    }
}
