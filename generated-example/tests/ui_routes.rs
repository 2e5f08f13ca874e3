//! The routes the page (`/ui`) reads and acts through, over HTTP against the example binary:
//! time travel, an event read upcast, the page before a position, a correlation trace through
//! the saga, the overview, the dead-letter routes' errors, and writes from another origin.

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::ServiceProcess;

const CUSTOMER: &str = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23";
const ORDER: &str = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0c01";

fn post(service: &ServiceProcess, path: &str, body: Value, correlation: &str) {
    let answer = service.request(
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("x-correlation-id", correlation),
        ],
        body.to_string().as_bytes(),
    );
    assert_eq!(answer.status, 200, "POST {path}: {answer:?}");
}

/// An order of two mugs at 2.5, placed and paid, under correlation ids `placed` and `paid`.
fn order_placed_and_paid(service: &ServiceProcess) {
    post(
        service,
        "/commands/stock/MUG-9/receive_stock",
        json!({"quantity": 10}),
        "stock",
    );
    post(
        service,
        &format!("/commands/order/{ORDER}/place_order"),
        json!({"customer_id": CUSTOMER, "currency": "EUR",
               "lines": [{"sku": "MUG-9", "quantity": 2, "unit_price": 2.5}]}),
        "placed",
    );
    post(
        service,
        &format!("/commands/order/{ORDER}/pay_order"),
        json!({"amount": 5.0, "method": "card"}),
        "paid",
    );
}

#[test]
fn a_stream_is_folded_to_any_version_by_the_aggregates_apply() {
    let service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    order_placed_and_paid(&service);
    let stream = format!("order-{ORDER}");
    let at = |version: &str| service.get(&format!("/streams/{stream}/state{version}"));
    let before = at("?version=0");
    assert_eq!(before.status, 200, "{before:?}");
    assert_eq!(
        (
            &before.body["state"],
            &before.body["event"],
            &before.body["latest"]
        ),
        (&Value::Null, &Value::Null, &json!(2))
    );
    let placed = at("?version=1");
    assert_eq!(placed.body["state"]["status"], "placed", "{placed:?}");
    assert_eq!(placed.body["event"]["type"], "order.placed");
    assert_eq!(
        (&placed.body["aggregate"], &placed.body["id"]),
        (&json!("order"), &json!(ORDER))
    );
    let now = at("");
    assert_eq!(
        (&now.body["version"], &now.body["state"]["status"]),
        (&json!(2), &json!("paid"))
    );
    for (query, status) in [("?version=3", 400), ("?version=-1", 400), ("?at=1", 400)] {
        let answer = at(query);
        assert_eq!(answer.status, status, "{query}: {answer:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    assert_eq!(service.get("/streams/order-nobody/state").status, 404);
    let saga = service.get(&format!("/streams/saga.order_fulfilment-{ORDER}/state"));
    assert_eq!(
        saga.status, 404,
        "a saga's stream is no aggregate's: {saga:?}"
    );
}

#[test]
fn an_event_stored_in_an_older_version_is_shown_as_the_service_reads_it() {
    let mut service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    post(
        &service,
        "/commands/stock/MUG-9/receive_stock",
        json!({"quantity": 1}),
        "stock",
    );
    service.stop();
    // An `order.placed` v1, as an earlier release of the service stored it.
    let v1 = json!({"customer_id": CUSTOMER, "lines": [{"sku": "MUG-9", "quantity": 1, "unit_price": 3.5}], "total": 3.5});
    let written = rusqlite::Connection::open(service.dir().join("events.db"))
        .expect("the service's database")
        .execute(
            "INSERT INTO events (id, stream, stream_version, event_type, version, time, data, metadata)
             SELECT randomblob(16), ?1, 1, 'order.placed', 1, time, ?2, NULL
             FROM events ORDER BY position DESC LIMIT 1",
            (format!("order-{ORDER}"), v1.to_string().into_bytes()),
        );
    assert_eq!(written.ok(), Some(1));
    service.restart();
    let old = service.get("/events/2");
    assert_eq!(old.status, 200, "{old:?}");
    assert_eq!(old.body["event"]["eventversion"], 1);
    assert_eq!(old.body["read_as"]["version"], 2, "{old:?}");
    assert_eq!(old.body["read_as"]["data"]["total_amount"], 3.5);
    assert_eq!(old.body["read_as"]["data"]["currency"], "EUR");
    let latest = service.get("/events/1");
    assert_eq!(latest.body["read_as"], Value::Null, "{latest:?}");
    let overview = service.get("/operations");
    let placed = overview.body["events"]
        .as_array()
        .and_then(|events| events.iter().find(|e| e["type"] == "order.placed"))
        .cloned();
    assert_eq!(
        placed,
        Some(json!({"type": "order.placed", "aggregate": "order", "latest": 2}))
    );
    assert_eq!(service.get("/events/0").status, 400);
    assert_eq!(service.get("/events/x").status, 400);
    assert_eq!(service.get("/events/999999").status, 404);
}

#[test]
fn pages_before_a_position_read_back_in_time() {
    let service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    for sku in ["A-1", "A-2", "A-3", "A-4"] {
        post(
            &service,
            &format!("/commands/stock/{sku}/receive_stock"),
            json!({"quantity": 1}),
            "stock",
        );
    }
    let positions = |answer: &Value| -> Vec<u64> {
        answer["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| e["position"].as_u64().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    let page = service.get("/events?before=4&limit=2");
    assert_eq!(
        (positions(&page.body), &page.body["next"]),
        (vec![2, 3], &json!(2))
    );
    let older = service.get("/events?before=2&limit=2");
    assert_eq!(positions(&older.body), vec![1]);
    let newest = service.get("/events?before=999&limit=3");
    assert_eq!(positions(&newest.body), vec![2, 3, 4]);
    assert_eq!(service.get("/events?before=1").body["events"], json!([]));
    assert_eq!(service.get("/events?before=3&after=1").status, 400);
}

/// The command nodes of a trace, depth first: (name, origin).
fn commands(nodes: &Value, found: &mut Vec<(String, String)>) {
    for node in nodes.as_array().into_iter().flatten() {
        if node["kind"] == "command" {
            found.push((
                node["name"].as_str().unwrap_or_default().to_owned(),
                node["origin"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        commands(&node["children"], found);
    }
}

#[test]
fn a_trace_follows_a_request_through_the_saga_and_tells_repeated_commands_apart() {
    let service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    order_placed_and_paid(&service);
    // The saga reserves the stock for the order: its command answers `order.placed`.
    let trace = service.wait_for("/correlations/placed", |answer| {
        let mut found = Vec::new();
        commands(&answer.body["trace"], &mut found);
        found.contains(&("stock.reserve_stock".to_owned(), "saga".to_owned()))
    });
    let roots = trace.body["trace"].as_array().expect("roots");
    assert_eq!(roots.len(), 1, "{trace:?}");
    assert_eq!(roots[0]["name"], "order.place_order");
    let placed = &roots[0]["children"][0];
    assert_eq!(placed["event"]["type"], "order.placed", "{trace:?}");
    let reservation = &placed["children"][0];
    assert_eq!(
        (&reservation["kind"], &reservation["saga"]),
        (&json!("command"), &json!("order_fulfilment"))
    );
    let reserved: Vec<&Value> = reservation["children"]
        .as_array()
        .expect("the reservation's events")
        .iter()
        .map(|node| &node["event"]["type"])
        .collect();
    assert!(
        reserved.contains(&&json!("stock.reserved")),
        "{reservation}"
    );

    // Two calls of one command under one correlation id are two nodes.
    for _ in 0..2 {
        post(
            &service,
            "/commands/stock/MUG-9/receive_stock",
            json!({"quantity": 1}),
            "twice",
        );
    }
    let twice = service.get("/correlations/twice");
    let mut found = Vec::new();
    commands(&twice.body["trace"], &mut found);
    assert_eq!(found.len(), 2, "{twice:?}");
    assert_eq!(service.get("/correlations/nothing-here").status, 404);
}

#[test]
fn the_overview_names_every_runner_and_dead_letter_routes_refuse_what_they_cannot_do() {
    let service = ServiceProcess::start_with(
        env!("CARGO_BIN_EXE_shop"),
        &[
            ("EVENTSMITH_TOKEN", "s3cret"),
            ("EVENTSMITH_READ_TOKEN", "reader"),
        ],
    );
    let read = [("authorization", "Bearer reader")];
    let write = [("authorization", "Bearer s3cret")];
    let overview = service.request("GET", "/operations", &read, b"");
    assert_eq!(overview.status, 200, "{overview:?}");
    let names = |kind: &str| -> Vec<Value> {
        overview.body[kind]
            .as_array()
            .map(|runners| runners.iter().map(|r| r["name"].clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(names("sagas"), [json!("order_fulfilment")]);
    assert_eq!(names("projections").len(), 4);
    let hourly = overview.body["windows"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == "payments_per_hour"))
        .cloned()
        .expect("payments_per_hour");
    assert_eq!(
        hourly["window"],
        json!({"kind": "tumbling", "size": 3_600_000})
    );
    assert_eq!(hourly["key"], json!(["method"]));
    // Every runner answers once it runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let letters = loop {
        let answer = service.request("GET", "/dead-letters", &read, b"");
        if answer.status == 200 && answer.body["unavailable"] == json!([]) {
            break answer;
        }
        assert!(std::time::Instant::now() < deadline, "{answer:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(letters.body["dead_letters"], json!([]));
    let path = "/dead-letters/stock_levels/1/retry";
    assert_eq!(service.request("POST", path, &read, b"").status, 403);
    let none = service.request("POST", path, &write, b"");
    assert_eq!(none.status, 404, "no open dead letter 1: {none:?}");
    let unknown = service.request("POST", "/dead-letters/nothing/1/skip", &write, b"");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let bad = service.request("POST", "/dead-letters/stock_levels/one/retry", &write, b"");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    // A page of another site may not act, even with a token a browser sent along.
    let foreign = service.request(
        "POST",
        path,
        &[
            ("authorization", "Bearer s3cret"),
            ("origin", "https://elsewhere.example"),
        ],
        b"",
    );
    assert_eq!(
        (foreign.status, &foreign.body["type"]),
        (403, &json!("urn:eventsmith:problem:cross-origin"))
    );
}
