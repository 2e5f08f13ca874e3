//! The example service end to end: the `shop` binary that generated-example/ builds, started on a
//! free port with a temporary SQLite database, driven over real HTTP through the order scenario
//! (tests/scenario), restarted (same state), and its `order_summary` replayed (identical rows).

mod scenario;

use eventsmith::testing::process::ServiceProcess;

#[test]
fn the_order_scenario_over_http_survives_a_restart_and_a_replay() {
    let mut service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    let scenario::Left {
        summary,
        summary_path,
    } = scenario::run(&mut service);
    let rows = service.get("/projections/order_summary");
    assert_eq!(rows.status, 200);
    // Not while it serves: the live runner writes the same tables.
    let busy = service.run(&["replay", "--projection", "order_summary"]);
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("stop it first"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );

    // A replay rebuilds order_summary identically.
    assert!(service.stop().success(), "{}", service.logs());
    let replay = service.run(&["replay", "--projection", "order_summary"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(String::from_utf8_lossy(&replay.stdout).contains("rebuilt `order_summary`"));
    let unknown = service.run(&["replay", "--projection", "no_such_projection"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("order_summary"));
    let letters = service.run(&["dlq", "list"]);
    assert!(letters.status.success());
    assert!(String::from_utf8_lossy(&letters.stdout).contains("no open dead letters"));
    service.restart();
    assert_eq!(service.get("/projections/order_summary").body, rows.body);
    assert_eq!(service.get(&summary_path).body, summary.body);
}
