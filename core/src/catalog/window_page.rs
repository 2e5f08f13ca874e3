//! What a window's page shows, for the Markdown page and the EventCatalog service alike: the
//! events it reads and their fields, its key, its windows and its time in words, its aggregates,
//! retention, gauges and endpoints, escaped for the page's flavour, with each event linked where
//! the page can link.

use super::facts::WindowFacts;
use super::fields::inline_code;
use super::text::{Flavor, cell, examples, pretty};
use super::windows::{FieldUse, TimeFacts};
use serde_json::{Value, json};

/// The page data of a window: `name`, `reads[]` (event links), `fields_read[]` (`event`, `field`,
/// `type`, `read_for`), `key[]` (`field`, `means`), `cut` (the windows in words), `durations[]`
/// (`name`, `iso`, `words`), `time` (`summary`, `paragraphs[]`), `late` (the policy in words),
/// `aggregates[]` (`name`, `kind`, `field`, `type`, `description`), `retain` (in short),
/// `retention` (a sentence), `gauges`, `emit`, `http` (`query`, `live`), `examples[]`, `schema`.
/// An event is a link `{name, href, link}`: `name` as code, `link` the Markdown link (or `name`
/// without `href`).
pub fn data(
    window: &WindowFacts,
    flavor: Flavor,
    event_href: &dyn Fn(&str) -> Option<String>,
) -> Value {
    let windowing = &window.windowing;
    let code = |text: &str| cell(&inline_code(text), flavor);
    let event = |event_type: &str| {
        let name = code(event_type);
        let href = event_href(event_type);
        let link = match &href {
            Some(href) => format!("[{name}]({href})"),
            None => name.clone(),
        };
        json!({"name": name, "href": href, "link": link})
    };
    let fields_read: Vec<Value> = windowing
        .reads
        .iter()
        .flat_map(|read| {
            let rows: Vec<Value> = read
                .fields
                .iter()
                .map(|field| {
                    let uses: Vec<String> = field.uses.iter().map(use_text).collect();
                    json!({
                        "event": event(&read.event_type),
                        "field": code(&field.path),
                        "type": field.ty.as_deref().map_or("—".to_owned(), |t| cell(t, flavor)),
                        "read_for": cell(&uses.join("; "), flavor),
                    })
                })
                .collect();
            if rows.is_empty() {
                // Counted only: the window reads nothing of its payload.
                vec![json!({
                    "event": event(&read.event_type),
                    "field": "—",
                    "type": "—",
                    "read_for": "nothing of its payload: it is counted",
                })]
            } else {
                rows
            }
        })
        .collect();
    let key: Vec<Value> = windowing
        .key
        .iter()
        .map(|part| {
            let means = match part.envelope {
                Some(means) => format!("envelope field: {means}"),
                None => format!("the property {} of each event", inline_code(&part.field)),
            };
            json!({"field": code(&part.field), "means": cell(&means, flavor)})
        })
        .collect();
    let durations: Vec<Value> = windowing
        .cut
        .durations
        .iter()
        .map(|(name, duration)| {
            json!({
                "name": name,
                "iso": code(&duration.iso),
                "words": duration.words.as_deref().unwrap_or("—"),
            })
        })
        .collect();
    let aggregates: Vec<Value> = windowing
        .aggregates
        .iter()
        .map(|aggregate| {
            json!({
                "name": code(&aggregate.name),
                "kind": aggregate.kind,
                "field": aggregate.field.as_deref().map_or("—".to_owned(), code),
                "type": if aggregate.ty.is_empty() { "—".to_owned() } else { cell(&aggregate.ty, flavor) },
                "description": cell(&aggregate.description, flavor),
            })
        })
        .collect();
    let time = &windowing.time;
    let (retain, retention) = match &windowing.retain {
        Some(retain) => (
            format!("{} after a window's end", retain.text()),
            format!(
                "A closed window is removed once its end is {} behind the watermark.",
                retain.text()
            ),
        ),
        None => (
            "for good".to_owned(),
            "Closed windows are kept for good: the file sets no `retain`.".to_owned(),
        ),
    };
    let http = |path: String| code(&format!("GET /windows/{}{path}", window.name));
    json!({
        "name": window.name,
        "reads": windowing.reads.iter().map(|r| event(&r.event_type)).collect::<Vec<_>>(),
        "fields_read": fields_read,
        "key": key,
        "cut": cell(&windowing.cut.text, flavor),
        "durations": durations,
        "time": {
            "summary": cell(&time_summary(time), flavor),
            "paragraphs": time_paragraphs(time, &window.name).iter().map(|p| cell(p, flavor)).collect::<Vec<_>>(),
        },
        "late": cell(&late_text(time, &window.name), flavor),
        "aggregates": aggregates,
        "retain": cell(&retain, flavor),
        "retention": cell(&retention, flavor),
        "gauges": windowing.gauges,
        "emit": windowing.emit,
        "http": {
            "query": http("?key=…&from=…&to=…".to_owned()),
            "live": http("/live".to_owned()),
        },
        "examples": examples(&window.examples),
        "schema": pretty(&window.schema),
    })
}

/// What a property is read for: `key`, `` `total` (sum) ``, `time`.
fn use_text(used: &FieldUse) -> String {
    match used {
        FieldUse::Key => "key".to_owned(),
        FieldUse::Aggregate { name, kind } => format!("{} ({kind})", inline_code(name)),
        FieldUse::Time => "time".to_owned(),
    }
}

/// The time in a few words: `recorded time: ...` or `` event time: the property `paid_at` ... ``.
fn time_summary(time: &TimeFacts) -> String {
    if time.recorded {
        "recorded time: when the store recorded each event".to_owned()
    } else {
        format!(
            "event time: the property {} of each event",
            inline_code(&time.from)
        )
    }
}

/// Which time, what closes a window, and when the watermark follows the clock.
fn time_paragraphs(time: &TimeFacts, name: &str) -> Vec<String> {
    let which = if time.recorded {
        "The window goes by **recorded time** (`$recorded`): the time the store recorded each \
         event. Recorded times grow with the feed, so no event is late unless clocks step back."
            .to_owned()
    } else {
        format!(
            "The window goes by **event time**: the property {} of each event, when it happened. \
             Events may arrive out of order, and later than they happened.",
            inline_code(&time.from)
        )
    };
    let noun = if time.recorded {
        "recorded time"
    } else {
        "event time"
    };
    // A zero lateness reads as none at all.
    let lateness = time
        .lateness
        .as_ref()
        .filter(|l| l.length != Some(Default::default()));
    let watermark = match lateness {
        Some(lateness) => format!(
            "A window closes once the watermark passes its end. The watermark is the latest \
             {noun} less the lateness, {}: a window stays open until an event that much past \
             its end arrives.",
            lateness.text()
        ),
        None => format!(
            "A window closes once the watermark passes its end. The watermark is the latest \
             {noun} (no lateness): a window closes as soon as an event at or after its end \
             arrives."
        ),
    };
    let idle = format!(
        "After {} without events ({}), the watermark follows the wall clock{}, so windows close \
         on time when the feed is quiet.",
        time.idle.words.as_deref().unwrap_or("the idle time"),
        policy(&inline_code(&time.idle.iso), time.idle_default, ""),
        if lateness.is_some() {
            " less the lateness"
        } else {
            ""
        },
    );
    let late = format!(
        "A late event, one whose window has closed, {} ({}).",
        late_effect(time, name, true),
        late_policy(time)
    );
    vec![which, format!("{watermark} {idle}"), late]
}

/// `` `x` ``, `` `x`, the default `` or `` `x`, the default on recorded time ``.
fn policy(value: &str, default: bool, on: &str) -> String {
    if default {
        format!("{value}, the default{on}")
    } else {
        value.to_owned()
    }
}

/// The late policy as written, and whether it is the default for the window's time.
fn late_policy(time: &TimeFacts) -> String {
    let on = if time.recorded {
        " on recorded time"
    } else {
        " on event time"
    };
    policy(&inline_code(time.late), time.late_default, on)
}

/// What becomes of a late event, in full or in short.
fn late_effect(time: &TimeFacts, name: &str, full: bool) -> String {
    let table = inline_code(&format!("{name}_late"));
    match (time.late, full) {
        ("drop", true) => {
            "is left out, and counted in `eventsmith_window_late_events_total`".to_owned()
        }
        ("drop", false) => "is left out, and counted".to_owned(),
        ("keep", true) => format!(
            "is left out of its window and kept aside in the table {table}, for a person to look at"
        ),
        ("keep", false) => format!("is kept aside in {table}"),
        (_, true) => "corrects its window: the closed window takes it in and is updated".to_owned(),
        (_, false) => "corrects its window".to_owned(),
    }
}

/// The late policy in short: `` a late event corrects its window (`correct`, the default on
/// recorded time) ``.
fn late_text(time: &TimeFacts, name: &str) -> String {
    format!(
        "a late event {} ({})",
        late_effect(time, name, false),
        late_policy(time)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::facts::Doc;
    use crate::catalog::windows::windowing;

    fn window(annotations: Value) -> WindowFacts {
        WindowFacts {
            name: "per_hour".to_owned(),
            doc: Doc {
                title: "PerHour".to_owned(),
                summary: String::new(),
                description: String::new(),
                owners: Vec::new(),
                deprecated: None,
                source: String::new(),
            },
            windowing: windowing(&serde_json::from_value(annotations).unwrap(), &[], &|_| {
                None
            }),
            examples: Vec::new(),
            schema: json!({}),
        }
    }

    #[test]
    fn odd_windows_render_with_the_embedded_templates() {
        let templates = crate::catalog::Templates::embedded(crate::catalog::TEMPLATES);
        for annotations in [
            json!({"reads": [], "window": {"kind": "session", "gap": "nope"}, "aggregates": {}}),
            json!({
                "reads": ["a.b", "c.d"], "key": ["$type", "x|y"],
                "window": {"kind": "hopping", "size": "PT1H", "hop": "PT2H"},
                "time": {"from": "at", "lateness": "PT0S", "late": "keep"},
                "aggregates": {"n": {"kind": "custom"}, "m": {"kind": "max", "field": "at"}},
                "retain": "P1M", "gauges": true, "emit": true
            }),
        ] {
            let window = window(annotations);
            let mut page = data(&window, Flavor::Markdown, &|_| None);
            for (key, value) in [
                ("title", json!("PerHour")),
                ("summary", json!("")),
                ("description", json!("")),
                ("owners", json!([])),
                ("deprecated", Value::Null),
                ("source", json!("")),
                ("source_href", json!("")),
                ("flow", json!("flowchart LR")),
                ("index", json!("../README.md")),
            ] {
                page[key] = value;
            }
            let text = templates.render("window.md.hbs", &page).unwrap();
            assert!(text.contains("GET /windows/per_hour/live"), "{text}");
            let mut body = data(&window, Flavor::Mdx, &|_| None);
            body["description"] = json!("");
            templates
                .render("eventcatalog-window.mdx.hbs", &body)
                .unwrap();
        }
    }

    #[test]
    fn a_window_is_told_in_words_escaped_for_its_page() {
        let window = window(json!({
            "reads": ["order.paid", "order.gone"],
            "key": ["method|x", "$stream"],
            "window": {"kind": "tumbling", "size": "PT1H"},
            "aggregates": {"count": {"kind": "count"}, "total": {"kind": "sum", "field": "amount"}},
            "retain": "P30D"
        }));
        let links = |t: &str| (t == "order.paid").then(|| format!("../events/{t}.md"));
        let markdown = data(&window, Flavor::Markdown, &links);
        assert_eq!(
            markdown["reads"][0]["link"],
            "[`order.paid`](../events/order.paid.md)"
        );
        assert_eq!(markdown["reads"][1]["link"], "`order.gone`");
        let row = &markdown["fields_read"][0];
        assert_eq!(
            (&row["field"], &row["type"], &row["read_for"]),
            (&json!("`method\\|x`"), &json!("—"), &json!("key"))
        );
        assert_eq!(markdown["fields_read"][1]["read_for"], "`total` (sum)");
        assert_eq!(
            markdown["key"][1]["means"],
            "envelope field: the event's stream (`<category>-<id>`)"
        );
        assert_eq!(
            markdown["cut"],
            "tumbling windows of 1 hour (`PT1H`), aligned on the hour (UTC epoch)"
        );
        assert_eq!(
            markdown["time"]["paragraphs"][2],
            "A late event, one whose window has closed, corrects its window: the closed window \
             takes it in and is updated (`correct`, the default on recorded time)."
        );
        assert_eq!(
            markdown["time"]["paragraphs"][1],
            "A window closes once the watermark passes its end. The watermark is the latest \
             recorded time (no lateness): a window closes as soon as an event at or after its \
             end arrives. After 10 seconds without events (`PT10S`, the default), the watermark \
             follows the wall clock, so windows close on time when the feed is quiet."
        );
        assert_eq!(
            markdown["retention"],
            "A closed window is removed once its end is 30 days (`P30D`) behind the watermark."
        );
        assert_eq!(
            markdown["http"]["query"],
            "`GET /windows/per_hour?key=…&from=…&to=…`"
        );
        let mdx = data(&window, Flavor::Mdx, &|_| None);
        assert_eq!(
            mdx["key"][1]["means"],
            "envelope field: the event's stream (`<category>-<id>`)"
        );
        assert_eq!(mdx["reads"][0]["link"], "`order.paid`");
    }
}
