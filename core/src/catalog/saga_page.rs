//! What a saga's page shows, for the Markdown page and the EventCatalog service alike: the
//! state diagram and the rows of its tables, escaped for the page's flavour, with each event and
//! command linked where the page can link.

use super::facts::SagaFacts;
use super::fields::inline_code;
use super::sagas::{self, RetryFacts, Trigger};
use super::text::{Flavor, cell, examples, field_rows, pretty};
use serde_json::{Value, json};

/// Where a page links events and commands (a relative href), if anywhere.
pub struct Links<'a> {
    /// An event type's page.
    pub event: &'a dyn Fn(&str) -> Option<String>,
    /// A command's page.
    pub command: &'a dyn Fn(&str) -> Option<String>,
}

impl Links<'_> {
    /// No links (EventCatalog links by the services' `sends` and `receives`).
    pub const NONE: Links<'static> = Links {
        event: &|_| None,
        command: &|_| None,
    };
}

/// The page data of a saga: `name`, `initial`, `diagram` (mermaid), `retry` (the saga's policy
/// in words), `starts[]`, `states[]`, `steps[]`, `timeouts[]`, `compensations[]`, `retries[]`,
/// `reads[]`, `commands[]`, `fields[]`, `examples[]`, `schema`. An event or command is a link
/// `{name, href, link}`: `name` as code, `link` the Markdown link (or `name` without `href`).
pub fn data(saga: &SagaFacts, flavor: Flavor, links: &Links<'_>) -> Value {
    let machine = &saga.machine;
    let code = |text: &str| cell(&inline_code(text), flavor);
    let codes = |items: &[String]| -> Vec<String> { items.iter().map(|i| code(i)).collect() };
    let link = |text: &str, href: Option<String>| {
        let name = code(text);
        let link = match &href {
            Some(href) => format!("[{name}]({href})"),
            None => name.clone(),
        };
        json!({"name": name, "href": href, "link": link})
    };
    let event = |event_type: &str| link(event_type, (links.event)(event_type));
    let command = |key: &str| link(key, (links.command)(key));
    let trigger = |trigger: &Trigger| match trigger {
        Trigger::Event { event_type } => event(event_type),
        Trigger::Timeout {
            name: Some(name),
            duration,
        } => {
            let text = match duration {
                Some(duration) => format!("timeout {} ({})", code(name), code(duration)),
                None => format!("timeout {}", code(name)),
            };
            json!({"name": text, "href": null, "link": text})
        }
        other => {
            let text = cell(&other.label(), flavor);
            json!({"name": text, "href": null, "link": text})
        }
    };
    let states: Vec<Value> = machine
        .states
        .iter()
        .map(|state| {
            json!({
                "name": code(&state.name),
                "initial": state.initial,
                "description": cell(&state.description, flavor),
                "end": state.end,
                "defers": state.defers.iter().map(|e| event(e)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let steps: Vec<Value> = machine
        .states
        .iter()
        .flat_map(|state| state.steps.iter().map(move |step| (state, step)))
        .map(|(state, step)| {
            let sends: Vec<Value> = step
                .sends
                .iter()
                .map(|send| {
                    json!({
                        "step": code(&send.step),
                        "command": command(&send.command),
                        "for_each": send.for_each.as_deref().map(code),
                        "compensated_by": send.compensated_by.as_deref().map(command),
                    })
                })
                .collect();
            json!({
                "state": code(&state.name),
                "trigger": trigger(&step.trigger),
                "records": codes(&step.records),
                "sends": sends,
                "compensate": step.compensate,
                "then": step.then.as_deref().map(code),
                "rules": step.rules.as_deref().map(code),
            })
        })
        .collect();
    let timeouts: Vec<Value> = machine
        .timeouts
        .iter()
        .map(|timeout| {
            json!({
                "name": code(&timeout.name),
                "duration": code(&timeout.duration),
                "armed_in": codes(&timeout.armed_in),
            })
        })
        .collect();
    let compensations: Vec<Value> = machine
        .compensations
        .iter()
        .map(|c| {
            json!({
                "step": code(&c.step),
                "state": code(&c.state),
                "trigger": trigger(&c.trigger),
                "command": command(&c.command),
                "undone_by": command(&c.undone_by),
            })
        })
        .collect();
    let overridden = machine.retries.iter().any(|r| r.step.is_some());
    let retries: Vec<Value> = machine
        .retries
        .iter()
        .map(|retry| {
            let every = if overridden {
                "every other command"
            } else {
                "every command"
            };
            let applies_to = match (&retry.step, retry.declared) {
                (Some(step), _) => format!("step {}", code(step)),
                (None, true) => every.to_owned(),
                (None, false) => format!("{every} (the default)"),
            };
            json!({
                "applies_to": applies_to,
                "declared": retry.declared,
                "attempts": retry.attempts,
                "interval": code(&retry.interval),
                // `2`, not JSON's `2.0`.
                "backoff_rate": retry.backoff_rate.to_string(),
                "max_interval": code(&retry.max_interval),
            })
        })
        .collect();
    let reads: Vec<Value> = machine
        .reads
        .iter()
        .map(|read| {
            json!({
                "event": event(&read.event_type),
                "starts": read.starts,
                "finds_by": cell(&read.finds_by, flavor),
                "handled_in": codes(&read.handled_in),
                "deferred_in": codes(&read.deferred_in),
            })
        })
        .collect();
    let commands: Vec<Value> = machine
        .commands
        .iter()
        .map(|c| {
            json!({
                "command": command(&c.key),
                "steps": codes(&c.steps),
                "undoes": codes(&c.undoes),
            })
        })
        .collect();
    json!({
        "name": saga.name,
        "initial": code(&machine.initial),
        "diagram": sagas::diagram(machine),
        "retry": machine.retries.first().map(|r| retry_text(r, flavor)).unwrap_or_default(),
        "starts": machine.reads.iter().filter(|r| r.starts).map(|r| event(&r.event_type)).collect::<Vec<_>>(),
        "states": states,
        "steps": steps,
        "timeouts": timeouts,
        "compensations": compensations,
        "retries": retries,
        "reads": reads,
        "commands": commands,
        "fields": field_rows(flavor, &saga.fields),
        "examples": examples(&saga.examples),
        "schema": pretty(&saga.schema),
    })
}

/// A retry policy in words: `5 attempts, the first retry after `PT0.5S`, each wait ×2, at most
/// `PT30S``.
fn retry_text(retry: &RetryFacts, flavor: Flavor) -> String {
    let text = if retry.attempts <= 1 {
        "1 attempt: no retries".to_owned()
    } else {
        format!(
            "{} attempts, the first retry after {}, each wait ×{}, at most {}",
            retry.attempts,
            inline_code(&retry.interval),
            retry.backoff_rate,
            inline_code(&retry.max_interval)
        )
    };
    let text = if retry.declared {
        text
    } else {
        format!("{text} (the default)")
    };
    cell(&text, flavor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::facts::Doc;
    use crate::catalog::sagas::machine;

    fn saga(annotations: Value) -> SagaFacts {
        SagaFacts {
            name: "fulfil".to_owned(),
            doc: Doc {
                title: "Fulfil".to_owned(),
                summary: String::new(),
                description: String::new(),
                owners: Vec::new(),
                deprecated: None,
                source: String::new(),
            },
            machine: machine(&serde_json::from_value(annotations).unwrap()),
            fields: Vec::new(),
            examples: Vec::new(),
            schema: json!({}),
        }
    }

    #[test]
    fn odd_sagas_render_with_the_embedded_templates() {
        let templates = crate::catalog::Templates::embedded(crate::catalog::TEMPLATES);
        for annotations in [
            json!({"starts": [], "correlation": {}, "initial": "", "states": {}}),
            json!({"starts": ["a.b"], "correlation": {}, "initial": "nowhere", "states": {
                "s": {"on": {"a.b": {"then": "gone"}}, "timeout": {"after": "t"}, "defer": ["c.d"]}
            }}),
        ] {
            let saga = saga(annotations);
            let mut page = data(&saga, Flavor::Markdown, &Links::NONE);
            for (key, value) in [
                ("title", json!("Fulfil")),
                ("summary", json!("")),
                ("description", json!("")),
                ("owners", json!([])),
                ("deprecated", Value::Null),
                ("source", json!("")),
                ("source_href", json!("")),
                ("index", json!("../README.md")),
            ] {
                page[key] = value;
            }
            let text = templates.render("saga.md.hbs", &page).unwrap();
            assert!(text.contains("```mermaid\nstateDiagram-v2\n"), "{text}");
            let mut body = data(&saga, Flavor::Mdx, &Links::NONE);
            body["description"] = json!("");
            templates
                .render("eventcatalog-saga.mdx.hbs", &body)
                .unwrap();
        }
    }

    #[test]
    fn schema_text_is_escaped_for_its_cell_and_links_only_where_a_page_is() {
        let saga = saga(json!({
            "starts": ["a.b"],
            "correlation": {"a.b": "id|x"},
            "initial": "s",
            "timeouts": {"t": "PT1S"},
            "states": {"s": {
                "description": "Waits | for <b> {x}\nthen more.",
                "on": {"a.b": {"record": {"a`b": "$event.x"}, "send": [
                    {"step": "go", "command": "c.d", "to": "$saga.id", "for_each": "$event.x|y"}
                ]}},
                "timeout": {"after": "t", "then": "s"}
            }}
        }));
        let links = Links {
            event: &|t| (t == "a.b").then(|| format!("../events/{t}.md")),
            command: &|_| None,
        };
        let markdown = data(&saga, Flavor::Markdown, &links);
        let state = &markdown["states"][0];
        assert_eq!(state["name"], "`s`");
        assert_eq!(state["description"], "Waits \\| for &lt;b> {x} then more.");
        let step = &markdown["steps"][0];
        assert_eq!(step["trigger"]["link"], "[`a.b`](../events/a.b.md)");
        assert_eq!(step["records"][0], "``a`b``");
        assert_eq!(step["sends"][0]["command"]["link"], "`c.d`");
        assert_eq!(step["sends"][0]["for_each"], "`$event.x\\|y`");
        assert_eq!(
            markdown["steps"][1]["trigger"]["link"],
            "timeout `t` (`PT1S`)"
        );
        assert_eq!(markdown["reads"][0]["finds_by"], "property `id\\|x`");
        assert_eq!(
            markdown["retry"],
            "3 attempts, the first retry after `PT1S`, each wait ×2, at most `PT1M` (the default)"
        );
        let mdx = data(&saga, Flavor::Mdx, &Links::NONE);
        assert_eq!(
            mdx["states"][0]["description"],
            "Waits \\| for &lt;b&gt; \\{x\\} then more."
        );
        assert_eq!(mdx["steps"][0]["trigger"]["link"], "`a.b`");
        assert!(
            mdx["diagram"]
                .as_str()
                .unwrap()
                .starts_with("stateDiagram-v2\n")
        );
    }
}
