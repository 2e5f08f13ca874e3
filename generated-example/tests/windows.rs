//! The example's windows over HTTP: `payments_per_hour` sums payments per method within a
//! second of their commit, and gives the same rows after a restart and after
//! `replay --window`; `orders_per_customer_session` counts a customer's orders in one session.

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::ServiceProcess;
use std::time::{Duration, Instant};

const CUSTOMER: &str = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23";

fn receive(service: &ServiceProcess, sku: &str, quantity: u32) {
    let answer = service.post(
        &format!("/commands/stock/{sku}/receive_stock"),
        &json!({ "quantity": quantity }),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// Places an order of `quantity` mugs at 2.5 and pays it by `method`.
fn order_and_pay(service: &ServiceProcess, order: &str, quantity: u32, method: &str) {
    let placed = service.post(
        &format!("/commands/order/{order}/place_order"),
        &json!({
            "customer_id": CUSTOMER,
            "lines": [{"sku": "MUG-1", "quantity": quantity, "unit_price": 2.5}],
            "currency": "EUR"
        }),
    );
    assert_eq!(placed.status, 200, "{placed:?}");
    let paid = service.post(
        &format!("/commands/order/{order}/pay_order"),
        &json!({"amount": f64::from(quantity) * 2.5, "method": method}),
    );
    assert_eq!(paid.status, 200, "{paid:?}");
}

/// The windows of `payments_per_hour` for `method`.
fn of_method(service: &ServiceProcess, method: &str) -> Vec<Value> {
    let answer = service.get(&format!("/windows/payments_per_hour?key={method}"));
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["windows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// (count, total) summed over `windows` (one, unless the payments straddled an hour).
fn sums(windows: &[Value]) -> (u64, f64) {
    windows.iter().fold((0, 0.0), |(count, total), window| {
        (
            count + window["aggregates"]["count"].as_u64().unwrap_or(0),
            total + window["aggregates"]["total"].as_f64().unwrap_or(0.0),
        )
    })
}

fn current_hour() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    eventsmith::window::rfc3339(now / 3_600_000 * 3_600_000)
}

#[test]
fn payments_per_hour_sums_by_method_and_survives_a_restart_and_a_replay() {
    let mut service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    receive(&service, "MUG-1", 100);
    let hour = current_hour();
    order_and_pay(&service, "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0b01", 4, "card");
    order_and_pay(&service, "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0b02", 10, "card");
    order_and_pay(&service, "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0b03", 2, "cash");
    let paid = Instant::now();
    let straddled = current_hour() != hour;
    loop {
        let (card, cash) = (of_method(&service, "card"), of_method(&service, "cash"));
        if sums(&card) == (2, 35.0) && sums(&cash) == (1, 5.0) {
            break;
        }
        assert!(
            paid.elapsed() < Duration::from_secs(1),
            "a second after the payments the windows are {card:?} and {cash:?}\n{}",
            service.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = service.get("/windows/payments_per_hour");
    assert_eq!(all.status, 200, "{all:?}");
    let windows = all.body["windows"].clone();
    if !straddled {
        assert_eq!(
            windows,
            json!([
                {"start": hour, "end": windows[0]["end"], "key": {"method": "card"}, "closed": false, "aggregates": {"count": 2, "total": 35}},
                {"start": hour, "end": windows[0]["end"], "key": {"method": "cash"}, "closed": false, "aggregates": {"count": 1, "total": 5}},
            ]),
            "{all:?}"
        );
    }
    assert!(all.body["position"].as_u64().unwrap_or(0) >= 7, "{all:?}");

    // The same rows after a restart, and after a replay from the first event (but for
    // `closed`, should the hour end meanwhile).
    let same = |answer: &Value| {
        let open = |windows: &Value| {
            let mut windows = windows.clone();
            for window in windows.as_array_mut().into_iter().flatten() {
                window["closed"] = Value::Null;
            }
            windows
        };
        open(&answer["windows"]) == open(&windows)
    };
    service.restart();
    let restarted = service.wait_for("/windows/payments_per_hour", |a| a.status == 200);
    assert!(same(&restarted.body), "{restarted:?} after {windows}");
    service.stop();
    let replay = service.run(&["replay", "--window", "payments_per_hour"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        String::from_utf8_lossy(&replay.stdout).contains("rebuilt `payments_per_hour`"),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    let unknown = service.run(&["replay", "--window", "stock_levels"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no window `stock_levels`"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    service.restart();
    let replayed = service.wait_for("/windows/payments_per_hour", |a| a.status == 200);
    assert!(same(&replayed.body), "{replayed:?} after {windows}");

    // A customer's three orders, placed within minutes, are one session.
    let sessions = service.wait_for(
        &format!("/windows/orders_per_customer_session?key={CUSTOMER}"),
        |a| a.status == 200 && a.body["windows"][0]["aggregates"]["orders"] == 3,
    );
    let session = &sessions.body["windows"][0];
    assert_eq!(
        session["key"],
        json!({"customer_id": CUSTOMER}),
        "{sessions:?}"
    );
    assert_eq!(session["closed"], false, "{sessions:?}");
}

#[test]
fn bad_window_queries_are_refused_with_a_reason() {
    let service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    let unknown = service.get("/windows/no_such_window");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert!(
        unknown.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("payments_per_hour")),
        "{unknown:?}"
    );
    let bad_time = service.get("/windows/payments_per_hour?from=yesterday");
    assert_eq!(bad_time.status, 400, "{bad_time:?}");
    let bad_key = service.get("/windows/payments_per_hour?key={\"currency\":\"EUR\"}");
    assert_eq!(bad_key.status, 400, "{bad_key:?}");
    let empty =
        service.get("/windows/payments_per_hour?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z");
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.body["windows"], json!([]), "{empty:?}");
}
