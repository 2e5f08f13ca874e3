//! The order scenario of the example domain (README.md#the-example-domain) over HTTP, with every
//! status the contract names, and a restart that must keep every event and row: run on SQLite
//! by order_scenario.rs and on PostgreSQL by postgres.rs (nats.rs sends commands with it).

// Each test crate uses a part of it.
#![allow(dead_code)]

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::{Answer, ServiceProcess};

pub const CUSTOMER: &str = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23";
pub const ORDER: &str = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f99";

pub fn command(
    service: &ServiceProcess,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Answer {
    service.request("POST", path, headers, body.to_string().as_bytes())
}

pub fn assert_problem(answer: &Answer, status: u16, kind: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{answer:?}"
    );
    assert_eq!(
        answer.body["type"],
        format!("urn:eventsmith:problem:{kind}"),
        "{answer:?}"
    );
    assert_eq!(answer.body["status"], status, "{answer:?}");
}

/// What the scenario left: the order's `order_summary` answer.
pub struct Left {
    pub summary: Answer,
    pub summary_path: String,
}

/// Runs the scenario on `service`, restarting it once (same database).
pub fn run(service: &mut ServiceProcess) -> Left {
    let order = format!("/commands/order/{ORDER}");

    // Register a customer; the correlation id flows into the event's metadata.
    let registered = command(
        service,
        &format!("/commands/customer/{CUSTOMER}/register_customer"),
        &[("X-Correlation-Id", "scenario-1")],
        &json!({ "email": "ada@example.com", "name": "Ada Lovelace" }),
    );
    assert_eq!(registered.status, 200, "{registered:?}");
    assert_eq!(registered.body["version"], 1);
    let event = &registered.body["events"][0];
    assert_eq!(event["type"], "customer.registered");
    assert_eq!(event["subject"], format!("customer-{CUSTOMER}"));
    assert_eq!(event["correlationid"], "scenario-1");
    assert_eq!(event["specversion"], "1.0");

    // An idempotent retry answers with the first append.
    let change = |key: &str| {
        command(
            service,
            &format!("/commands/customer/{CUSTOMER}/change_email"),
            &[("Idempotency-Key", key)],
            &json!({ "email": "ada@lovelace.example" }),
        )
    };
    let first = change("change-1");
    assert_eq!(first.status, 200, "{first:?}");
    let again = change("change-1");
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["version"], first.body["version"]);
    assert_eq!(again.body["events"][0]["id"], first.body["events"][0]["id"]);

    // Stock for the order: the `order_fulfilment` saga reserves it.
    for sku in ["BOOK-1984", "PEN-BLUE"] {
        let received = command(
            service,
            &format!("/commands/stock/{sku}/receive_stock"),
            &[],
            &json!({ "quantity": 10 }),
        );
        assert_eq!(received.status, 200, "{received:?}");
    }

    // Place the order: 2 × 12.50 + 1 × 3.99.
    let placed = command(
        service,
        &format!("{order}/place_order"),
        &[],
        &json!({
            "customer_id": CUSTOMER,
            "lines": [
                { "sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5 },
                { "sku": "PEN-BLUE", "quantity": 1, "unit_price": 3.99 }
            ],
            "currency": "EUR"
        }),
    );
    assert_eq!(placed.status, 200, "{placed:?}");
    assert_eq!(placed.header("etag"), Some("\"1\""));
    assert_eq!(placed.body["events"][0]["type"], "order.placed");
    assert_eq!(placed.body["events"][0]["data"]["total_amount"], 28.99);

    // Shipping an unpaid order is refused by a rule.
    let ship = json!({ "carrier": "DHL", "tracking_number": "JD014600003828" });
    let unpaid = command(service, &format!("{order}/ship_order"), &[], &ship);
    assert_problem(&unpaid, 409, "rejected");
    assert!(
        unpaid.body["detail"].as_str().unwrap().contains("not paid"),
        "{unpaid:?}"
    );

    // The wrong amount is refused.
    let wrong = command(
        service,
        &format!("{order}/pay_order"),
        &[],
        &json!({ "amount": 10.0, "method": "card" }),
    );
    assert_problem(&wrong, 409, "rejected");

    // Paying with a matching If-Match succeeds.
    let paid = command(
        service,
        &format!("{order}/pay_order"),
        &[("If-Match", "\"1\"")],
        &json!({ "amount": 28.99, "method": "card" }),
    );
    assert_eq!(paid.status, 200, "{paid:?}");
    assert_eq!(paid.body["version"], 2);
    assert_eq!(paid.header("etag"), Some("\"2\""));

    // A stale If-Match is a precondition failure.
    let stale = command(
        service,
        &format!("{order}/ship_order"),
        &[("If-Match", "\"1\"")],
        &ship,
    );
    assert_problem(&stale, 412, "version-mismatch");

    // An empty order breaks the schema: every violation with its JSON pointer.
    let empty = command(
        service,
        "/commands/order/0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f00/place_order",
        &[],
        &json!({ "customer_id": "not-a-uuid", "lines": [], "currency": "euro" }),
    );
    assert_problem(&empty, 422, "invalid-command");
    let pointers: Vec<&str> = empty.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["pointer"].as_str().expect("a pointer"))
        .collect();
    let mut pointers = pointers;
    pointers.sort_unstable();
    assert_eq!(
        pointers,
        ["/currency", "/customer_id", "/lines"],
        "{empty:?}"
    );

    // Malformed JSON, unknown commands and aggregates, and a 3 MB body.
    let malformed = service.request("POST", &format!("{order}/pay_order"), &[], b"{\"amount\": ");
    assert_problem(&malformed, 400, "malformed-json");
    assert_problem(
        &command(service, &format!("{order}/refund_order"), &[], &json!({})),
        404,
        "not-found",
    );
    assert_problem(
        &command(service, "/commands/invoice/1/issue", &[], &json!({})),
        404,
        "not-found",
    );
    let big = vec![b' '; 3 * 1024 * 1024];
    assert_problem(
        &service.request("POST", &format!("{order}/pay_order"), &[], &big),
        413,
        "too-large",
    );

    // The saga reserved the order's stock and ended once it was paid.
    service.wait_for(&format!("/sagas/order_fulfilment/{ORDER}"), |a| {
        a.body["status"] == "completed"
    });

    // The read model catches up, saying which position it reflects.
    let summary_path = format!("/projections/order_summary/{ORDER}");
    let summary = service.wait_for(&summary_path, |a| {
        a.status == 200 && a.body["row"]["status"] == "paid"
    });
    assert_eq!(summary.body["row"]["total_amount"], 28.99);
    assert_eq!(summary.body["row"]["line_count"], 2);
    assert_eq!(summary.body["row"]["customer_id"], CUSTOMER);
    let head = service.get("/events?limit=1000");
    let last = head.body["events"]
        .as_array()
        .and_then(|e| e.last())
        .map(|e| e["position"].clone())
        .expect("events");
    let summary = service.wait_for(&summary_path, |a| a.body["position"] == last);
    let customers = service.wait_for(&format!("/projections/customer_orders/{CUSTOMER}"), |a| {
        a.status == 200 && a.body["row"]["total_spent"] == 28.99
    });
    assert_eq!(customers.body["row"]["order_count"], 1);
    let stream = service.get(&format!("/streams/order-{ORDER}"));
    assert_eq!(stream.status, 200, "{stream:?}");
    assert_eq!(stream.body["events"].as_array().map(Vec::len), Some(2));

    // A restart keeps every event and every row.
    assert!(service.stop().success(), "{}", service.logs());
    service.restart();
    assert_eq!(
        service.get(&format!("/streams/order-{ORDER}")).body,
        stream.body
    );
    assert_eq!(service.get(&summary_path).body, summary.body);
    let paid_again = command(
        service,
        &format!("{order}/pay_order"),
        &[],
        &json!({ "amount": 28.99, "method": "card" }),
    );
    assert_problem(&paid_again, 409, "rejected");
    Left {
        summary,
        summary_path,
    }
}
