//! Loads and validates generated projects of 1,000 and 5,000 events x 3 versions with shared
//! `$ref` types, and prints each time next to a baseline measured in the same run: reading the
//! same files and parsing them with serde_json, nothing else.
//!
//! Run: `cargo bench -p eventsmith-core --bench load`

use eventsmith_core::fs::RealFs;
use eventsmith_core::{LoadOptions, load};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const VERSIONS: u32 = 3;
const EVENTS_PER_AGGREGATE: usize = 10;

fn write(path: &Path, value: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// A project with `events` events of 3 versions each, referencing shared types.
fn generate(root: &Path, events: usize) -> Vec<std::path::PathBuf> {
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
        let aggregate = event / EVENTS_PER_AGGREGATE;
        for version in 1..=VERSIONS {
            let mut annotations = json!({"owners": ["team"]});
            if version > 1 {
                annotations["upcast"] = json!({"rules": [
                    {"rename": {"from": format!("note{}", version - 1), "to": format!("note{version}")}}
                ]});
            }
            write(
                &schema.join(format!(
                    "events/agg{aggregate}/event{event}.v{version}.json"
                )),
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

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let mut results = Vec::new();
    for events in [1_000usize, 5_000] {
        let temp = tempfile::tempdir().unwrap();
        let files = generate(temp.path(), events);
        let options = LoadOptions::new(temp.path(), None);
        let loaded = load(&RealFs, &options);
        assert!(
            !loaded.has_errors(),
            "{:?}",
            &loaded.diagnostics[..loaded.diagnostics.len().min(3)]
        );
        assert_eq!(loaded.project.as_ref().unwrap().events.len(), events);
        let runs = if events <= 1_000 { 5 } else { 3 };
        let eventsmith = best_of(runs, || {
            let loaded = load(&RealFs, &options);
            assert!(!loaded.has_errors());
        });
        let baseline = best_of(runs, || {
            for file in &files {
                let bytes = std::fs::read(file).unwrap();
                let _: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            }
        });
        println!(
            "load+validate {events} events x {VERSIONS} versions ({} files): {:>8.1} ms | read+parse baseline {:>6.1} ms | ratio {:.1}x",
            files.len(),
            eventsmith.as_secs_f64() * 1e3,
            baseline.as_secs_f64() * 1e3,
            eventsmith.as_secs_f64() / baseline.as_secs_f64()
        );
        results.push((events, eventsmith));
    }
    let (small, t_small) = results[0];
    let (large, t_large) = results[1];
    let scale = (large / small) as f64;
    println!(
        "scaling {small} -> {large} events: {:.2}x time for {scale:.0}x input (linear = {scale:.2}x; per-event {:.1} µs vs {:.1} µs)",
        t_large.as_secs_f64() / t_small.as_secs_f64(),
        t_small.as_secs_f64() * 1e6 / small as f64,
        t_large.as_secs_f64() * 1e6 / large as f64,
    );
    println!(
        "goal: 1,000 events x 3 versions under 1 s: {}",
        if t_small < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
