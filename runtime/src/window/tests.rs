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

#[test]
fn an_idle_tick_closes_windows_but_a_replay_takes_in_the_same_events() {
    // (time, x), lateness 5. The third event comes after the idle tick but is not late (the
    // watermark is 12 - 5 = 7); the sixth is late for [0, 10) (the watermark is then 20) and,
    // in a session, joins [3, 24), still open under the watermark.
    let events = [(3, 1), (12, 2), (5, 3), (14, 4), (25, 5), (4, 6)];
    type Expected = (Vec<(i64, i64, i64, i64)>, Vec<(i64, i64, i64, i64)>, u64);
    let cases: [(Cut, Expected); 2] = [
        (
            Cut::Tumbling { size: 10 },
            (
                vec![(0, 10, 2, 4), (10, 20, 2, 6), (20, 30, 1, 5)],
                vec![(0, 10, 3, 10), (10, 20, 2, 6), (20, 30, 1, 5)],
                1,
            ),
        ),
        (
            Cut::Session { gap: 10 },
            (
                vec![(3, 24, 5, 16), (25, 35, 1, 5)],
                vec![(3, 24, 5, 16), (25, 35, 1, 5)],
                0,
            ),
        ),
    ];
    for (cut, (left_out, corrected, late_events)) in cases {
        for late in [Late::Drop, Late::Keep, Late::Correct] {
            let definition = definition(cut, 5, late, None);
            let mut live = Engine::new(Arc::clone(&definition));
            let mut replay = Engine::new(Arc::clone(&definition));
            let mut live_late = 0;
            for (position, (time, x)) in events.into_iter().enumerate() {
                live.add(input(time, "a", x, position as u64 + 1), &NoFold);
                replay.add(input(time, "a", x, position as u64 + 1), &NoFold);
                if position == 1 {
                    // The feed was idle for a long while after the second event.
                    assert!(live.due(1_000), "{cut:?}");
                    live.tick(1_000);
                    let changes = live.take_changes();
                    assert!(
                        !changes.closed.is_empty(),
                        "{cut:?}: the clock closes windows"
                    );
                    live_late += changes.late;
                    assert!(windows(&live).iter().all(|w| w.3), "{cut:?}: all closed");
                }
            }
            live_late += live.take_changes().late;
            let replay_late = replay.take_changes().late;
            assert_eq!(
                (live_late, replay_late),
                (late_events, late_events),
                "{cut:?} {late:?}: what is late"
            );
            let values = |engine: &Engine| -> Vec<(i64, i64, i64, i64)> {
                windows(engine)
                    .into_iter()
                    .map(|(_, start, end, _, count, sum)| {
                        (start, end, count.as_i64().unwrap(), sum.as_i64().unwrap())
                    })
                    .collect()
            };
            let wanted = if late == Late::Correct {
                &corrected
            } else {
                &left_out
            };
            assert_eq!(&values(&live), wanted, "{cut:?} {late:?}: live");
            assert_eq!(&values(&replay), wanted, "{cut:?} {late:?}: replay");
            replay.tick(1_000);
            live.tick(1_000);
            assert_eq!(windows(&live), windows(&replay), "{cut:?} {late:?}");
            assert!(!live.due(2_000), "nothing left open");
        }
    }
}

#[test]
fn sessions_merged_behind_the_clock_stay_closed() {
    let definition = definition(Cut::Session { gap: 10 }, 100, Late::Drop, None);
    let mut engine = Engine::new(Arc::clone(&definition));
    engine.add(input(10, "a", 1, 1), &NoFold);
    engine.add(input(40, "b", 1, 2), &NoFold);
    engine.tick(1_000);
    assert!(
        engine.take_changes().closed.len() == 2,
        "the clock closes both sessions"
    );
    // Not late (the watermark is 40 - 100), before the start of the clock-closed session of
    // `a`: the two merge, behind the clock.
    engine.add(input(5, "a", 1, 3), &NoFold);
    let a: Vec<_> = windows(&engine).into_iter().filter(|w| w.0 == A).collect();
    assert_eq!(a, [(A.into(), 5, 20, true, json!(2), json!(2))]);
    assert!(engine.take_changes().closed.is_empty(), "announced once");
}

#[test]
fn a_clock_stored_before_closed_existed_reads_back() {
    let definition = definition(Cut::Tumbling { size: 10 }, 0, Late::Drop, None);
    let clock: Clock = serde_json::from_value(json!({"latest": 30, "watermark": 30})).unwrap();
    let engine = Engine::restore(definition, clock, []);
    assert_eq!(engine.clock().closed, 30);
}
