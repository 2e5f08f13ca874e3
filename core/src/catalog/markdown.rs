//! The Markdown catalog: an index (`README.md`, so GitHub shows it for the directory), a page per
//! event, aggregate, command, projection, saga and window, each linking the others by relative
//! paths.

use super::facts::{Doc, EventFacts, Facts};
use super::fields::inline_code;
use super::saga_page::{self, Links};
use super::text::{Flavor, Flow, Shape, cell, examples, field_rows, node_id, pretty, prose};
use super::window_page;
use crate::templates::Templates;
use serde_json::{Value, json};
use std::path::Path;

const FLAVOR: Flavor = Flavor::Markdown;

/// What a path segment of a link must percent-encode to stay one link destination.
const LINK_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'(')
    .add(b')')
    .add(b'[')
    .add(b']')
    .add(b'{')
    .add(b'}')
    .add(b'|');

/// The directories (and files) of the output the catalog owns.
pub const ROOTS: &[&str] = &[
    "README.md",
    "events",
    "aggregates",
    "commands",
    "projections",
    "sagas",
    "windows",
];

/// Where each page goes, relative to the catalog's root.
pub fn event_page(event_type: &str) -> String {
    let (aggregate, name) = event_type.split_once('.').unwrap_or(("", event_type));
    format!("events/{}/{}.md", segment(aggregate), segment(name))
}

fn aggregate_page(name: &str) -> String {
    format!("aggregates/{}.md", segment(name))
}

fn command_page(key: &str) -> String {
    let (aggregate, name) = key.split_once('.').unwrap_or(("", key));
    format!("commands/{}/{}.md", segment(aggregate), segment(name))
}

fn projection_page(name: &str) -> String {
    format!("projections/{}.md", segment(name))
}

fn saga_page(name: &str) -> String {
    format!("sagas/{}.md", segment(name))
}

fn window_page(name: &str) -> String {
    format!("windows/{}.md", segment(name))
}

/// A path segment as a URL and a file name both take it.
pub(super) fn segment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The relative link from page `from` to page `to` (both relative to the root).
pub fn href(from: &str, to: &str) -> String {
    let depth = from.matches('/').count();
    format!("{}{to}", "../".repeat(depth))
}

/// Renders every page: (path relative to the root, contents).
pub fn pages(
    facts: &Facts,
    templates: &Templates,
    out: &Path,
    project_root: &Path,
    signed: &str,
) -> Result<Vec<(String, String)>, Vec<crate::diagnostic::Diagnostic>> {
    let mut pages = Vec::new();
    let mut errors = Vec::new();
    // Links to the schema files when the catalog lives in the project's tree: elsewhere a link
    // would depend on where both happen to be.
    let in_tree = out.starts_with(project_root);
    let source_href = |page: &str, source: &str| -> String {
        let page_dir = out.join(page);
        let page_dir = page_dir.parent().unwrap_or(out);
        let link = crate::io::paths::relative_path(page_dir, &project_root.join(source));
        if !in_tree || Path::new(&link).is_absolute() {
            String::new()
        } else {
            link.split('/')
                .map(|part| percent_encoding::utf8_percent_encode(part, LINK_SEGMENT).to_string())
                .collect::<Vec<_>>()
                .join("/")
        }
    };
    let mut render =
        |template: &str, path: String, data: Value| match templates.render(template, &data) {
            Ok(text) => pages.push((path, format!("<!-- {signed} -->\n\n{}\n", tidy(&text)))),
            // One report per template, not one per page.
            Err(error) => {
                if !errors
                    .iter()
                    .any(|e: &crate::diagnostic::Diagnostic| e.message == error.message)
                {
                    errors.push(error)
                }
            }
        };
    render("index.md.hbs", "README.md".to_owned(), index(facts));
    for event in &facts.events {
        let page = event_page(&event.event_type);
        let data = event_data(facts, event, &page, &source_href);
        render("event.md.hbs", page, data);
    }
    for aggregate in &facts.aggregates {
        let page = aggregate_page(&aggregate.name);
        let mut flow = Flow::default();
        for key in &aggregate.commands {
            if let Some(command) = facts.commands.iter().find(|c| &c.key == key) {
                flow.node(&node_id("c", key), &command.name, Shape::Command);
                for emitted in &command.emits {
                    flow.node(&node_id("e", emitted), emitted, Shape::Event);
                    flow.edge(&node_id("c", key), &node_id("e", emitted));
                }
            }
        }
        for event_type in &aggregate.events {
            flow.node(&node_id("e", event_type), event_type, Shape::Event);
            for projection in &facts.projections {
                if projection.subscribes.contains(event_type) {
                    flow.node(
                        &node_id("p", &projection.name),
                        &projection.name,
                        Shape::Projection,
                    );
                    flow.edge(&node_id("e", event_type), &node_id("p", &projection.name));
                }
            }
            if let Some(event) = facts.events.iter().find(|e| &e.event_type == event_type) {
                for saga in &event.read_by_sagas {
                    flow.node(&node_id("s", saga), saga, Shape::Saga);
                    flow.edge(&node_id("e", event_type), &node_id("s", saga));
                }
                for window in &event.read_by_windows {
                    flow.node(&node_id("w", window), window, Shape::Window);
                    flow.edge(&node_id("e", event_type), &node_id("w", window));
                }
            }
        }
        // Sagas that send the aggregate's commands.
        for key in &aggregate.commands {
            if let Some(command) = facts.commands.iter().find(|c| &c.key == key) {
                for saga in &command.sent_by_sagas {
                    flow.node(&node_id("s", saga), saga, Shape::Saga);
                    flow.edge(&node_id("s", saga), &node_id("c", key));
                }
            }
        }
        let commands: Vec<Value> = aggregate
            .commands
            .iter()
            .filter_map(|key| facts.commands.iter().find(|c| &c.key == key))
            .map(|c| {
                json!({
                    "name": c.name,
                    "href": href(&page, &command_page(&c.key)),
                    "emits": links(&page, &c.emits, event_page),
                    "summary": cell(&c.doc.summary, FLAVOR),
                })
            })
            .collect();
        let events: Vec<Value> = aggregate
            .events
            .iter()
            .filter_map(|t| facts.events.iter().find(|e| &e.event_type == t))
            .map(|e| {
                json!({
                    "event_type": e.event_type,
                    "href": href(&page, &event_page(&e.event_type)),
                    "latest": e.latest,
                    "summary": cell(&e.doc.summary, FLAVOR),
                    "consumers": consumers(&page, e),
                })
            })
            .collect();
        let mut data = doc_data(&aggregate.doc, &page, &source_href);
        extend(
            &mut data,
            json!({
                "name": aggregate.name,
                "category": aggregate.category,
                "snapshot_every": aggregate.snapshot_every,
                "fields": field_rows(FLAVOR, &aggregate.fields),
                "commands": commands,
                "events": events,
                "flow": flow.render(),
                "index": href(&page, "README.md"),
            }),
        );
        render("aggregate.md.hbs", page, data);
    }
    for command in &facts.commands {
        let page = command_page(&command.key);
        let mut flow = Flow::default();
        flow.node(&node_id("c", &command.key), &command.name, Shape::Command);
        flow.node(
            &node_id("a", &command.aggregate),
            &command.aggregate,
            Shape::Aggregate,
        );
        flow.edge(
            &node_id("c", &command.key),
            &node_id("a", &command.aggregate),
        );
        for emitted in &command.emits {
            flow.node(&node_id("e", emitted), emitted, Shape::Event);
            flow.edge(&node_id("a", &command.aggregate), &node_id("e", emitted));
        }
        for saga in &command.sent_by_sagas {
            flow.node(&node_id("s", saga), saga, Shape::Saga);
            flow.edge(&node_id("s", saga), &node_id("c", &command.key));
        }
        let mut data = doc_data(&command.doc, &page, &source_href);
        extend(
            &mut data,
            json!({
                "key": command.key,
                "name": command.name,
                "aggregate": {"name": command.aggregate, "href": href(&page, &aggregate_page(&command.aggregate))},
                "emits": links(&page, &command.emits, event_page),
                "sent_by_sagas": links(&page, &command.sent_by_sagas, saga_page),
                "fields": field_rows(FLAVOR, &command.fields),
                "examples": examples(&command.examples),
                "schema": pretty(&command.schema),
                "flow": flow.render(),
                "index": href(&page, "README.md"),
            }),
        );
        render("command.md.hbs", page, data);
    }
    for projection in &facts.projections {
        let page = projection_page(&projection.name);
        let mut flow = Flow::default();
        let projection_node = node_id("p", &projection.name);
        for event_type in &projection.subscribes {
            let aggregate = event_type.split_once('.').map_or("", |(a, _)| a);
            flow.node(&node_id("a", aggregate), aggregate, Shape::Aggregate);
            flow.node(&node_id("e", event_type), event_type, Shape::Event);
            flow.edge(&node_id("a", aggregate), &node_id("e", event_type));
        }
        flow.node(&projection_node, &projection.name, Shape::Projection);
        for event_type in &projection.subscribes {
            flow.edge(&node_id("e", event_type), &projection_node);
        }
        let mut data = doc_data(&projection.doc, &page, &source_href);
        extend(
            &mut data,
            json!({
                "name": projection.name,
                "key": projection.key,
                "subscribes": links(&page, &projection.subscribes, event_page),
                "fields": field_rows(FLAVOR, &projection.fields),
                "examples": examples(&projection.examples),
                "schema": pretty(&projection.schema),
                "flow": flow.render(),
                "index": href(&page, "README.md"),
            }),
        );
        render("projection.md.hbs", page, data);
    }
    for saga in &facts.sagas {
        let page = saga_page(&saga.name);
        let known_event = |event_type: &str| {
            facts
                .events
                .iter()
                .any(|e| e.event_type == event_type)
                .then(|| href(&page, &event_page(event_type)))
        };
        let known_command = |key: &str| {
            facts
                .commands
                .iter()
                .any(|c| c.key == key)
                .then(|| href(&page, &command_page(key)))
        };
        let links = Links {
            event: &known_event,
            command: &known_command,
        };
        let mut data = doc_data(&saga.doc, &page, &source_href);
        extend(&mut data, saga_page::data(saga, FLAVOR, &links));
        extend(&mut data, json!({ "index": href(&page, "README.md") }));
        render("saga.md.hbs", page, data);
    }
    for window in &facts.windows {
        let page = window_page(&window.name);
        let known_event = |event_type: &str| {
            facts
                .events
                .iter()
                .any(|e| e.event_type == event_type)
                .then(|| href(&page, &event_page(event_type)))
        };
        // As a projection's flow: each event from its aggregate, into the window.
        let mut flow = Flow::default();
        let window_node = node_id("w", &window.name);
        for read in &window.windowing.reads {
            let aggregate = read.event_type.split_once('.').map_or("", |(a, _)| a);
            flow.node(&node_id("a", aggregate), aggregate, Shape::Aggregate);
            flow.node(
                &node_id("e", &read.event_type),
                &read.event_type,
                Shape::Event,
            );
            flow.edge(&node_id("a", aggregate), &node_id("e", &read.event_type));
        }
        flow.node(&window_node, &window.name, Shape::Window);
        for read in &window.windowing.reads {
            flow.edge(&node_id("e", &read.event_type), &window_node);
        }
        let mut data = doc_data(&window.doc, &page, &source_href);
        extend(&mut data, window_page::data(window, FLAVOR, &known_event));
        extend(
            &mut data,
            json!({ "flow": flow.render(), "index": href(&page, "README.md") }),
        );
        render("window.md.hbs", page, data);
    }
    if errors.is_empty() {
        Ok(pages)
    } else {
        Err(errors)
    }
}

/// A rendered page without runs of blank lines (where optional parts were empty), except
/// inside fenced code.
pub(super) fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    let mut blank = true;
    for line in text.trim().lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let is_blank = line.trim().is_empty();
        if is_blank && blank && !fenced {
            continue;
        }
        blank = is_blank;
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_end().to_owned()
}

fn extend(data: &mut Value, more: Value) {
    if let (Value::Object(data), Value::Object(more)) = (data, more) {
        data.extend(more);
    }
}

/// `[{name, href}]` for items, linked from `page`.
fn links(page: &str, items: &[String], page_of: fn(&str) -> String) -> Vec<Value> {
    items
        .iter()
        .map(|item| json!({"name": item, "href": href(page, &page_of(item))}))
        .collect()
}

fn doc_data(doc: &Doc, page: &str, source_href: &dyn Fn(&str, &str) -> String) -> Value {
    json!({
        "title": cell(&doc.title, FLAVOR),
        "summary": cell(&doc.summary, FLAVOR),
        "description": prose(&doc.description, FLAVOR),
        "owners": doc.owners,
        "deprecated": doc.deprecated.as_deref().map(|d| cell(d, FLAVOR)),
        "source": doc.source,
        "source_href": if doc.source.is_empty() { String::new() } else { source_href(page, &doc.source) },
    })
}

fn event_data(
    facts: &Facts,
    event: &EventFacts,
    page: &str,
    source_href: &dyn Fn(&str, &str) -> String,
) -> Value {
    let mut flow = Flow::default();
    let event_node = node_id("e", &event.event_type);
    let aggregate_node = node_id("a", &event.aggregate);
    // Each command goes through its own aggregate, which may not be the event's.
    for key in &event.emitted_by {
        let (aggregate, name) = key.split_once('.').unwrap_or((&event.aggregate, key));
        flow.node(&node_id("c", key), name, Shape::Command);
        flow.node(&node_id("a", aggregate), aggregate, Shape::Aggregate);
        flow.edge(&node_id("c", key), &node_id("a", aggregate));
    }
    flow.node(&aggregate_node, &event.aggregate, Shape::Aggregate);
    flow.node(
        &event_node,
        &format!("{} v{}", event.event_type, event.latest),
        Shape::Event,
    );
    for key in &event.emitted_by {
        let aggregate = key
            .split_once('.')
            .map_or(event.aggregate.as_str(), |(a, _)| a);
        flow.edge(&node_id("a", aggregate), &event_node);
    }
    flow.edge(&aggregate_node, &event_node);
    for projection in &event.consumed_by {
        flow.node(&node_id("p", projection), projection, Shape::Projection);
        flow.edge(&event_node, &node_id("p", projection));
    }
    for saga in &event.read_by_sagas {
        flow.node(&node_id("s", saga), saga, Shape::Saga);
        flow.edge(&event_node, &node_id("s", saga));
    }
    for window in &event.read_by_windows {
        flow.node(&node_id("w", window), window, Shape::Window);
        flow.edge(&event_node, &node_id("w", window));
    }
    let versions: Vec<Value> = event
        .versions
        .iter()
        .rev()
        .map(|version| {
            let mut data = doc_data(&version.doc, page, source_href);
            extend(
                &mut data,
                json!({
                    "version": version.version,
                    "latest": version.version == event.latest,
                    "semver": version.semver,
                    "cloudevents_type": version.cloudevents_type,
                    "fields": field_rows(FLAVOR, &version.fields),
                    "examples": examples(&version.examples),
                    "schema": pretty(&version.schema),
                }),
            );
            data
        })
        .collect();
    let changelog: Vec<Value> = event
        .versions
        .iter()
        .rev()
        .filter_map(|v| v.changelog.as_ref())
        .map(|log| log.page_data(FLAVOR))
        .collect();
    let mut data = doc_data(&event.doc, page, source_href);
    extend(
        &mut data,
        json!({
            "event_type": event.event_type,
            "name": event.name,
            "rust_name": event.rust_name,
            "level": facts.level,
            "aggregate": {"name": event.aggregate, "href": href(page, &aggregate_page(&event.aggregate))},
            "category": event.category,
            "latest": event.latest,
            "latest_type": format!("{}.v{}", event.event_type, event.latest),
            "emitted_by": links(page, &event.emitted_by, command_page),
            "consumed_by": links(page, &event.consumed_by, projection_page),
            "read_by_sagas": links(page, &event.read_by_sagas, saga_page),
            "read_by_windows": links(page, &event.read_by_windows, window_page),
            "flow": flow.render(),
            "changelog": changelog,
            "versions": versions,
            "index": href(page, "README.md"),
        }),
    );
    data
}

/// What reads an event: its projections, then its sagas, then its windows.
fn consumers(page: &str, event: &EventFacts) -> Vec<Value> {
    let mut consumers = links(page, &event.consumed_by, projection_page);
    consumers.extend(links(page, &event.read_by_sagas, saga_page));
    consumers.extend(links(page, &event.read_by_windows, window_page));
    consumers
}

/// The aggregates that emit an event (its own, and those of commands elsewhere that emit it),
/// each with the commands through which it does: `[{aggregate: {name, href}, commands[]}]`.
fn producers(page: &str, event: &EventFacts) -> Vec<Value> {
    let mut aggregates: Vec<&str> = vec![event.aggregate.as_str()];
    for key in &event.emitted_by {
        let aggregate = key
            .split_once('.')
            .map_or(event.aggregate.as_str(), |(a, _)| a);
        if !aggregates.contains(&aggregate) {
            aggregates.push(aggregate);
        }
    }
    aggregates
        .into_iter()
        .map(|aggregate| {
            let commands: Vec<Value> = event
                .emitted_by
                .iter()
                .filter(|key| key.split_once('.').is_some_and(|(a, _)| a == aggregate))
                .map(|key| {
                    let name = key.split_once('.').map_or(key.as_str(), |(_, n)| n);
                    json!({"name": name, "href": href(page, &command_page(key))})
                })
                .collect();
            json!({
                "aggregate": {"name": aggregate, "href": href(page, &aggregate_page(aggregate))},
                "commands": commands,
            })
        })
        .collect()
}

fn index(facts: &Facts) -> Value {
    let page = "README.md";
    let aggregates: Vec<Value> = facts
        .aggregates
        .iter()
        .map(|aggregate| {
            let events: Vec<Value> = facts
                .events
                .iter()
                .filter(|e| e.aggregate == aggregate.name)
                .map(|e| {
                    json!({
                        "event_type": e.event_type,
                        "href": event_page(&e.event_type),
                        "latest": e.latest,
                        "summary": cell(&e.doc.summary, FLAVOR),
                        "owners": e.doc.owners,
                        "deprecated": e.doc.deprecated.is_some(),
                        "producers": producers(page, e),
                        "consumers": consumers(page, e),
                    })
                })
                .collect();
            let commands: Vec<Value> = facts
                .commands
                .iter()
                .filter(|c| c.aggregate == aggregate.name)
                .map(|c| {
                    json!({
                        "name": c.name,
                        "href": command_page(&c.key),
                        "summary": cell(&c.doc.summary, FLAVOR),
                        "emits": links(page, &c.emits, event_page),
                    })
                })
                .collect();
            json!({
                "name": aggregate.name,
                "href": aggregate_page(&aggregate.name),
                "summary": prose(&aggregate.doc.summary, FLAVOR),
                "events": events,
                "commands": commands,
            })
        })
        .collect();
    let projections: Vec<Value> = facts
        .projections
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "href": projection_page(&p.name),
                "summary": cell(&p.doc.summary, FLAVOR),
                "key": p.key,
                "subscribes": links(page, &p.subscribes, event_page),
            })
        })
        .collect();
    let sagas: Vec<Value> = facts
        .sagas
        .iter()
        .map(|s| {
            let starts: Vec<String> = s
                .machine
                .reads
                .iter()
                .filter(|r| r.starts)
                .map(|r| r.event_type.clone())
                .collect();
            let reads: Vec<String> = s
                .machine
                .reads
                .iter()
                .map(|r| r.event_type.clone())
                .collect();
            let sends: Vec<String> = s.machine.commands.iter().map(|c| c.key.clone()).collect();
            json!({
                "name": s.name,
                "href": saga_page(&s.name),
                "summary": cell(&s.doc.summary, FLAVOR),
                "starts": links(page, &starts, event_page),
                "reads": links(page, &reads, event_page),
                "sends": links(page, &sends, command_page),
            })
        })
        .collect();
    let windows: Vec<Value> = facts
        .windows
        .iter()
        .map(|w| {
            let reads: Vec<String> = w
                .windowing
                .reads
                .iter()
                .map(|r| r.event_type.clone())
                .collect();
            // `tumbling: size `PT1H``, `session: gap `PT30M``.
            let durations: Vec<String> = w
                .windowing
                .cut
                .durations
                .iter()
                .map(|(name, d)| format!("{name} {}", inline_code(&d.iso)))
                .collect();
            let cut = format!("{}: {}", w.windowing.cut.kind, durations.join(", "));
            json!({
                "name": w.name,
                "href": window_page(&w.name),
                "summary": cell(&w.doc.summary, FLAVOR),
                "reads": links(page, &reads, event_page),
                "key": w.windowing.key.iter().map(|k| cell(&inline_code(&k.field), FLAVOR)).collect::<Vec<_>>(),
                "cut": cell(&cut, FLAVOR),
            })
        })
        .collect();
    let owners: Vec<Value> = facts
        .owners
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "aggregates": links(page, &o.aggregates, aggregate_page),
                "events": links(page, &o.events, event_page),
                "commands": links(page, &o.commands, command_page),
                "projections": links(page, &o.projections, projection_page),
                "sagas": links(page, &o.sagas, saga_page),
                "windows": links(page, &o.windows, window_page),
            })
        })
        .collect();
    let versions: usize = facts.events.iter().map(|e| e.versions.len()).sum();
    json!({
        "name": facts.name,
        "description": prose(&facts.description, FLAVOR),
        "level": facts.level,
        "counts": {
            "aggregates": facts.aggregates.len(),
            "events": facts.events.len(),
            "versions": versions,
            "commands": facts.commands.len(),
            "projections": facts.projections.len(),
            "sagas": facts.sagas.len(),
            "windows": facts.windows.len(),
        },
        "tally": tally(facts, versions),
        "aggregates": aggregates,
        "projections": projections,
        "sagas": sagas,
        "windows": windows,
        "owners": owners,
    })
}

/// What the catalog holds, counted: `3 aggregates`, `10 events (11 versions)`, ..., sagas and
/// windows only when there are any.
fn tally(facts: &Facts, versions: usize) -> Vec<String> {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut tally = vec![
        count(facts.aggregates.len(), "aggregate", "aggregates"),
        format!(
            "{} ({})",
            count(facts.events.len(), "event", "events"),
            count(versions, "version", "versions")
        ),
        count(facts.commands.len(), "command", "commands"),
        count(facts.projections.len(), "projection", "projections"),
    ];
    if !facts.sagas.is_empty() {
        tally.push(count(facts.sagas.len(), "saga", "sagas"));
    }
    if !facts.windows.is_empty() {
        tally.push(count(facts.windows.len(), "window", "windows"));
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_climb_to_the_root_then_descend() {
        assert_eq!(href("README.md", "events/a/b.md"), "events/a/b.md");
        assert_eq!(
            href("events/order/placed.md", "aggregates/order.md"),
            "../../aggregates/order.md"
        );
        assert_eq!(event_page("order.line-added"), "events/order/line-added.md");
        assert_eq!(segment("a b/c"), "a_b_c");
    }

    #[test]
    fn tidy_pages_keep_one_blank_line_outside_code() {
        assert_eq!(
            tidy("# A\n\n\n\ntext  \n\n```json\n{\n\n\n}\n```\n\n\n"),
            "# A\n\ntext\n\n```json\n{\n\n\n}\n```"
        );
    }
}
