//! An EventCatalog directory: events (latest version at `events/<Id>/`, older ones under
//! `versioned/<semver>/`, each with its `schema.json` and `changelog.mdx`), commands, one service
//! per aggregate declaring what it sends and receives, one per saga receiving the events it reads
//! and sending the commands it sends, one per window receiving the events it reads, and a page
//! per owning team. Front matter
//! holds only what EventCatalog reads from authors; what it computes (`versions`,
//! `latestVersion`, `producers`, `consumers`) is left to it.

use super::facts::{Doc, EventFacts, Facts, VersionFacts};
use super::markdown::segment;
use super::saga_page::{self, Links};
use super::text::{Flavor, examples, field_rows, pretty, prose};
use super::window_page;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::templates::Templates;
use serde_json::{Map, Value, json};

const FLAVOR: Flavor = Flavor::Mdx;

/// The directories of the output the catalog owns.
pub const ROOTS: &[&str] = &["events", "commands", "services", "teams"];

/// Ids that EventCatalog shows and links by: events and commands share one namespace (a
/// service's `sends` and `receives` name either), services (aggregates', sagas' and windows')
/// another.
struct Ids {
    events: Vec<String>,
    commands: Vec<String>,
    services: Vec<String>,
    sagas: Vec<String>,
    windows: Vec<String>,
}

fn ids(facts: &Facts) -> Ids {
    let mut scope = crate::project::names::Scope::new();
    let mut claim = |wanted: String| scope.claim(wanted);
    let events = facts
        .events
        .iter()
        .map(|e| claim(e.rust_name.clone()))
        .collect();
    let commands = facts
        .commands
        .iter()
        .map(|c| {
            let title = crate::project::model::rust_type_name(
                Some(c.doc.title.as_str()),
                &format!("{}_{}", c.aggregate, c.name),
            );
            claim(title)
        })
        .collect();
    let services = facts
        .aggregates
        .iter()
        .map(|a| {
            claim(crate::project::names::type_name(
                &format!("{}_service", a.name),
                "Service",
            ))
        })
        .collect();
    let sagas = facts
        .sagas
        .iter()
        .map(|s| {
            claim(crate::project::names::type_name(
                &format!("{}_saga", s.name),
                "Saga",
            ))
        })
        .collect();
    let windows = facts
        .windows
        .iter()
        .map(|w| {
            claim(crate::project::names::type_name(
                &format!("{}_window", w.name),
                "Window",
            ))
        })
        .collect();
    Ids {
        events,
        commands,
        services,
        sagas,
        windows,
    }
}

/// Every file: (path relative to the root, contents).
/// `signed` goes in every page's front matter (a YAML comment) and every `schema.json`.
pub fn files(
    facts: &Facts,
    templates: &Templates,
    signed: &str,
) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let ids = ids(facts);
    let mut pages = Vec::new();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut page = |template: &str, path: String, front: Value, data: Value| match (
        templates.render(template, &data),
        front_matter(&front, signed),
    ) {
        (Ok(body), Ok(front)) => {
            pages.push((path, format!("{front}\n{}\n", super::markdown::tidy(&body))))
        }
        (Err(error), _) | (_, Err(error)) => {
            // One report per template, not one per page.
            if !errors
                .iter()
                .any(|e: &Diagnostic| e.message == error.message)
            {
                errors.push(error)
            }
        }
    };
    let event_id = |event_type: &str| -> Option<(&String, &EventFacts)> {
        let index = facts
            .events
            .iter()
            .position(|e| e.event_type == event_type)?;
        Some((&ids.events[index], &facts.events[index]))
    };
    let command_id = |key: &str| -> Option<&String> {
        let index = facts.commands.iter().position(|c| c.key == key)?;
        Some(&ids.commands[index])
    };
    let service_of = |aggregate: &str| -> Option<&String> {
        let index = facts.aggregates.iter().position(|a| a.name == aggregate)?;
        Some(&ids.services[index])
    };
    for (event, id) in facts.events.iter().zip(&ids.events) {
        let dir = format!("events/{}", segment(id));
        for version in &event.versions {
            let at = if version.version == event.latest {
                dir.clone()
            } else {
                format!("{dir}/versioned/{}", version.semver)
            };
            let mut front = message_front(id, &version.doc, &version.semver);
            front["badges"] = Value::Array(event_badges(event, version));
            let emitted_by: Vec<Value> = event
                .emitted_by
                .iter()
                .filter_map(|key| {
                    let command = facts.commands.iter().find(|c| &c.key == key)?;
                    Some(json!({"name": command.name, "id": command_id(key)?}))
                })
                .collect();
            let data = json!({
                "event_type": event.event_type,
                "cloudevents_type": version.cloudevents_type,
                "latest": version.version == event.latest,
                "category": event.category,
                "aggregate": event.aggregate,
                "service": service_of(&event.aggregate),
                "description": prose(&version.doc.description, FLAVOR),
                "emitted_by": emitted_by,
                "consumed_by": event.consumed_by,
                "fields": field_rows(FLAVOR, &version.fields),
                "examples": examples(&version.examples),
            });
            page(
                "eventcatalog-event.mdx.hbs",
                format!("{at}/index.mdx"),
                front,
                data,
            );
            files_schema(
                &mut files,
                format!("{at}/schema.json"),
                &version.schema,
                signed,
            );
            // The changelog of a version: how it and every version before it came to be.
            let entries: Vec<Value> = event
                .versions
                .iter()
                .filter(|v| v.version <= version.version)
                .rev()
                .map(changelog_entry)
                .collect();
            let breaking = version.changelog.as_ref().is_some_and(|log| !log.backward);
            let badge = match &version.changelog {
                None => badge("First version", "blue"),
                Some(_) if breaking => badge("Breaking: upcast", "orange"),
                Some(_) => badge("Backward compatible", "green"),
            };
            page(
                "eventcatalog-changelog.mdx.hbs",
                format!("{at}/changelog.mdx"),
                json!({ "badges": [badge] }),
                json!({ "event_type": event.event_type, "level": facts.level, "entries": entries }),
            );
        }
    }
    for (command, id) in facts.commands.iter().zip(&ids.commands) {
        let dir = format!("commands/{}", segment(id));
        let mut front = message_front(id, &command.doc, &facts.version);
        front["badges"] = json!([badge(&command.aggregate, "purple")]);
        front["operation"] = json!({
            "method": "POST",
            "path": format!("/commands/{}/{{id}}/{}", command.aggregate, command.name),
            "statusCodes": ["200", "400", "404", "409", "412", "413", "422"],
        });
        let emits: Vec<Value> = command
            .emits
            .iter()
            .filter_map(|t| {
                event_id(t).map(|(id, e)| json!({"event_type": e.event_type, "id": id}))
            })
            .collect();
        let data = json!({
            "key": command.key,
            "aggregate": command.aggregate,
            "name": command.name,
            "description": prose(&command.doc.description, FLAVOR),
            "emits": emits,
            "fields": field_rows(FLAVOR, &command.fields),
            "examples": examples(&command.examples),
        });
        page(
            "eventcatalog-command.mdx.hbs",
            format!("{dir}/index.mdx"),
            front,
            data,
        );
        files_schema(
            &mut files,
            format!("{dir}/schema.json"),
            &command.schema,
            signed,
        );
    }
    for (aggregate, id) in facts.aggregates.iter().zip(&ids.services) {
        let mut front = base_front(id, &aggregate.doc, &facts.version);
        front["name"] = json!(format!("{} service", aggregate.doc.title));
        front["badges"] = json!([badge(&format!("{}-<id>", aggregate.category), "blue")]);
        // Its own events, and those its commands emit elsewhere.
        let mut sent: Vec<&String> = aggregate.events.iter().collect();
        for key in &aggregate.commands {
            let command = facts.commands.iter().find(|c| &c.key == key);
            for emitted in command.into_iter().flat_map(|c| &c.emits) {
                if !sent.contains(&emitted) {
                    sent.push(emitted);
                }
            }
        }
        front["sends"] = sent
            .into_iter()
            .filter_map(|t| event_id(t))
            .map(|(id, e)| json!({"id": id, "version": format!("{}.0.0", e.latest)}))
            .collect();
        front["receives"] = aggregate
            .commands
            .iter()
            .filter_map(|key| command_id(key))
            .map(|id| json!({"id": id, "version": facts.version}))
            .collect();
        let data = json!({
            "aggregate": aggregate.name,
            "category": aggregate.category,
            "description": prose(&aggregate.doc.description, FLAVOR),
            "snapshot_every": aggregate.snapshot_every,
            "fields": field_rows(FLAVOR, &aggregate.fields),
            "consumed_by": aggregate.consumed_by,
        });
        page(
            "eventcatalog-service.mdx.hbs",
            format!("services/{}/index.mdx", segment(id)),
            front,
            data,
        );
    }
    for (saga, id) in facts.sagas.iter().zip(&ids.sagas) {
        let mut front = base_front(id, &saga.doc, &facts.version);
        front["name"] = json!(format!("{} saga", saga.doc.title));
        front["badges"] = json!([badge("Saga", "orange")]);
        front["sends"] = saga
            .machine
            .commands
            .iter()
            .filter_map(|c| command_id(&c.key))
            .map(|id| json!({"id": id, "version": facts.version}))
            .collect();
        front["receives"] = saga
            .machine
            .reads
            .iter()
            .filter_map(|r| event_id(&r.event_type))
            .map(|(id, e)| json!({"id": id, "version": format!("{}.0.0", e.latest)}))
            .collect();
        let mut data = saga_page::data(saga, FLAVOR, &Links::NONE);
        data["description"] = json!(prose(&saga.doc.description, FLAVOR));
        page(
            "eventcatalog-saga.mdx.hbs",
            format!("services/{}/index.mdx", segment(id)),
            front,
            data,
        );
    }
    for (window, id) in facts.windows.iter().zip(&ids.windows) {
        let mut front = base_front(id, &window.doc, &facts.version);
        front["name"] = json!(format!("{} window", window.doc.title));
        front["badges"] = json!([badge("Window", "teal")]);
        // `eventsmith.window.closed` is the runtime's event, not the catalog's: nothing to send.
        front["sends"] = json!([]);
        front["receives"] = window
            .windowing
            .reads
            .iter()
            .filter_map(|r| event_id(&r.event_type))
            .map(|(id, e)| json!({"id": id, "version": format!("{}.0.0", e.latest)}))
            .collect();
        let mut data = window_page::data(window, FLAVOR, &|_| None);
        data["description"] = json!(prose(&window.doc.description, FLAVOR));
        page(
            "eventcatalog-window.mdx.hbs",
            format!("services/{}/index.mdx", segment(id)),
            front,
            data,
        );
    }
    for owner in &facts.owners {
        let owned = |keys: &[String]| -> Vec<String> { keys.to_vec() };
        let front = json!({ "id": owner.id, "name": owner.id });
        let data = json!({
            "id": owner.id,
            "aggregates": owned(&owner.aggregates),
            "events": owned(&owner.events),
            "commands": owned(&owner.commands),
            "projections": owned(&owner.projections),
            "sagas": owned(&owner.sagas),
            "windows": owned(&owner.windows),
        });
        page(
            "eventcatalog-team.mdx.hbs",
            format!("teams/{}.mdx", segment(&owner.id)),
            front,
            data,
        );
    }
    if errors.is_empty() {
        pages.extend(files);
        pages.sort();
        Ok(pages)
    } else {
        Err(errors)
    }
}

/// A `schema.json` beside its page, signed in a `$comment` (its first key).
fn files_schema(files: &mut Vec<(String, String)>, path: String, schema: &Value, signed: &str) {
    let schema = match schema {
        Value::Object(object) => {
            let mut signed_schema = Map::new();
            signed_schema.insert("$comment".to_owned(), Value::String(signed.to_owned()));
            signed_schema.extend(
                object
                    .iter()
                    .filter(|(k, _)| *k != "$comment")
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            Value::Object(signed_schema)
        }
        other => other.clone(),
    };
    files.push((path, format!("{}\n", pretty(&schema))));
}

/// `id`, `name`, `version`, `summary`, `owners`: what every resource has.
fn base_front(id: &str, doc: &Doc, version: &str) -> Value {
    let mut front = json!({
        "id": id,
        "name": doc.title,
        "version": version,
    });
    if !doc.summary.is_empty() {
        front["summary"] = json!(doc.summary);
    }
    if !doc.owners.is_empty() {
        front["owners"] = json!(doc.owners);
    }
    front
}

/// A message's front matter: the base, its `schema.json`, its deprecation.
fn message_front(id: &str, doc: &Doc, version: &str) -> Value {
    let mut front = base_front(id, doc, version);
    front["schemaPath"] = json!("schema.json");
    if let Some(reason) = &doc.deprecated {
        front["deprecated"] = json!({ "message": reason });
    }
    front
}

fn badge(content: &str, color: &str) -> Value {
    json!({"content": content, "backgroundColor": color, "textColor": color})
}

fn event_badges(event: &EventFacts, version: &VersionFacts) -> Vec<Value> {
    let mut badges = vec![badge(&event.aggregate, "purple")];
    if version.doc.deprecated.is_some() {
        badges.push(badge("Deprecated", "red"));
    }
    if version.changelog.as_ref().is_some_and(|log| !log.backward) {
        badges.push(badge("Breaking: upcast", "orange"));
    }
    badges
}

/// Front matter: the signature as a YAML comment, then the fields.
fn front_matter(front: &Value, signed: &str) -> Result<String, Diagnostic> {
    let yaml = serde_norway::to_string(front).map_err(|error| {
        Diagnostic::new(
            Rule::CatalogFrontMatter,
            format!("cannot write front matter: {error}"),
        )
    })?;
    Ok(format!("---\n# {signed}\n{yaml}---\n"))
}

fn changelog_entry(version: &VersionFacts) -> Value {
    match &version.changelog {
        None => json!({"version": version.version, "semver": version.semver, "first": true}),
        Some(log) => {
            let mut data = log.page_data(FLAVOR);
            data["version"] = json!(version.version);
            data["semver"] = json!(version.semver);
            data["first"] = json!(false);
            data
        }
    }
}
