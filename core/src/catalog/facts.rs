//! What the catalog says about a project, independent of its format: every event with its
//! versions, fields, examples, changelogs, producers and consumers; every aggregate, command,
//! projection, saga and window; every owner. The renderers only lay these out.

use super::changelog::{self, Changelog};
use super::fields::{self, Field};
use super::sagas::{self, Machine};
use super::windows::{self, Windowing};
use crate::project::annotations::Deprecation;
use crate::project::model::{Event, Project};
use crate::schema::store::{DocId, NodeRef};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The catalog of a project.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// `[project] name`.
    pub name: String,
    /// `[project] description`.
    pub description: String,
    /// `[project] version`.
    pub version: String,
    /// The compatibility level the project keeps.
    pub level: &'static str,
    /// Aggregates by name.
    pub aggregates: Vec<AggregateFacts>,
    /// Events by type.
    pub events: Vec<EventFacts>,
    /// Commands by `<aggregate>.<name>`.
    pub commands: Vec<CommandFacts>,
    /// Projections by name.
    pub projections: Vec<ProjectionFacts>,
    /// Sagas by name.
    pub sagas: Vec<SagaFacts>,
    /// Windows by name.
    pub windows: Vec<WindowFacts>,
    /// Owners (teams) by id, with what they own.
    pub owners: Vec<OwnerFacts>,
}

/// What every described item has.
#[derive(Debug, Clone, Serialize)]
pub struct Doc {
    /// The schema's `title`, or the item's name.
    pub title: String,
    /// The first sentence of the description.
    pub summary: String,
    /// The whole description.
    pub description: String,
    /// Teams that own it.
    pub owners: Vec<String>,
    /// Why it is deprecated, when it is.
    pub deprecated: Option<String>,
    /// The schema file, relative to the project root.
    pub source: String,
}

/// An event type.
#[derive(Debug, Clone, Serialize)]
pub struct EventFacts {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// Its aggregate.
    pub aggregate: String,
    /// Its name within the aggregate.
    pub name: String,
    /// The Rust type name of its latest version (unique in the project).
    pub rust_name: String,
    /// The stream category its events are appended under.
    pub category: String,
    /// The latest version's documentation.
    pub doc: Doc,
    /// The latest version number.
    pub latest: u32,
    /// Commands that emit it.
    pub emitted_by: Vec<String>,
    /// Projections that subscribe to it.
    pub consumed_by: Vec<String>,
    /// Sagas that read it.
    pub read_by_sagas: Vec<String>,
    /// Windows that read it.
    pub read_by_windows: Vec<String>,
    /// Every version, oldest first.
    pub versions: Vec<VersionFacts>,
}

/// One version of an event.
#[derive(Debug, Clone, Serialize)]
pub struct VersionFacts {
    /// N.
    pub version: u32,
    /// `N.0.0`: each version is a major one.
    pub semver: String,
    /// `<aggregate>.<name>.vN`.
    pub cloudevents_type: String,
    /// This version's documentation.
    pub doc: Doc,
    /// Its payload's fields.
    pub fields: Vec<Field>,
    /// Its examples.
    pub examples: Vec<Value>,
    /// Its schema with every file it references bundled in: self-contained.
    pub schema: Value,
    /// What changed from the previous version (none for v1).
    pub changelog: Option<Changelog>,
}

/// A command.
#[derive(Debug, Clone, Serialize)]
pub struct CommandFacts {
    /// `<aggregate>.<name>`.
    pub key: String,
    /// The aggregate it targets.
    pub aggregate: String,
    /// Its name.
    pub name: String,
    /// Its documentation.
    pub doc: Doc,
    /// Event types it may emit.
    pub emits: Vec<String>,
    /// Sagas that send it (as a step or a compensation).
    pub sent_by_sagas: Vec<String>,
    /// Its payload's fields.
    pub fields: Vec<Field>,
    /// Its examples.
    pub examples: Vec<Value>,
    /// Its bundled schema.
    pub schema: Value,
}

/// An aggregate.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateFacts {
    /// Its name.
    pub name: String,
    /// Its documentation.
    pub doc: Doc,
    /// Streams are `<category>-<id>`.
    pub category: String,
    /// Snapshot every N events.
    pub snapshot_every: Option<u32>,
    /// Its state's fields.
    pub fields: Vec<Field>,
    /// Its commands (`<aggregate>.<name>`).
    pub commands: Vec<String>,
    /// Its event types.
    pub events: Vec<String>,
    /// Projections subscribing to any of its events.
    pub consumed_by: Vec<String>,
}

/// A projection.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectionFacts {
    /// Its name.
    pub name: String,
    /// Its documentation.
    pub doc: Doc,
    /// The row property that keys it.
    pub key: String,
    /// Event types it handles.
    pub subscribes: Vec<String>,
    /// Its row's fields.
    pub fields: Vec<Field>,
    /// Its examples.
    pub examples: Vec<Value>,
    /// Its bundled schema.
    pub schema: Value,
}

/// A saga (process manager).
#[derive(Debug, Clone, Serialize)]
pub struct SagaFacts {
    /// Its name.
    pub name: String,
    /// Its documentation (the file's `title` and `description`).
    pub doc: Doc,
    /// Its states, steps, events, commands, timeouts, retries and compensations.
    pub machine: Machine,
    /// Its state's fields.
    pub fields: Vec<Field>,
    /// Its examples.
    pub examples: Vec<Value>,
    /// Its bundled schema.
    pub schema: Value,
}

/// A window (windowed aggregation).
#[derive(Debug, Clone, Serialize)]
pub struct WindowFacts {
    /// Its name.
    pub name: String,
    /// Its documentation (the file's `title` and `description`).
    pub doc: Doc,
    /// What it reads and groups by, how it cuts time, its aggregates.
    pub windowing: Windowing,
    /// Its examples (of its aggregates).
    pub examples: Vec<Value>,
    /// Its bundled schema.
    pub schema: Value,
}

/// A team and what it owns.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OwnerFacts {
    /// The team's id, as the schemas name it.
    pub id: String,
    /// Event types.
    pub events: Vec<String>,
    /// Commands.
    pub commands: Vec<String>,
    /// Aggregates.
    pub aggregates: Vec<String>,
    /// Projections.
    pub projections: Vec<String>,
    /// Sagas.
    pub sagas: Vec<String>,
    /// Windows.
    pub windows: Vec<String>,
}

/// The facts of `project`.
pub fn gather(project: &Project) -> Facts {
    let level = project.config.compatibility.level;
    let sagas: Vec<SagaFacts> = project
        .sagas
        .iter()
        .map(|(name, saga)| SagaFacts {
            name: name.clone(),
            doc: doc(project, saga.schema, name, &saga.annotations.owners, None),
            machine: sagas::machine(&saga.annotations),
            fields: fields::fields(&project.store, &root(saga.schema)),
            examples: examples(project, saga.schema),
            schema: bundled(project, saga.schema),
        })
        .collect();
    let sagas_where = |uses: &dyn Fn(&Machine) -> bool| -> Vec<String> {
        sagas
            .iter()
            .filter(|s| uses(&s.machine))
            .map(|s| s.name.clone())
            .collect()
    };
    let mut events = in_parallel(unique_names(project), |(event, rust_name)| {
        event_facts(project, event, rust_name, level)
    });
    for event in &mut events {
        event.read_by_sagas =
            sagas_where(&|m| m.reads.iter().any(|r| r.event_type == event.event_type));
    }
    let windows: Vec<WindowFacts> = project
        .windows
        .iter()
        .map(|(name, window)| {
            let latest_fields = |event_type: &str| {
                let event = events.iter().find(|e| e.event_type == event_type)?;
                Some(event.versions.last()?.fields.as_slice())
            };
            let schema_fields = fields::fields(&project.store, &root(window.schema));
            WindowFacts {
                name: name.clone(),
                doc: doc(
                    project,
                    window.schema,
                    name,
                    &window.annotations.owners,
                    None,
                ),
                windowing: windows::windowing(&window.annotations, &schema_fields, &latest_fields),
                examples: examples(project, window.schema),
                schema: bundled(project, window.schema),
            }
        })
        .collect();
    for event in &mut events {
        event.read_by_windows = windows
            .iter()
            .filter(|w| {
                w.windowing
                    .reads
                    .iter()
                    .any(|r| r.event_type == event.event_type)
            })
            .map(|w| w.name.clone())
            .collect();
    }
    let commands: Vec<CommandFacts> = project
        .commands
        .iter()
        .map(|(key, command)| CommandFacts {
            key: key.clone(),
            aggregate: command.aggregate.clone(),
            name: command.name.clone(),
            doc: doc(
                project,
                command.schema,
                &command.name,
                &command.annotations.owners,
                command.annotations.deprecated.as_ref(),
            ),
            emits: command.annotations.emits.clone(),
            sent_by_sagas: sagas_where(&|m| m.commands.iter().any(|c| &c.key == key)),
            fields: fields::fields(&project.store, &root(command.schema)),
            examples: examples(project, command.schema),
            schema: bundled(project, command.schema),
        })
        .collect();
    let projections: Vec<ProjectionFacts> = project
        .projections
        .iter()
        .map(|(name, projection)| ProjectionFacts {
            name: name.clone(),
            doc: doc(
                project,
                projection.schema,
                name,
                &projection.annotations.owners,
                None,
            ),
            key: projection.annotations.key.clone(),
            subscribes: projection.annotations.subscribes.clone(),
            fields: fields::fields(&project.store, &root(projection.schema)),
            examples: examples(project, projection.schema),
            schema: bundled(project, projection.schema),
        })
        .collect();
    // Every event and command has an aggregate file (`validate` requires it).
    let aggregates: Vec<AggregateFacts> = project
        .aggregates
        .iter()
        .map(|(name, aggregate)| {
            let own_events: Vec<String> = project.events_of(name).map(Event::event_type).collect();
            let consumed_by = projections
                .iter()
                .filter(|p| p.subscribes.iter().any(|e| own_events.contains(e)))
                .map(|p| p.name.clone())
                .collect();
            AggregateFacts {
                name: name.clone(),
                doc: doc(
                    project,
                    aggregate.schema,
                    name,
                    &aggregate.annotations.owners,
                    None,
                ),
                category: aggregate.stream_category().to_owned(),
                snapshot_every: aggregate.annotations.snapshot.map(|s| s.every),
                fields: fields::fields(&project.store, &root(aggregate.schema)),
                commands: project
                    .commands_of(name)
                    .map(|c| format!("{}.{}", c.aggregate, c.name))
                    .collect(),
                events: own_events,
                consumed_by,
            }
        })
        .collect();
    let mut owners: BTreeMap<String, OwnerFacts> = BTreeMap::new();
    let mut own = |ids: &[String], push: &dyn Fn(&mut OwnerFacts)| {
        for id in ids {
            let owner = owners.entry(id.clone()).or_insert_with(|| OwnerFacts {
                id: id.clone(),
                ..Default::default()
            });
            push(owner);
        }
    };
    for event in &events {
        own(&event.doc.owners, &|o: &mut OwnerFacts| {
            o.events.push(event.event_type.clone())
        });
    }
    for command in &commands {
        own(&command.doc.owners, &|o: &mut OwnerFacts| {
            o.commands.push(command.key.clone())
        });
    }
    for aggregate in &aggregates {
        own(&aggregate.doc.owners, &|o: &mut OwnerFacts| {
            o.aggregates.push(aggregate.name.clone())
        });
    }
    for projection in &projections {
        own(&projection.doc.owners, &|o: &mut OwnerFacts| {
            o.projections.push(projection.name.clone())
        });
    }
    for saga in &sagas {
        own(&saga.doc.owners, &|o: &mut OwnerFacts| {
            o.sagas.push(saga.name.clone())
        });
    }
    for window in &windows {
        own(&window.doc.owners, &|o: &mut OwnerFacts| {
            o.windows.push(window.name.clone())
        });
    }
    Facts {
        name: project.config.project.name.clone(),
        description: project
            .config
            .project
            .description
            .clone()
            .unwrap_or_default(),
        version: project.config.project.version.clone(),
        level: level.name(),
        aggregates,
        events,
        commands,
        projections,
        sagas,
        windows,
        owners: owners.into_values().collect(),
    }
}

/// `f` over `items` on every core, in order: diffs, field tables and bundles of thousands of
/// versions are the bulk of a catalog's time.
fn in_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(per_thread).collect());
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn root(doc: DocId) -> NodeRef {
    NodeRef {
        doc,
        pointer: String::new(),
    }
}

/// Events with a Rust name each that no other event shares: the title's, else prefixed with the
/// aggregate, else numbered.
fn unique_names(project: &Project) -> Vec<(&Event, String)> {
    let wanted: Vec<(&Event, String)> = project
        .events
        .values()
        .map(|e| (e, e.rust_name(&project.store)))
        .collect();
    let mut scope = crate::project::names::Scope::new();
    let mut out = Vec::new();
    for (event, name) in &wanted {
        let shared = wanted.iter().filter(|(_, other)| other == name).count() > 1;
        let candidate = if shared {
            crate::project::names::type_name(&format!("{}_{name}", event.aggregate), "Event")
        } else {
            name.clone()
        };
        out.push((*event, scope.claim(candidate)));
    }
    out
}

fn event_facts(
    project: &Project,
    event: &Event,
    rust_name: String,
    level: crate::project::config::Level,
) -> EventFacts {
    let event_type = event.event_type();
    let versions: Vec<VersionFacts> = event
        .versions
        .iter()
        .enumerate()
        .map(|(index, version)| VersionFacts {
            version: version.version,
            semver: format!("{}.0.0", version.version),
            cloudevents_type: format!("{event_type}.v{}", version.version),
            doc: doc(
                project,
                version.schema,
                &rust_name,
                &version.annotations.owners,
                version.annotations.deprecated.as_ref(),
            ),
            fields: fields::fields(&project.store, &root(version.schema)),
            examples: examples(project, version.schema),
            schema: bundled(project, version.schema),
            changelog: index.checked_sub(1).map(|previous| {
                changelog::between(&project.store, &event.versions[previous], version, level)
            }),
        })
        .collect();
    let latest = event.latest();
    EventFacts {
        category: project
            .aggregates
            .get(&event.aggregate)
            .map_or(event.aggregate.as_str(), |a| a.stream_category())
            .to_owned(),
        aggregate: event.aggregate.clone(),
        name: event.name.clone(),
        doc: doc(
            project,
            latest.schema,
            &rust_name,
            &latest.annotations.owners,
            latest.annotations.deprecated.as_ref(),
        ),
        rust_name,
        latest: latest.version,
        emitted_by: project
            .commands
            .iter()
            .filter(|(_, c)| c.annotations.emits.contains(&event_type))
            .map(|(key, _)| key.clone())
            .collect(),
        consumed_by: project
            .projections
            .iter()
            .filter(|(_, p)| p.annotations.subscribes.contains(&event_type))
            .map(|(name, _)| name.clone())
            .collect(),
        read_by_sagas: Vec::new(),
        read_by_windows: Vec::new(),
        event_type,
        versions,
    }
}

fn doc(
    project: &Project,
    schema: DocId,
    name: &str,
    owners: &[String],
    deprecated: Option<&Deprecation>,
) -> Doc {
    let document = project.store.document(schema);
    let text = |key: &str| {
        document
            .value()
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let description = text("description");
    let title = Some(text("title"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| name.to_owned());
    let source = crate::io::paths::relative_path(&project.root, document.path());
    Doc {
        title,
        summary: summary(&description),
        description,
        owners: owners.to_vec(),
        deprecated: deprecated.filter(|d| d.is_deprecated()).map(|d| match d {
            Deprecation::Details {
                reason,
                replaced_by,
            } => match replaced_by {
                Some(by) => format!("{reason} (use `{by}` instead)"),
                None => reason.clone(),
            },
            Deprecation::Flag(_) => "deprecated".to_owned(),
        }),
        source,
    }
}

/// The first sentence of a description, on one line. A full stop ends it when the next word does
/// not start in lower case and the word it closes is not an abbreviation (`e.g.`, `vs.`).
pub fn summary(description: &str) -> String {
    let line = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut in_code = false;
    for (index, c) in line.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '.' | '!' | '?' if !in_code => {
                let rest = &line[index + 1..];
                let Some(next) = rest.strip_prefix(' ').or(rest.is_empty().then_some("")) else {
                    continue;
                };
                let word = line[..index].rsplit(' ').next().unwrap_or_default();
                let continues =
                    next.starts_with(char::is_lowercase) || (c == '.' && is_abbreviation(word));
                if !continues {
                    return line[..=index].to_owned();
                }
            }
            _ => {}
        }
    }
    line
}

/// `e.g`, `i.e`, `U.S` (dotted letters) and the short words a full stop follows inside a
/// sentence; not `order.placed` or `1.2`.
fn is_abbreviation(word: &str) -> bool {
    const SHORT: [&str; 10] = [
        "approx", "cf", "dr", "fig", "incl", "mr", "mrs", "ms", "no", "vs",
    ];
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let dotted_letters = word.contains('.')
        && word
            .split('.')
            .all(|part| (1..=2).contains(&part.len()) && part.chars().all(char::is_alphabetic));
    dotted_letters || SHORT.contains(&word.to_lowercase().as_str())
}

fn examples(project: &Project, schema: DocId) -> Vec<Value> {
    project
        .store
        .document(schema)
        .value()
        .get("examples")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The self-contained schema, without eventsmith's annotations (they are the catalog's prose).
fn bundled(project: &Project, schema: DocId) -> Value {
    let mut value = crate::schema::bundle::bundle(&project.store, schema, &project.schema_dir())
        .unwrap_or_else(|| project.store.document(schema).value().clone());
    if let Value::Object(object) = &mut value {
        object.shift_remove(crate::project::annotations::KEYWORD);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_end_at_the_first_sentence_outside_code() {
        let cases = [
            (
                "A customer placed an order. Version 2 adds `currency`.",
                "A customer placed an order.",
            ),
            ("Sets `a.b` to\n  3. Then more.", "Sets `a.b` to 3."),
            ("No full stop", "No full stop"),
            ("", ""),
            (
                "Money, e.g. EUR 3. Amounts are exact.",
                "Money, e.g. EUR 3.",
            ),
            (
                "Names (i.e. the legal ones) vs. aliases. More.",
                "Names (i.e. the legal ones) vs. aliases.",
            ),
            ("Version 2. it continues.", "Version 2. it continues."),
            ("Done! Next.", "Done!"),
            ("Etc. Ends here.", "Etc."),
            (
                "Supersedes `order.placed`. Use v2.",
                "Supersedes `order.placed`.",
            ),
            ("Requires 1.2. Older ones fail.", "Requires 1.2."),
            (
                "Made in the U.S. Then shipped.",
                "Made in the U.S. Then shipped.",
            ),
        ];
        for (description, first) in cases {
            assert_eq!(summary(description), first, "{description:?}");
        }
    }
}
