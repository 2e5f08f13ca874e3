//! The window runner against a brute-force computation from the whole log: for random events
//! (out of order in time, several keys), every window kind and late policy, with retention,
//! the runner stopped and resumed at random points (a fresh projection each time, reading its
//! windows back from SQLite), the stored windows and kept late events equal what a naive
//! replay of the log computes.

use eventsmith::projection::ProjectionRunner;
use eventsmith::read_model::{Backend, TableSpec};
use eventsmith::store::{EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent};
use eventsmith::window::{AggregateSpec, Cut, Definition, Kind, Late, Window, WindowProjection};
use proptest::prelude::*;
#[path = "support/any_event.rs"]
mod any_event;
use any_event::AnyEvent;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Default)]
struct Things;

impl Window for Things {
    type Event = AnyEvent;
    const NAME: &'static str = "things";
    const DEFINITION: &'static str = "{}";
    const TABLES: &'static [TableSpec] = eventsmith::window_tables!("things");
}

fn definition(window: Cut, lateness: u64, late: Late, retain: Option<u64>) -> Definition {
    let aggregate = |name: &str, kind, field: Option<&str>| AggregateSpec {
        name: name.into(),
        kind,
        field: field.map(Into::into),
        integer: true,
    };
    Definition {
        name: "things".into(),
        reads: [("thing.seen".to_owned(), 1)].into(),
        key: vec!["k".into()],
        window,
        time: Some("at".into()),
        lateness,
        idle: 1_000,
        late,
        aggregates: vec![
            aggregate("n", Kind::Count, None),
            aggregate("sum", Kind::Sum, Some("x")),
            aggregate("min", Kind::Min, Some("x")),
            aggregate("max", Kind::Max, Some("x")),
            aggregate("distinct", Kind::Distinct, Some("x")),
        ],
        retain,
        gauges: false,
        emit: false,
    }
}

/// One event: its time (ms), key and value.
type Seen = (i64, u8, i64);

/// A window as both sides give it: (key, start) -> (end, closed, [n, sum, min, max, distinct]).
type Windows = BTreeMap<(String, i64), (i64, bool, Vec<Value>)>;

fn key_of(key: u8) -> String {
    json!({"k": format!("k{key}")}).to_string()
}

/// The naive computation: every window keeps the events it took, aggregates are computed from
/// them at the end. Also the positions of the late events kept aside.
fn brute_force(definition: &Definition, log: &[Seen]) -> (Windows, Vec<u64>) {
    struct Naive {
        key: String,
        start: i64,
        end: i64,
        events: Vec<i64>,
    }
    let mut windows: Vec<Naive> = Vec::new();
    let mut watermark = i64::MIN;
    let mut latest = i64::MIN;
    let mut kept = Vec::new();
    let correct = definition.late == Late::Correct;
    let expired = |end: i64, watermark: i64| {
        definition
            .retain
            .is_some_and(|retain| end + retain as i64 <= watermark)
    };
    for (index, &(time, key, x)) in log.iter().enumerate() {
        let key = key_of(key);
        let mut late = false;
        match definition.window {
            Cut::Session { gap } => {
                let (from, to) = (time, time + gap as i64);
                let mut take = true;
                let joins_open = windows
                    .iter()
                    .any(|w| w.key == key && w.start < to && w.end > from && w.end > watermark);
                if !joins_open && to <= watermark {
                    late = true;
                    take = correct && !expired(to, watermark);
                }
                if take {
                    let mut merged = Naive {
                        key: key.clone(),
                        start: from,
                        end: to,
                        events: vec![x],
                    };
                    windows.retain(|w| {
                        let overlaps = w.key == key && w.start < to && w.end > from;
                        let mergeable = overlaps && (correct || w.end > watermark);
                        if mergeable {
                            merged.start = merged.start.min(w.start);
                            merged.end = merged.end.max(w.end);
                            merged.events.extend(&w.events);
                        }
                        !mergeable
                    });
                    windows.push(merged);
                }
            }
            cut => {
                let size = cut.span();
                let hop = match cut {
                    Cut::Hopping { hop, .. } => hop as i64,
                    _ => size,
                };
                // Every start a multiple of the hop whose window holds the time.
                let mut start = time.div_euclid(hop) * hop;
                while start > time - size {
                    let end = start + size;
                    let closed = end <= watermark;
                    late |= closed;
                    if !closed || (correct && !expired(end, watermark)) {
                        match windows
                            .iter_mut()
                            .find(|w| w.key == key && w.start == start)
                        {
                            Some(window) => window.events.push(x),
                            None => windows.push(Naive {
                                key: key.clone(),
                                start,
                                end,
                                events: vec![x],
                            }),
                        }
                    }
                    start -= hop;
                }
            }
        }
        if late && definition.late == Late::Keep {
            kept.push(index as u64 + 1);
        }
        if time > latest {
            latest = time;
            watermark = watermark.max(time - definition.lateness as i64);
            windows.retain(|w| !(w.end <= watermark && expired(w.end, watermark)));
        }
    }
    let computed = windows
        .into_iter()
        .map(|w| {
            let distinct: std::collections::BTreeSet<i64> = w.events.iter().copied().collect();
            let values = vec![
                json!(w.events.len()),
                json!(w.events.iter().sum::<i64>()),
                json!(w.events.iter().min()),
                json!(w.events.iter().max()),
                json!(distinct.len()),
            ];
            ((w.key, w.start), (w.end, w.end <= watermark, values))
        })
        .collect();
    (computed, kept)
}

fn stored(
    definition: &Definition,
    runner: &ProjectionRunner<Arc<InMemoryStore>, WindowProjection<Things>, impl Backend>,
) -> (Windows, Vec<u64>) {
    runner
        .read(|rows| {
            let windows = rows
                .list(&Things::TABLES[0], &[], usize::MAX)?
                .into_iter()
                .map(|row| {
                    let aggregates =
                        &eventsmith::window::shown(definition, row.clone()).unwrap()["aggregates"];
                    let values = ["n", "sum", "min", "max", "distinct"]
                        .iter()
                        .map(|name| aggregates[*name].clone())
                        .collect();
                    (
                        (
                            row["key"].as_str().unwrap().to_owned(),
                            row["start"].as_i64().unwrap(),
                        ),
                        (
                            row["end"].as_i64().unwrap(),
                            row["closed"].as_bool().unwrap(),
                            values,
                        ),
                    )
                })
                .collect();
            let kept = rows
                .list(&Things::TABLES[1], &[], usize::MAX)?
                .into_iter()
                .map(|row| row["position"].as_u64().unwrap())
                .collect::<std::collections::BTreeSet<u64>>()
                .into_iter()
                .collect();
            Ok((windows, kept))
        })
        .unwrap()
}

/// Runs the log through the runner, stopping it after each chunk (`stops` are positions).
fn run(definition: &Definition, log: &[Seen], stops: &[usize]) -> (Windows, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("windows.db");
    let store = Arc::new(InMemoryStore::new("test"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stops: Vec<usize> = stops.iter().map(|s| s % (log.len() + 1)).collect();
    stops.push(log.len());
    stops.sort_unstable();
    let mut appended = 0;
    let mut last = None;
    for stop in stops {
        runtime.block_on(async {
            for (index, &(time, key, x)) in log.iter().enumerate().take(stop).skip(appended) {
                let at = eventsmith::window::rfc3339(time);
                let event = NewEvent {
                    event_type: "thing.seen".into(),
                    version: 1,
                    data: serde_json::to_vec(&json!({"at": at, "k": format!("k{key}"), "x": x}))
                        .unwrap(),
                    metadata: Metadata::default(),
                };
                store
                    .append(
                        &format!("thing-{index}"),
                        ExpectedVersion::NoStream,
                        vec![event],
                        None,
                    )
                    .await
                    .unwrap();
            }
        });
        appended = appended.max(stop);
        // A fresh projection each time: what it knows comes from the tables.
        drop(last.take());
        let mut runner = ProjectionRunner::open(
            store.clone(),
            WindowProjection::<Things>::new(definition.clone()),
            &db,
        )
        .unwrap()
        .batch(7);
        runtime.block_on(runner.run_until_caught_up()).unwrap();
        last = Some(runner);
    }
    stored(definition, last.as_ref().unwrap())
}

fn cuts() -> impl Strategy<Value = Cut> {
    prop_oneof![
        (1u64..40).prop_map(|size| Cut::Tumbling { size }),
        (1u64..20, 1u64..4).prop_map(|(hop, times)| Cut::Hopping {
            size: hop * times + (hop / 2),
            hop
        }),
        (1u64..30).prop_map(|gap| Cut::Session { gap }),
    ]
}

fn policies() -> impl Strategy<Value = Late> {
    prop_oneof![Just(Late::Drop), Just(Late::Correct), Just(Late::Keep)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_runner_computes_what_the_whole_log_gives(
        cut in cuts(),
        lateness in 0u64..30,
        late in policies(),
        retain in proptest::option::of(1u64..200),
        log in proptest::collection::vec((-50i64..300, 0u8..3, -5i64..20), 1..60),
        stops in proptest::collection::vec(0usize..61, 0..4),
    ) {
        // Times mostly rising, with some out of order.
        let definition = definition(cut, lateness, late, retain);
        let expected = brute_force(&definition, &log);
        let got = run(&definition, &log, &stops);
        prop_assert_eq!(got.0, expected.0);
        prop_assert_eq!(got.1, expected.1);
    }
}

#[test]
fn an_event_inside_an_open_session_is_not_late() {
    // Gap 10, no lateness: after 0, 8 and 16 the session [0, 26) is open at watermark 16; an
    // event at 3 belongs to it, though its own span [3, 13) ends before the watermark.
    let definition = definition(Cut::Session { gap: 10 }, 0, Late::Drop, None);
    let (windows, _) = run(
        &definition,
        &[(0, 1, 1), (8, 1, 1), (16, 1, 1), (3, 1, 1)],
        &[],
    );
    let (_, (end, closed, values)) = windows.into_iter().next().unwrap();
    assert_eq!((end, closed, values[0].clone()), (26, false, json!(4)));
}

#[test]
fn a_bridging_event_merges_sessions_across_a_restart() {
    let definition = definition(Cut::Session { gap: 10 }, 100, Late::Drop, None);
    let log = [(0, 1, 1), (15, 1, 2), (8, 1, 3)];
    let (windows, _) = run(&definition, &log, &[2]);
    assert_eq!(windows.len(), 1, "{windows:?}");
    let ((_, start), (end, _, values)) = windows.into_iter().next().unwrap();
    assert_eq!((start, end), (0, 25));
    assert_eq!(values[0], json!(3));
    assert_eq!(values[1], json!(6));
}
