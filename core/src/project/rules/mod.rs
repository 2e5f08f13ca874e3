//! Builds the typed model from the loaded files and checks the project-wide rules: version
//! sequences, name collisions, aggregates, emitted and subscribed events, stream categories,
//! projection keys and upcast placement.

use crate::diagnostic::Rule;
use crate::diagnostic::{Diagnostic, Span};
use crate::project::annotations::{
    AggregateAnnotations, CommandAnnotations, EventAnnotations, KEYWORD, ProjectionAnnotations,
};
use crate::project::layout::FileRole;
use crate::project::layout::{RoleFile, declared_aggregates, declared_events};
use crate::project::model::{
    Aggregate, Command, Event, EventVersion, Project, Projection, Saga, Window,
};
use crate::project::naming::Naming;
use crate::project::saga::SagaAnnotations;
use crate::project::window::WindowAnnotations;
use crate::schema::store::DocId;
use crate::text::pointer;
use crate::text::similar::closest;
use heck::ToSnakeCase;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Fills `project` from the classified files and returns the diagnostics of the project rules.
pub(crate) fn build_model(
    project: &mut Project,
    files: &[RoleFile],
    invalid: &HashSet<DocId>,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut versions: BTreeMap<(String, String), Vec<(u32, &RoleFile)>> = BTreeMap::new();
    for file in files {
        let annotations_ok = |doc: DocId| !invalid.contains(&doc);
        match (&file.role, file.doc) {
            (
                FileRole::Event {
                    aggregate,
                    name,
                    version,
                },
                _,
            ) => {
                versions
                    .entry((aggregate.clone(), name.clone()))
                    .or_default()
                    .push((*version, file));
            }
            (FileRole::Command { aggregate, name }, Some(doc)) => {
                let annotations: CommandAnnotations =
                    parse_annotations(project, doc, annotations_ok(doc), &mut diagnostics);
                project.commands.insert(
                    format!("{aggregate}.{name}"),
                    Command {
                        aggregate: aggregate.clone(),
                        name: name.clone(),
                        schema: doc,
                        annotations,
                    },
                );
            }
            (FileRole::Aggregate { name }, Some(doc)) => {
                let annotations: AggregateAnnotations =
                    parse_annotations(project, doc, annotations_ok(doc), &mut diagnostics);
                project.aggregates.insert(
                    name.clone(),
                    Aggregate {
                        name: name.clone(),
                        schema: doc,
                        annotations,
                    },
                );
            }
            (FileRole::Projection { name }, Some(doc)) => {
                let annotations: ProjectionAnnotations =
                    parse_annotations(project, doc, annotations_ok(doc), &mut diagnostics);
                project.projections.insert(
                    name.clone(),
                    Projection {
                        name: name.clone(),
                        schema: doc,
                        annotations,
                    },
                );
            }
            (FileRole::Saga { name }, Some(doc)) => {
                let annotations: SagaAnnotations =
                    parse_annotations(project, doc, annotations_ok(doc), &mut diagnostics);
                project.sagas.insert(
                    name.clone(),
                    Saga {
                        name: name.clone(),
                        schema: doc,
                        annotations,
                    },
                );
            }
            (FileRole::Window { name }, Some(doc)) => {
                let annotations: WindowAnnotations =
                    parse_annotations(project, doc, annotations_ok(doc), &mut diagnostics);
                project.windows.insert(
                    name.clone(),
                    Window {
                        name: name.clone(),
                        schema: doc,
                        annotations,
                    },
                );
            }
            (FileRole::Type, Some(doc)) => project.types.push(doc),
            (_, None) => {}
        }
    }
    for ((aggregate, name), mut found) in versions {
        found.sort_by_key(|(version, _)| *version);
        check_version_sequence(project, &aggregate, &name, &found, &mut diagnostics);
        let mut event = Event {
            aggregate: aggregate.clone(),
            name: name.clone(),
            versions: Vec::new(),
        };
        for (version, file) in found {
            let Some(doc) = file.doc else { continue };
            let annotations: EventAnnotations =
                parse_annotations(project, doc, !invalid.contains(&doc), &mut diagnostics);
            if version == 1 && annotations.upcast.is_some() {
                diagnostics.push(project.store.document(doc).diagnostic_at(
                    Diagnostic::new(Rule::UpcastOnFirstVersion, "version 1 has nothing to upcast from")
                        .with_label("`upcast` describes how version N-1 becomes N")
                        .with_help("remove `upcast` from v1; put it in the file of the version it produces"),
                    &pointer::push(&pointer::push("", KEYWORD), "upcast"),
                ));
            }
            event.versions.push(EventVersion {
                version,
                schema: doc,
                annotations,
            });
        }
        if !event.versions.is_empty() {
            project.events.insert(format!("{aggregate}.{name}"), event);
        }
    }
    check_aggregates_defined(project, files, &mut diagnostics);
    check_collisions(project, files, &mut diagnostics);
    check_references(project, &declared_events(files), &mut diagnostics);
    check_names_that_give_way(project, &mut diagnostics);
    check_emits_own_aggregate(project, &mut diagnostics);
    check_stream_categories(project, &mut diagnostics);
    check_projection_keys(project, &mut diagnostics);
    sagas::check(project, &mut diagnostics);
    windows::check(project, &mut diagnostics);
    diagnostics
}

/// Typed annotations of a document; defaults when invalid (the violation is already reported).
fn parse_annotations<T: DeserializeOwned + Default>(
    project: &Project,
    doc: DocId,
    valid: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> T {
    let document = project.store.document(doc);
    let at = pointer::push("", KEYWORD);
    let Some(value) = document.get(&at) else {
        return T::default();
    };
    if !valid {
        return serde_json::from_value(value.clone()).unwrap_or_default();
    }
    match serde_json::from_value(value.clone()) {
        Ok(annotations) => annotations,
        Err(err) => {
            diagnostics.push(
                document.diagnostic_at(
                    Diagnostic::new(Rule::Annotation, format!("invalid `x-eventsmith`: {err}"))
                        .with_help("see docs/schema-format.md#annotations"),
                    &at,
                ),
            );
            T::default()
        }
    }
}

fn check_version_sequence(
    project: &Project,
    aggregate: &str,
    name: &str,
    found: &[(u32, &RoleFile)],
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (index, (version, file)) in found.iter().enumerate() {
        let expected = index as u32 + 1;
        if *version != expected {
            let present: Vec<String> = found.iter().map(|(v, _)| format!("v{v}")).collect();
            diagnostics.push(
                Diagnostic::new(
                    Rule::VersionSequence,
                    format!(
                        "event `{aggregate}.{name}` has versions {} but no v{expected}",
                        present.join(", ")
                    ),
                )
                .in_file(&file.display, Some(file_span(project, file)))
                .with_label(format!("expected {name}.v{expected}.json before this version"))
                .with_help("versions start at 1 and go up by one: add the missing version or rename this file"),
            );
            return;
        }
    }
}

/// Where a file-level finding points: the opening brace of the file, or 1:1 when it did not parse.
fn file_span(project: &Project, file: &RoleFile) -> Span {
    match file.doc {
        Some(doc) => project.store.document(doc).span_of(""),
        None => Span {
            start: 0,
            end: 0,
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        },
    }
}

fn check_aggregates_defined(
    project: &Project,
    files: &[RoleFile],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let declared = declared_aggregates(files);
    let mut reported = HashSet::new();
    for file in files {
        let aggregate = match &file.role {
            FileRole::Event { aggregate, .. } | FileRole::Command { aggregate, .. } => aggregate,
            _ => continue,
        };
        if !declared.contains(aggregate.as_str()) && reported.insert(aggregate.clone()) {
            diagnostics.push(
                Diagnostic::new(Rule::UndefinedAggregate, format!("aggregate `{aggregate}` is used but not defined"))
                    .in_file(&file.display, Some(file_span(project, file)))
                    .with_label(format!("this file belongs to aggregate `{aggregate}`"))
                    .with_help(format!(
                        "add aggregates/{aggregate}.json (`eventsmith new aggregate {aggregate}`) or move the file"
                    )),
            );
        }
    }
}

/// Names that differ but become the same Rust identifier collide: `item-added` and `item_added`.
fn check_collisions(project: &Project, files: &[RoleFile], diagnostics: &mut Vec<Diagnostic>) {
    let mut groups: BTreeMap<(String, String), Vec<(String, &RoleFile)>> = BTreeMap::new();
    for file in files {
        let (namespace, name) = match &file.role {
            FileRole::Event {
                aggregate, name, ..
            } => (format!("events of aggregate `{aggregate}`"), name),
            FileRole::Command { aggregate, name } => {
                (format!("commands of aggregate `{aggregate}`"), name)
            }
            FileRole::Aggregate { name } => ("aggregates".to_owned(), name),
            // They run on the read model, where their names key checkpoints and tables.
            FileRole::Projection { name } | FileRole::Saga { name } | FileRole::Window { name } => {
                ("projections, sagas and windows".to_owned(), name)
            }
            FileRole::Type => continue,
        };
        let group = groups.entry((namespace, name.to_snake_case())).or_default();
        if !group.iter().any(|(existing, _)| existing == name) {
            group.push((name.clone(), file));
        }
    }
    // Aggregate directories under events/ and commands/ share the aggregate namespace.
    for file in files {
        if let FileRole::Event { aggregate, .. } | FileRole::Command { aggregate, .. } = &file.role
        {
            let group = groups
                .entry(("aggregates".to_owned(), aggregate.to_snake_case()))
                .or_default();
            if !group.iter().any(|(existing, _)| existing == aggregate) {
                group.push((aggregate.clone(), file));
            }
        }
    }
    for ((namespace, normal), group) in &groups {
        if let [(first, _), rest @ ..] = group.as_slice() {
            for (other, file) in rest {
                diagnostics.push(
                    Diagnostic::new(
                        Rule::NameCollision,
                        format!("`{other}` and `{first}` collide: both become `{normal}` among the {namespace}"),
                    )
                    .in_file(&file.display, Some(file_span(project, file)))
                    .with_label(format!("`{other}` clashes with `{first}`"))
                    .with_help("generated Rust names come from these names: rename one of them"),
                );
            }
        }
    }
    // Rust type names from titles: two events of one aggregate must not share one.
    let mut titles: BTreeMap<(String, String), &str> = BTreeMap::new();
    for event in project.events.values() {
        let document = project.store.document(event.latest().schema);
        let rust_name = event.rust_name(&project.store);
        let key = (event.aggregate.clone(), rust_name.clone());
        if let Some(first) = titles.get(&key) {
            if first.to_snake_case() == event.name.to_snake_case() {
                continue; // already reported as colliding names
            }
            diagnostics.push(
                document.diagnostic_at(
                    Diagnostic::new(
                        Rule::NameCollision,
                        format!(
                            "events `{}.{first}` and `{}` both become the Rust type `{rust_name}`",
                            event.aggregate,
                            event.event_type()
                        ),
                    )
                    .with_label("this title gives the same type name")
                    .with_help("give one of them a different `title`"),
                    "/title",
                ),
            );
        } else {
            titles.insert(key, &event.name);
        }
    }
}

/// Titles whose type names give way (warnings; the generated code still compiles), named as
/// the generator names them.
fn check_names_that_give_way(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.extend(Naming::of(project).diagnostics);
}

/// Commands must emit, and projections subscribe to, events that exist.
/// An event whose files exist but do not parse is reported at those files, not here.
fn check_references(
    project: &Project,
    declared: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let known: Vec<String> = project.events.keys().cloned().collect();
    let mut check = |doc: DocId, list: &[String], field: &str, verb: &str| {
        for (index, event_type) in list.iter().enumerate() {
            if project.events.contains_key(event_type) || declared.contains(event_type) {
                continue;
            }
            let help = match closest(event_type, known.iter().map(String::as_str)) {
                Some(near) => format!(
                    "did you mean `{near}`? event types are `<aggregate>.<name>` of a file events/<aggregate>/<name>.v<N>.json"
                ),
                None => format!(
                    "add events/{}.v1.json or fix the name",
                    event_type.replacen('.', "/", 1)
                ),
            };
            let at = pointer::push(
                &pointer::push(&pointer::push("", KEYWORD), field),
                &index.to_string(),
            );
            let code = if field == "emits" {
                Rule::UnknownEmittedEvent
            } else {
                Rule::UnknownSubscribedEvent
            };
            diagnostics.push(
                project.store.document(doc).diagnostic_at(
                    Diagnostic::new(code, format!("{verb} `{event_type}`, which is not defined"))
                        .with_label("no such event")
                        .with_help(help),
                    &at,
                ),
            );
        }
    };
    for command in project.commands.values() {
        check(
            command.schema,
            &command.annotations.emits,
            "emits",
            &format!("command `{}.{}` emits", command.aggregate, command.name),
        );
    }
    for projection in project.projections.values() {
        check(
            projection.schema,
            &projection.annotations.subscribes,
            "subscribes",
            &format!("projection `{}` subscribes to", projection.name),
        );
    }
}

/// A command is decided by its aggregate and appends to that aggregate's stream, so it can only
/// emit that aggregate's events.
fn check_emits_own_aggregate(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for command in project.commands.values() {
        for (index, event_type) in command.annotations.emits.iter().enumerate() {
            let Some(event) = project.events.get(event_type) else {
                continue;
            };
            if event.aggregate == command.aggregate {
                continue;
            }
            let at = pointer::push(
                &pointer::push(&pointer::push("", KEYWORD), "emits"),
                &index.to_string(),
            );
            diagnostics.push(
                project.store.document(command.schema).diagnostic_at(
                    Diagnostic::new(
                        Rule::EmitsOtherAggregate,
                        format!(
                            "command `{}.{}` emits `{event_type}`, an event of aggregate `{}`",
                            command.aggregate, command.name, event.aggregate
                        ),
                    )
                    .with_label(format!("not an event of `{}`", command.aggregate))
                    .with_help(format!(
                        "a command appends to its own aggregate's stream: emit an event of `{}`, or move the command to commands/{}/",
                        command.aggregate, event.aggregate
                    )),
                    &at,
                ),
            );
        }
    }
}

/// Streams are `<category>-<id>`: two aggregates must not share a category, and a category that
/// another one extends with a dash (`order`, `order-line`) lets ids collide (`order` + `line-1`).
fn check_stream_categories(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    let at = |aggregate: &Aggregate, diagnostic| {
        let pointer = if aggregate.annotations.stream.is_some() {
            pointer::push(&pointer::push("", KEYWORD), "stream")
        } else {
            String::new()
        };
        project
            .store
            .document(aggregate.schema)
            .diagnostic_at(diagnostic, &pointer)
    };
    let mut by_category: BTreeMap<&str, Vec<&Aggregate>> = BTreeMap::new();
    for aggregate in project.aggregates.values() {
        by_category
            .entry(aggregate.stream_category())
            .or_default()
            .push(aggregate);
    }
    for (category, members) in &by_category {
        // The owner is the aggregate the category is named after, if any; the others are reported.
        let first = owner(category, members);
        let others = members.iter().filter(|a| a.name != first.name);
        for &aggregate in others {
            diagnostics.push(at(
                aggregate,
                Diagnostic::new(
                    Rule::StreamCollision,
                    format!(
                        "aggregates `{}` and `{}` both write streams `{category}-<id>`",
                        first.name, aggregate.name
                    ),
                )
                .with_label(format!("the stream category of `{}` too", first.name))
                .with_help(format!(
                    "give `{}` a `stream` of its own in `x-eventsmith`",
                    aggregate.name
                )),
            ));
        }
    }
    for (short, short_members) in &by_category {
        for (long, long_members) in &by_category {
            let Some(rest) = long
                .strip_prefix(short)
                .and_then(|rest| rest.strip_prefix('-'))
            else {
                continue;
            };
            let (short_aggregate, long_aggregate) =
                (owner(short, short_members), owner(long, long_members));
            diagnostics.push(at(
                long_aggregate,
                Diagnostic::new(
                    Rule::StreamOverlap,
                    format!(
                        "streams of `{}` can be read as streams of `{}`: `{long}-1` is also `{short}` with id `{rest}-1`",
                        long_aggregate.name, short_aggregate.name
                    ),
                )
                .with_label(format!("`{long}` is `{short}` plus a dash"))
                .with_help(
                    "choose categories where neither is the other plus a dash, or ids that cannot start with that suffix",
                ),
            ));
        }
    }
}

/// Of aggregates sharing a stream category, the one named like it, else the first by name.
fn owner<'a>(category: &str, members: &[&'a Aggregate]) -> &'a Aggregate {
    members
        .iter()
        .find(|a| a.name == category)
        .unwrap_or(&members[0])
}

/// A projection's key must be a property of its row.
fn check_projection_keys(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for projection in project.projections.values() {
        let key = &projection.annotations.key;
        if key.is_empty() {
            continue;
        }
        // A root whose `$ref` does not resolve is reported as such, not as a missing key.
        let Some(root) = project.store.follow(&project.root_of(projection.schema)) else {
            continue;
        };
        let properties = project
            .value(&root)
            .and_then(|schema| schema.get("properties"))
            .and_then(|p| p.as_object());
        if properties.is_some_and(|p| p.contains_key(key)) {
            continue;
        }
        let names = properties
            .map(|p| p.keys().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        let help = match closest(key, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "name a property of the row schema's `properties`".to_owned(),
        };
        let at = pointer::push(&pointer::push("", KEYWORD), "key");
        diagnostics.push(
            project.store.document(projection.schema).diagnostic_at(
                Diagnostic::new(
                    Rule::ProjectionKey,
                    format!("projection key `{key}` is not a property of the row"),
                )
                .with_label("not a row property")
                .with_help(help),
                &at,
            ),
        );
    }
}

mod sagas;
#[cfg(test)]
mod tests;
// `check` reads the fields windows read, as the rules look them up.
pub(crate) mod windows;
