use super::*;
use serde_json::json;

fn definition(window: Cut, lateness: u64, late: Late, retain: Option<u64>) -> Arc<Definition> {
    Arc::new(Definition {
        name: "w".into(),
        reads: [("a.b".to_owned(), 1)].into(),
        key: vec!["k".into()],
        window,
        time: Some("at".into()),
        lateness,
        idle: 1_000,
        late,
        aggregates: vec![
            AggregateSpec {
                name: "count".into(),
                kind: Kind::Count,
                field: None,
                integer: true,
            },
            AggregateSpec {
                name: "total".into(),
                kind: Kind::Sum,
                field: Some("x".into()),
                integer: true,
            },
        ],
        retain,
        gauges: false,
        emit: false,
    })
}

fn input(time: i64, key: &str, x: i64, position: u64) -> Input {
    Input {
        time,
        key: Arc::from(format!("{{\"k\":\"{key}\"}}")),
        values: vec![None, Some(json!(x))],
        position,
        origin: None,
    }
}

/// (key, start, end, closed, count, total) of every window, sorted.
fn windows(engine: &Engine) -> Vec<(String, i64, i64, bool, Value, Value)> {
    let mut all: Vec<_> = engine
        .windows()
        .map(|w| {
            let values = w.values(engine.definition());
            (
                w.key.to_string(),
                w.start,
                w.end,
                w.closed,
                values["count"].clone(),
                values["total"].clone(),
            )
        })
        .collect();
    all.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    all
}

const A: &str = "{\"k\":\"a\"}";

#[test]
fn tumbling_windows_count_sum_and_close_behind_the_watermark() {
    let mut engine = Engine::new(definition(Cut::Tumbling { size: 10 }, 0, Late::Drop, None));
    for (position, (time, x)) in [(1, 10), (5, 25), (12, 5)].into_iter().enumerate() {
        engine.add(input(time, "a", x, position as u64 + 1), &NoFold);
    }
    assert_eq!(
        windows(&engine),
        [
            (A.into(), 0, 10, true, json!(2), json!(35)),
            (A.into(), 10, 20, false, json!(1), json!(5)),
        ]
    );
    // Late for a closed window: dropped.
    engine.add(input(3, "a", 100, 4), &NoFold);
    assert_eq!(windows(&engine)[0].5, json!(35));
    assert_eq!(engine.take_changes().late, 1);
    engine.tick(25);
    assert!(windows(&engine).iter().all(|w| w.3));
}

#[test]
fn hopping_windows_take_an_event_into_each_window_holding_it() {
    let mut engine = Engine::new(definition(
        Cut::Hopping { size: 10, hop: 5 },
        100,
        Late::Drop,
        None,
    ));
    engine.add(input(7, "a", 1, 1), &NoFold);
    let starts: Vec<i64> = windows(&engine).iter().map(|w| w.1).collect();
    assert_eq!(starts, [0, 5]);
}

#[test]
fn a_late_event_corrects_its_closed_window_or_is_kept_aside() {
    let mut correct = Engine::new(definition(
        Cut::Tumbling { size: 10 },
        0,
        Late::Correct,
        None,
    ));
    let mut keep = Engine::new(definition(Cut::Tumbling { size: 10 }, 0, Late::Keep, None));
    for engine in [&mut correct, &mut keep] {
        engine.add(input(1, "a", 1, 1), &NoFold);
        engine.add(input(30, "a", 1, 2), &NoFold);
        engine.take_changes();
        engine.add(input(2, "a", 5, 3), &NoFold);
    }
    assert_eq!(
        windows(&correct)[0],
        (A.into(), 0, 10, true, json!(2), json!(6))
    );
    assert_eq!(
        windows(&keep)[0],
        (A.into(), 0, 10, true, json!(1), json!(1))
    );
    let kept = keep.take_changes().kept;
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].0.position, kept[0].1), (3, 0));
}

#[test]
fn an_event_bridging_two_sessions_merges_them() {
    let mut engine = Engine::new(definition(
        Cut::Session { gap: 10 },
        1_000,
        Late::Drop,
        None,
    ));
    engine.add(input(0, "a", 1, 1), &NoFold);
    engine.add(input(15, "a", 2, 2), &NoFold);
    engine.add(input(100, "b", 4, 3), &NoFold);
    assert_eq!(windows(&engine).len(), 3);
    engine.take_changes();
    engine.add(input(8, "a", 3, 4), &NoFold);
    let all = windows(&engine);
    assert_eq!(all[0], (A.into(), 0, 25, false, json!(3), json!(6)));
    let changes = engine.take_changes();
    // The session keeping its start stays; the later one is merged away.
    assert_eq!(changes.removed, [(Arc::from(A), 15)].into(), "{changes:?}");
    assert!(changes.changed.contains(&(Arc::from(A), 0)));
}

#[test]
fn closed_windows_go_after_their_retention() {
    let mut engine = Engine::new(definition(
        Cut::Tumbling { size: 10 },
        0,
        Late::Correct,
        Some(20),
    ));
    engine.add(input(1, "a", 1, 1), &NoFold);
    engine.add(input(25, "a", 1, 2), &NoFold);
    assert_eq!(windows(&engine).len(), 2);
    engine.add(input(31, "a", 1, 3), &NoFold);
    assert_eq!(
        windows(&engine).len(),
        2,
        "[0, 10) ends 21 before the watermark 31"
    );
    assert!(engine.take_changes().removed.contains(&(Arc::from(A), 0)));
    // Too late even to correct.
    engine.add(input(2, "a", 1, 4), &NoFold);
    assert!(windows(&engine).iter().all(|w| w.1 != 0));
}

#[test]
fn stored_rows_give_back_the_same_windows() {
    let definition = definition(Cut::Session { gap: 10 }, 5, Late::Correct, None);
    let mut engine = Engine::new(Arc::clone(&definition));
    for (position, time) in [3, 9, 40, 44].into_iter().enumerate() {
        engine.add(input(time, "a", time, position as u64 + 1), &NoFold);
    }
    let stored: Vec<WindowState> = engine
        .windows()
        .map(|w| rows::window(&definition, rows::row(w)).unwrap())
        .collect();
    let restored = Engine::restore(Arc::clone(&definition), engine.clock(), stored);
    assert_eq!(windows(&restored), windows(&engine));
    let shown = window_json(&definition, engine.windows().next().unwrap());
    assert!(
        shown["start"]
            .as_str()
            .unwrap()
            .starts_with("1970-01-01T00:00:00")
    );
}
