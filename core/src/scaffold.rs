//! Files written by `eventsmith init` and `eventsmith new`: schemas that validate as written,
//! with descriptions left for the author to fill in. Nothing here overwrites a file.

use crate::diagnostic::Failure;
use crate::project::annotations::KEYWORD;
use crate::project::config::{Config, FILE_NAME};
use crate::project::layout::{self, is_valid_name};
use crate::project::placeholders;
use crate::schema::draft::Draft;
use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// A file to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Where, as an absolute path or relative to the current directory.
    pub path: PathBuf,
    /// Its content.
    pub contents: String,
}

fn error(message: impl Into<String>, help: Option<String>) -> Failure {
    Failure {
        message: message.into(),
        help,
    }
}

/// What `eventsmith new` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewItem {
    /// `new event <aggregate>.<name>`
    Event {
        /// `<aggregate>.<name>`
        event_type: String,
    },
    /// `new command <aggregate>.<name> --emits <event>...`
    Command {
        /// `<aggregate>.<name>`
        command: String,
        /// Event types it emits.
        emits: Vec<String>,
    },
    /// `new aggregate <name>`
    Aggregate {
        /// The aggregate.
        name: String,
    },
    /// `new projection <name> --key K --subscribes <event>...`
    Projection {
        /// The projection.
        name: String,
        /// Its key property.
        key: String,
        /// Event types it handles.
        subscribes: Vec<String>,
    },
    /// `new version <aggregate>.<name>`
    Version {
        /// `<aggregate>.<name>`
        event_type: String,
    },
}

/// eventsmith's meta-schemas for editors, written into `schema/meta/` by `init` (the loader skips
/// that directory).
pub const META_SCHEMAS: &[(&str, &str)] = &[
    (
        "x-eventsmith.schema.json",
        crate::schema::metaschema::ANNOTATIONS_META_SCHEMA,
    ),
    (
        "event.schema.json",
        include_str!("../meta/event.schema.json"),
    ),
    (
        "command.schema.json",
        include_str!("../meta/command.schema.json"),
    ),
    (
        "aggregate.schema.json",
        include_str!("../meta/aggregate.schema.json"),
    ),
    (
        "projection.schema.json",
        include_str!("../meta/projection.schema.json"),
    ),
    ("saga.schema.json", include_str!("../meta/saga.schema.json")),
    (
        "window.schema.json",
        include_str!("../meta/window.schema.json"),
    ),
];

/// Pretty JSON with a trailing newline, keys in insertion order.
pub fn to_json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The files of a new project in `dir`, named `name`, with a sample `task` aggregate.
pub fn init(dir: &Path, name: &str) -> Vec<PlannedFile> {
    let schema = dir.join("schema");
    let file = |relative: PathBuf, value: Value| PlannedFile {
        path: schema.join(relative),
        contents: to_json(&value),
    };
    let owners = json!(["my-team"]);
    let meta = META_SCHEMAS.iter().map(|(name, contents)| PlannedFile {
        path: schema.join("meta").join(name),
        contents: (*contents).to_owned(),
    });
    let mut files = vec![
        PlannedFile {
            path: dir.join(FILE_NAME),
            contents: format!(
                "# eventsmith project settings: see docs/schema-format.md#eventsmithtoml\n\
                 [project]\nname = \"{name}\"\n\n\
                 [schema]\ndir = \"schema\"\n\n\
                 [compatibility]\n# none | backward | backward-transitive | forward | forward-transitive | full | full-transitive\n\
                 level = \"backward\"\n\n\
                 [output]\nrust = \"src/events\"\ncatalog = \"docs/catalog\"\nservice = \"service\"\n"
            ),
        },
        file(
            PathBuf::from("types/task.json"),
            json!({
                "$schema": Draft::Draft202012.uri(),
                "title": "Task types",
                "description": "Definitions shared by the task schemas.",
                "$defs": {
                    "Title": {
                        "description": "A short, human-readable task title.",
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "examples": ["Write the release notes"]
                    }
                }
            }),
        ),
        file(
            layout::aggregate_file("task"),
            json!({
                "$schema": Draft::Draft202012.uri(),
                "title": "Task",
                "description": "A piece of work someone has to do.",
                "type": "object",
                "properties": {
                    "title": {"$ref": "../types/task.json#/$defs/Title", "description": "What the task is."},
                    "open": {"type": "boolean", "description": "Whether the task still has to be done."}
                },
                "required": ["title", "open"],
                "examples": [{"title": "Write the release notes", "open": true}],
                "x-eventsmith": {
                    "id": {"type": "string", "format": "uuid"},
                    "stream": "task",
                    "snapshot": {"every": 100},
                    "owners": owners
                }
            }),
        ),
        file(
            layout::event_file("task", "created", 1),
            json!({
                "$schema": Draft::Draft202012.uri(),
                "title": "TaskCreated",
                "description": "A task was created.",
                "type": "object",
                "properties": {
                    "title": {"$ref": "../../types/task.json#/$defs/Title", "description": "The task's title."},
                    "due": {"type": "string", "format": "date", "description": "When the task is due, if it has a due date."}
                },
                "required": ["title"],
                "additionalProperties": false,
                "examples": [{"title": "Write the release notes", "due": "2026-12-01"}],
                "x-eventsmith": {"owners": owners}
            }),
        ),
        file(
            layout::command_file("task", "create_task"),
            json!({
                "$schema": Draft::Draft202012.uri(),
                "title": "CreateTask",
                "description": "Create a task. Rejected when a task with this id already exists.",
                "type": "object",
                "properties": {
                    "title": {"$ref": "../../types/task.json#/$defs/Title", "description": "The task's title."},
                    "due": {"type": "string", "format": "date", "description": "When the task is due."}
                },
                "required": ["title"],
                "additionalProperties": false,
                "examples": [{"title": "Write the release notes"}],
                "x-eventsmith": {"emits": ["task.created"], "owners": owners}
            }),
        ),
        file(
            layout::projection_file("open_tasks"),
            json!({
                "$schema": Draft::Draft202012.uri(),
                "title": "OpenTask",
                "description": "One row per task that is still open.",
                "type": "object",
                "properties": {
                    "task_id": {"type": "string", "format": "uuid", "description": "The task's id."},
                    "title": {"$ref": "../types/task.json#/$defs/Title", "description": "The task's title."},
                    "due": {"type": "string", "format": "date", "description": "When the task is due."}
                },
                "required": ["task_id", "title"],
                "additionalProperties": false,
                "examples": [{"task_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "title": "Write the release notes"}],
                "x-eventsmith": {"key": "task_id", "subscribes": ["task.created"], "owners": owners}
            }),
        ),
    ];
    files.extend(meta);
    files
}

/// A project name from a directory name: lower-case letters, digits, `-` and `_`.
pub fn project_name_for(dir: &Path) -> String {
    let raw = std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-').to_owned();
    if cleaned.is_empty() || !cleaned.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("events-{cleaned}").trim_end_matches('-').to_owned()
    } else {
        cleaned
    }
}

/// The files `eventsmith new` writes into the project at `root`.
pub fn new_item(root: &Path, config: &Config, item: &NewItem) -> Result<Vec<PlannedFile>, Failure> {
    let schema = root.join(&config.schema.dir);
    let planned = |relative: PathBuf, value: Value| -> Result<Vec<PlannedFile>, Failure> {
        let path = schema.join(relative);
        if path.exists() {
            return Err(error(
                format!("{} already exists", path.display()),
                Some(
                    "eventsmith never overwrites a schema file; pick another name or edit it"
                        .into(),
                ),
            ));
        }
        Ok(vec![PlannedFile {
            path,
            contents: to_json(&value),
        }])
    };
    match item {
        NewItem::Aggregate { name } => {
            check_name("aggregate", name)?;
            check_no_clash(&schema.join("aggregates"), "aggregate", name, plain_stem)?;
            planned(
                layout::aggregate_file(name),
                json!({
                    "$schema": Draft::Draft202012.uri(),
                    "title": name.to_upper_camel_case(),
                    "description": placeholders::AGGREGATE,
                    "type": "object",
                    "properties": {},
                    "examples": [{}],
                    "x-eventsmith": {"id": {"type": "string", "format": "uuid"}, "stream": name, "owners": []}
                }),
            )
        }
        NewItem::Event { event_type } => {
            let (aggregate, name) = split_qualified("event", event_type)?;
            require_aggregate(&schema, aggregate)?;
            check_no_clash(
                &schema.join("events").join(aggregate),
                "event",
                name,
                event_stem,
            )?;
            if let Some(latest) = latest_version(&schema, aggregate, name) {
                return Err(error(
                    format!("event `{event_type}` already exists (latest v{latest})"),
                    Some(format!(
                        "to change it, add a version: `eventsmith new version {event_type}`"
                    )),
                ));
            }
            planned(
                layout::event_file(aggregate, name, 1),
                json!({
                    "$schema": Draft::Draft202012.uri(),
                    "title": format!("{aggregate}_{name}").to_upper_camel_case(),
                    "description": placeholders::EVENT,
                    "type": "object",
                    "properties": {},
                    "required": [],
                    "additionalProperties": false,
                    "examples": [{}],
                    "x-eventsmith": {"owners": aggregate_owners(&schema, aggregate)}
                }),
            )
        }
        NewItem::Command { command, emits } => {
            let (aggregate, name) = split_qualified("command", command)?;
            require_aggregate(&schema, aggregate)?;
            check_no_clash(
                &schema.join("commands").join(aggregate),
                "command",
                name,
                plain_stem,
            )?;
            if emits.is_empty() {
                return Err(error(
                    "a command needs at least one event it emits",
                    Some(format!("pass --emits {aggregate}.<event>")),
                ));
            }
            let mut emits = emits.clone();
            dedupe(&mut emits);
            for event in &emits {
                let (event_aggregate, event_name) = split_qualified("event", event)?;
                if event_aggregate != aggregate {
                    return Err(error(
                        format!(
                            "command `{command}` cannot emit `{event}`: a command appends to its own aggregate's stream, and `{event}` belongs to `{event_aggregate}`"
                        ),
                        Some(format!(
                            "emit an event of `{aggregate}` (`eventsmith new event {aggregate}.<name>`), or create the command as `{event_aggregate}.{name}`"
                        )),
                    ));
                }
                if latest_version(&schema, event_aggregate, event_name).is_none() {
                    return Err(error(
                        format!("event `{event}` does not exist"),
                        Some(format!("create it first: `eventsmith new event {event}`")),
                    ));
                }
            }
            planned(
                layout::command_file(aggregate, name),
                json!({
                    "$schema": Draft::Draft202012.uri(),
                    "title": name.to_upper_camel_case(),
                    "description": placeholders::COMMAND,
                    "type": "object",
                    "properties": {},
                    "required": [],
                    "additionalProperties": false,
                    "examples": [{}],
                    "x-eventsmith": {"emits": emits, "owners": aggregate_owners(&schema, aggregate)}
                }),
            )
        }
        NewItem::Projection {
            name,
            key,
            subscribes,
        } => {
            check_name("projection", name)?;
            check_no_clash(&schema.join("projections"), "projection", name, plain_stem)?;
            if subscribes.is_empty() {
                return Err(error(
                    "a projection needs at least one event it subscribes to",
                    Some("pass --subscribes <aggregate>.<event>".into()),
                ));
            }
            let mut subscribes = subscribes.clone();
            dedupe(&mut subscribes);
            for event in &subscribes {
                let (event_aggregate, event_name) = split_qualified("event", event)?;
                if latest_version(&schema, event_aggregate, event_name).is_none() {
                    return Err(error(
                        format!("event `{event}` does not exist"),
                        Some(format!("create it first: `eventsmith new event {event}`")),
                    ));
                }
            }
            let mut properties = Map::new();
            properties.insert(
                key.clone(),
                json!({"type": "string", "description": "The key of a row."}),
            );
            planned(
                layout::projection_file(name),
                json!({
                    "$schema": Draft::Draft202012.uri(),
                    "title": name.to_upper_camel_case(),
                    "description": placeholders::PROJECTION,
                    "type": "object",
                    "properties": properties,
                    "required": [key],
                    "additionalProperties": false,
                    "examples": [{key: "example-key"}],
                    "x-eventsmith": {"key": key, "subscribes": subscribes, "owners": []}
                }),
            )
        }
        NewItem::Version { event_type } => {
            let (aggregate, name) = split_qualified("event", event_type)?;
            let Some(latest) = latest_version(&schema, aggregate, name) else {
                return Err(error(
                    format!("event `{event_type}` does not exist"),
                    Some(format!("create it: `eventsmith new event {event_type}`")),
                ));
            };
            let path = schema.join(layout::event_file(aggregate, name, latest));
            let text = std::fs::read_to_string(&path)
                .map_err(|err| error(format!("cannot read {}: {err}", path.display()), None))?;
            let mut value: Value = serde_json::from_str(&text).map_err(|err| {
                error(
                    format!("{} is not valid JSON: {err}", path.display()),
                    Some("run `eventsmith validate` and fix it first".into()),
                )
            })?;
            let Some(object) = value.as_object_mut() else {
                return Err(error(
                    format!("{} does not hold a JSON object", path.display()),
                    None,
                ));
            };
            // The copy is another resource: its `$id` (draft-04: `id`) must not repeat v{latest}'s.
            for keyword in ["$id", "id"] {
                if let Some(Value::String(id)) = object.get(keyword) {
                    let next = next_id(id, latest);
                    object.insert(keyword.to_owned(), Value::String(next));
                }
            }
            let annotations = object.entry(KEYWORD).or_insert_with(|| json!({}));
            if !annotations.is_object() {
                *annotations = json!({});
            }
            annotations["upcast"] = json!({
                "description": placeholders::upcast(latest),
                "rules": []
            });
            planned(layout::event_file(aggregate, name, latest + 1), value)
        }
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), Failure> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(error(
            format!("`{name}` is not a valid {kind} name"),
            Some("names start with a letter and use ASCII letters, digits, `_` or `-`".into()),
        ))
    }
}

fn split_qualified<'a>(kind: &str, qualified: &'a str) -> Result<(&'a str, &'a str), Failure> {
    let Some((aggregate, name)) = qualified.split_once('.') else {
        return Err(error(
            format!("`{qualified}` is not `<aggregate>.<name>`"),
            Some(format!(
                "name the {kind} with its aggregate, e.g. `order.placed`"
            )),
        ));
    };
    check_name("aggregate", aggregate)?;
    check_name(kind, name)?;
    Ok((aggregate, name))
}

fn require_aggregate(schema: &Path, aggregate: &str) -> Result<(), Failure> {
    if schema.join(layout::aggregate_file(aggregate)).is_file() {
        Ok(())
    } else {
        Err(error(
            format!("aggregate `{aggregate}` is not defined"),
            Some(format!(
                "create it first: `eventsmith new aggregate {aggregate}`"
            )),
        ))
    }
}

fn aggregate_owners(schema: &Path, aggregate: &str) -> Value {
    std::fs::read_to_string(schema.join(layout::aggregate_file(aggregate)))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|value| value.get(KEYWORD)?.get("owners").cloned())
        .unwrap_or_else(|| json!([]))
}

/// The `$id` of version `latest + 1` from version `latest`'s: its last `v<latest>` bumped
/// (`…/placed/v1.json` → `…/placed/v2.json`), else `.v<latest + 1>` before the last segment's
/// extension (`…/placed.json` → `…/placed.v2.json`).
fn next_id(id: &str, latest: u32) -> String {
    let (old, new) = (format!("v{latest}"), format!("v{}", latest + 1));
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
    let mut search = id.len();
    while let Some(at) = id[..search].rfind(&old) {
        let before = id[..at].chars().next_back();
        let after = id[at + old.len()..].chars().next();
        if boundary(before) && boundary(after) {
            return format!("{}{new}{}", &id[..at], &id[at + old.len()..]);
        }
        search = at;
    }
    let (path, fragment) = id.split_once('#').map_or((id, ""), |(p, f)| (p, f));
    let segment = path.rfind('/').map_or(0, |i| i + 1);
    let dot = path[segment..]
        .rfind('.')
        .map_or(path.len(), |i| segment + i);
    let fragment = if fragment.is_empty() {
        String::new()
    } else {
        format!("#{fragment}")
    };
    format!("{}.{new}{}{fragment}", &path[..dot], &path[dot..])
}

/// Drops repeated entries, keeping the first of each (a list a schema requires to be unique).
fn dedupe(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

/// `<name>` of `<name>.json`.
fn plain_stem(file: &str) -> Option<&str> {
    file.strip_suffix(".json")
}

/// `<name>` of `<name>.v<N>.json`.
fn event_stem(file: &str) -> Option<&str> {
    Some(file.strip_suffix(".json")?.rsplit_once(".v")?.0)
}

/// Refuses `name` when a file in `dir` has a different name that becomes the same Rust name
/// (`Checked-Out` beside `checked_out`), which `validate` would report as a collision.
fn check_no_clash(
    dir: &Path,
    kind: &str,
    name: &str,
    stem: fn(&str) -> Option<&str>,
) -> Result<(), Failure> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let normal = name.to_snake_case();
    for entry in entries.filter_map(Result::ok) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(existing) = stem(&file) else {
            continue;
        };
        if existing != name && existing.to_snake_case() == normal {
            return Err(error(
                format!(
                    "{kind} `{name}` would clash with the existing {kind} `{existing}`: both become the Rust name `{normal}`"
                ),
                Some(format!(
                    "use the existing `{existing}`, or pick a name that differs in more than case and separators"
                )),
            ));
        }
    }
    Ok(())
}

/// The highest N of `events/<aggregate>/<name>.v<N>.json`.
fn latest_version(schema: &Path, aggregate: &str, name: &str) -> Option<u32> {
    let dir = schema.join("events").join(aggregate);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            let stem = file.strip_suffix(".json")?;
            let (event, version) = stem.rsplit_once(".v")?;
            (event == name).then(|| version.parse().ok()).flatten()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_from_directories() {
        assert_eq!(project_name_for(Path::new("/tmp/My Shop")), "my-shop");
        assert_eq!(project_name_for(Path::new("/tmp/42")), "events-42");
    }

    #[test]
    fn a_new_version_gets_its_own_id() {
        assert_eq!(
            next_id("https://example.com/order/placed/v1.json", 1),
            "https://example.com/order/placed/v2.json"
        );
        assert_eq!(
            next_id("https://example.com/v1/order-placed.v1.json", 1),
            "https://example.com/v1/order-placed.v2.json"
        );
        assert_eq!(
            next_id("https://example.com/order-placed.json", 3),
            "https://example.com/order-placed.v4.json"
        );
        assert_eq!(next_id("urn:order:placed", 1), "urn:order:placed.v2");
        assert_eq!(
            next_id("https://example.com/dev1/a.json", 1),
            "https://example.com/dev1/a.v2.json"
        );
    }
}
