//! The project layout: which file under `schema/` is what, and the naming rules for file names.

use crate::diagnostic::Failure;
use crate::schema::store::DocId;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a schema file is, from where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileRole {
    /// `events/<aggregate>/<name>.v<N>.json`
    Event {
        /// The aggregate directory.
        aggregate: String,
        /// The event name.
        name: String,
        /// The version, from 1.
        version: u32,
    },
    /// `commands/<aggregate>/<name>.json`
    Command {
        /// The aggregate directory.
        aggregate: String,
        /// The command name.
        name: String,
    },
    /// `aggregates/<name>.json`
    Aggregate {
        /// The aggregate name.
        name: String,
    },
    /// `projections/<name>.json`
    Projection {
        /// The projection name.
        name: String,
    },
    /// `sagas/<name>.json`: a long-running process's state and steps.
    Saga {
        /// The saga name.
        name: String,
    },
    /// `windows/<name>.json`: an aggregation of events over time windows.
    Window {
        /// The window name.
        name: String,
    },
    /// `types/**.json`
    Type,
}

impl FileRole {
    /// The annotation kind in the meta-schema (`event`, `command`, ...), `None` for shared types.
    pub fn annotation_kind(&self) -> Option<&'static str> {
        match self {
            FileRole::Event { .. } => Some("event"),
            FileRole::Command { .. } => Some("command"),
            FileRole::Aggregate { .. } => Some("aggregate"),
            FileRole::Projection { .. } => Some("projection"),
            FileRole::Saga { .. } => Some("saga"),
            FileRole::Window { .. } => Some("window"),
            FileRole::Type => None,
        }
    }
}

/// What no projection's name may start with: the runtime's tables in a read model's database,
/// and SQLite's own.
pub const RESERVED_PREFIXES: [&str; 2] = ["eventsmith_", "sqlite_"];

/// The reserved prefix `name` starts with, compared as table names are (any case, `-` as `_`).
fn reserved(name: &str) -> Option<&'static str> {
    let table = name.to_ascii_lowercase().replace('-', "_");
    RESERVED_PREFIXES
        .into_iter()
        .find(|prefix| table.starts_with(prefix))
}

/// The top-level directories of the layout.
pub const DIRECTORIES: &[&str] = &[
    "events",
    "commands",
    "aggregates",
    "projections",
    "sagas",
    "windows",
    "types",
];

/// Directories under the schema dir that the loader skips: eventsmith's published meta-schemas.
pub const IGNORED_DIRECTORIES: &[&str] = &["meta"];

/// A valid name: a letter, then letters, digits, `_` or `-`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

const NAME_HELP: &str = "names start with a letter and use ASCII letters, digits, `_` or `-`";

/// The role of a `.json` file at `relative` (relative to the schema dir, `/`-separated components).
pub fn classify(relative: &Path) -> Result<FileRole, Failure> {
    let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
    let file = parts.last().copied().unwrap_or_default();
    let stem = file.strip_suffix(".json").unwrap_or(file);
    let err = |message: String, help: &str| Failure::new(message).with_help(help);
    let named = |kind: &str, name: &str| {
        if is_valid_name(name) {
            Ok(name.to_owned())
        } else {
            Err(err(
                format!("`{name}` is not a valid {kind} name"),
                NAME_HELP,
            ))
        }
    };
    match parts.as_slice() {
        ["events", aggregate, _] => {
            let aggregate = named("aggregate", aggregate)?;
            let (name, version) = split_version(stem).ok_or_else(|| {
                err(
                    format!("event file `{file}` is not named `<name>.v<N>.json`"),
                    &format!(
                        "rename it to `{}.v1.json` (versions start at 1, without leading zeros)",
                        stem.split('.').next().unwrap_or(stem)
                    ),
                )
            })?;
            Ok(FileRole::Event {
                aggregate,
                name: named("event", name)?,
                version,
            })
        }
        ["events", ..] => Err(err(
            format!("`{}` is not where event files go", relative.display()),
            "event versions live at `events/<aggregate>/<name>.v<N>.json`",
        )),
        ["commands", aggregate, _] => Ok(FileRole::Command {
            aggregate: named("aggregate", aggregate)?,
            name: named("command", stem)?,
        }),
        ["commands", ..] => Err(err(
            format!("`{}` is not where command files go", relative.display()),
            "commands live at `commands/<aggregate>/<name>.json`",
        )),
        ["aggregates", _] => Ok(FileRole::Aggregate {
            name: named("aggregate", stem)?,
        }),
        ["aggregates", ..] => Err(err(
            format!("`{}` is not where aggregate files go", relative.display()),
            "aggregates live at `aggregates/<name>.json`",
        )),
        // The runtime's own tables (checkpoints, dead letters) share a read model's database.
        ["projections", _] if reserved(stem).is_some() => Err(err(
            format!(
                "projection name `{stem}` starts with `{}`, which is reserved",
                reserved(stem).unwrap_or_default()
            ),
            "the runtime's own tables (`eventsmith_checkpoints`, `eventsmith_dead_letters`, ...) and SQLite's (`sqlite_...`) are named so; give the projection another name",
        )),
        ["projections", _] => Ok(FileRole::Projection {
            name: named("projection", stem)?,
        }),
        ["projections", ..] => Err(err(
            format!("`{}` is not where projection files go", relative.display()),
            "projections live at `projections/<name>.json`",
        )),
        ["sagas", _] if reserved(stem).is_some() => Err(err(
            format!(
                "saga name `{stem}` starts with `{}`, which is reserved",
                reserved(stem).unwrap_or_default()
            ),
            "a saga keeps its instances in tables named after it; give it another name",
        )),
        ["sagas", _] => Ok(FileRole::Saga {
            name: named("saga", stem)?,
        }),
        ["sagas", ..] => Err(err(
            format!("`{}` is not where saga files go", relative.display()),
            "sagas live at `sagas/<name>.json`",
        )),
        ["windows", _] if reserved(stem).is_some() => Err(err(
            format!(
                "window name `{stem}` starts with `{}`, which is reserved",
                reserved(stem).unwrap_or_default()
            ),
            "a window keeps its rows in tables named after it; give it another name",
        )),
        ["windows", _] => Ok(FileRole::Window {
            name: named("window", stem)?,
        }),
        ["windows", ..] => Err(err(
            format!("`{}` is not where window files go", relative.display()),
            "windows live at `windows/<name>.json`",
        )),
        ["types", ..] => Ok(FileRole::Type),
        _ => Err(err(
            format!("`{}` is outside the schema layout", relative.display()),
            "schema files live under events/, commands/, aggregates/, projections/, sagas/, windows/ or types/",
        )),
    }
}

/// `placed.v2` → (`placed`, 2); `None` without a `.v<N>` suffix or with a leading zero.
fn split_version(stem: &str) -> Option<(&str, u32)> {
    let (name, version) = stem.rsplit_once(".v")?;
    if version.starts_with('0') || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, version.parse().ok()?))
}

/// The file of an event version, relative to the schema dir.
pub fn event_file(aggregate: &str, name: &str, version: u32) -> PathBuf {
    ["events", aggregate, &format!("{name}.v{version}.json")]
        .iter()
        .collect()
}

/// The file of a command, relative to the schema dir.
pub fn command_file(aggregate: &str, name: &str) -> PathBuf {
    ["commands", aggregate, &format!("{name}.json")]
        .iter()
        .collect()
}

/// The file of an aggregate, relative to the schema dir.
pub fn aggregate_file(name: &str) -> PathBuf {
    ["aggregates", &format!("{name}.json")].iter().collect()
}

/// The file of a projection, relative to the schema dir.
pub fn projection_file(name: &str) -> PathBuf {
    ["projections", &format!("{name}.json")].iter().collect()
}

/// A project file with its role.
pub(crate) struct RoleFile {
    pub role: FileRole,
    pub display: PathBuf,
    pub doc: Option<DocId>,
}

/// The declared aggregates, from `aggregates/*.json` file names (whether or not they parsed).
pub(crate) fn declared_aggregates(files: &[RoleFile]) -> BTreeSet<&str> {
    files
        .iter()
        .filter_map(|f| match &f.role {
            FileRole::Aggregate { name } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

/// The declared event types (`<aggregate>.<name>`), from `events/` file names (whether or not
/// the files parsed): a reference to one is not reported as undefined when its file is broken.
pub(crate) fn declared_events(files: &[RoleFile]) -> BTreeSet<String> {
    files
        .iter()
        .filter_map(|f| match &f.role {
            FileRole::Event {
                aggregate, name, ..
            } => Some(format!("{aggregate}.{name}")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_paths() {
        assert_eq!(
            classify(Path::new("events/order/placed.v2.json")),
            Ok(FileRole::Event {
                aggregate: "order".into(),
                name: "placed".into(),
                version: 2
            })
        );
        assert_eq!(
            classify(Path::new("commands/order/place_order.json")),
            Ok(FileRole::Command {
                aggregate: "order".into(),
                name: "place_order".into()
            })
        );
        assert_eq!(
            classify(Path::new("types/a/b/money.json")),
            Ok(FileRole::Type)
        );
        assert!(classify(Path::new("events/order/placed.json")).is_err());
        assert!(classify(Path::new("events/order/placed.v0.json")).is_err());
        assert!(classify(Path::new("events/order/placed.v01.json")).is_err());
        assert!(classify(Path::new("events/order/pla ced.v1.json")).is_err());
        assert!(classify(Path::new("events/placed.v1.json")).is_err());
        assert!(classify(Path::new("aggregates/x/y.json")).is_err());
    }
}
