//! A generated schema project for benchmarks: events x 3 versions with shared `$ref` types.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The fastest of `runs` runs of `f`.
pub fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

/// Versions per event.
pub const VERSIONS: u32 = 3;
const EVENTS_PER_AGGREGATE: usize = 10;

fn write(path: &Path, value: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// The file of an event's version.
pub fn event_file(root: &Path, event: usize, version: u32) -> PathBuf {
    root.join(format!(
        "schema/events/agg{}/event{event}.v{version}.json",
        event / EVENTS_PER_AGGREGATE
    ))
}

/// Writes a project with `events` events of 3 versions each; returns every schema file.
pub fn generate(root: &Path, events: usize) -> Vec<PathBuf> {
    std::fs::write(
        root.join("eventsmith.toml"),
        "[project]\nname = \"bench\"\n",
    )
    .unwrap();
    let schema = root.join("schema");
    write(
        &schema.join("types/money.json"),
        &json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {
                "Amount": {"type": "number", "minimum": 0, "multipleOf": 0.01},
                "Currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "Money": {"type": "object", "properties": {
                    "amount": {"$ref": "#/$defs/Amount"}, "currency": {"$ref": "#/$defs/Currency"}
                }, "required": ["amount", "currency"], "additionalProperties": false}
            }
        }),
    );
    write(
        &schema.join("types/ids.json"),
        &json!({"$defs": {"Id": {"type": "string", "format": "uuid"}}}),
    );
    for aggregate in 0..events.div_ceil(EVENTS_PER_AGGREGATE) {
        write(
            &schema.join(format!("aggregates/agg{aggregate}.json")),
            &json!({"type": "object", "description": "An aggregate.", "x-eventsmith": {"owners": ["team"]}}),
        );
    }
    for event in 0..events {
        for version in 1..=VERSIONS {
            let mut annotations = json!({"owners": ["team"]});
            if version > 1 {
                annotations["upcast"] = json!({"rules": [
                    {"rename": {"from": format!("note{}", version - 1), "to": format!("note{version}")}}
                ]});
            }
            write(
                &event_file(root, event, version),
                &json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "title": format!("Event{event}"),
                    "description": "Something happened.",
                    "type": "object",
                    "properties": {
                        "id": {"$ref": "../../types/ids.json#/$defs/Id", "description": "Which one."},
                        "price": {"$ref": "../../types/money.json#/$defs/Money", "description": "How much."},
                        "quantity": {"type": "integer", "minimum": 1, "description": "How many."},
                        format!("note{version}"): {"type": "string", "maxLength": 200, "description": "Why."}
                    },
                    "required": ["id", "price", "quantity"],
                    "additionalProperties": false,
                    "examples": [{
                        "id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
                        "price": {"amount": 12.5, "currency": "EUR"},
                        "quantity": 2
                    }],
                    "x-eventsmith": annotations
                }),
            );
        }
    }
    let mut files = Vec::new();
    let mut pending = vec![schema];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path)
            } else {
                files.push(path)
            }
        }
    }
    files
}

/// Adds a command per event (emitting it) and a projection per aggregate (subscribing to all its
/// events), so producers and consumers are not empty.
// Each bench compiles this module; only the catalog bench adds flows.
#[allow(dead_code)]
pub fn add_flows(root: &Path, events: usize) {
    let schema = root.join("schema");
    for event in 0..events {
        let aggregate = event / EVENTS_PER_AGGREGATE;
        write(
            &schema.join(format!("commands/agg{aggregate}/do{event}.json")),
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": format!("Do{event}"),
                "description": "Do something.",
                "type": "object",
                "properties": {
                    "quantity": {"type": "integer", "minimum": 1, "description": "How many."}
                },
                "required": ["quantity"],
                "additionalProperties": false,
                "x-eventsmith": {"emits": [format!("agg{aggregate}.event{event}")], "owners": ["team"]}
            }),
        );
    }
    for aggregate in 0..events.div_ceil(EVENTS_PER_AGGREGATE) {
        let subscribes: Vec<String> = (aggregate * EVENTS_PER_AGGREGATE
            ..((aggregate + 1) * EVENTS_PER_AGGREGATE).min(events))
            .map(|event| format!("agg{aggregate}.event{event}"))
            .collect();
        write(
            &schema.join(format!("projections/view{aggregate}.json")),
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": format!("View{aggregate}"),
                "description": "A read model.",
                "type": "object",
                "properties": {
                    "id": {"$ref": "../types/ids.json#/$defs/Id", "description": "Which one."},
                    "count": {"type": "integer", "minimum": 0, "description": "How many."}
                },
                "required": ["id", "count"],
                "additionalProperties": false,
                "x-eventsmith": {"key": "id", "subscribes": subscribes, "owners": ["team"]}
            }),
        );
    }
}
