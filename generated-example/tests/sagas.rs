//! The `order_fulfilment` saga over HTTP, with its payment timeout cut to seconds
//! (`--saga-timeout`): an unpaid order is cancelled and its stock comes back, an order for more
//! than the stock is cancelled with nothing left reserved, a paid order keeps its stock, and a
//! timeout that fell due while the service was down fires once when it is back.

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::ServiceProcess;
use std::time::Duration;

const CUSTOMER: &str = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23";

fn service(payment: &str) -> ServiceProcess {
    let timeouts = format!("order_fulfilment.payment={payment}");
    ServiceProcess::start_with(
        env!("CARGO_BIN_EXE_shop"),
        &[("EVENTSMITH_SAGA_TIMEOUTS", timeouts.as_str())],
    )
}

fn receive(service: &ServiceProcess, sku: &str, quantity: u32) {
    let answer = service.post(
        &format!("/commands/stock/{sku}/receive_stock"),
        &json!({ "quantity": quantity }),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
}

fn place(service: &ServiceProcess, order: &str, lines: &[(&str, u32)]) {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity, "unit_price": 2.5}))
        .collect();
    let answer = service.post(
        &format!("/commands/order/{order}/place_order"),
        &json!({"customer_id": CUSTOMER, "lines": lines, "currency": "EUR"}),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// The saga instance once its status is `status`.
fn saga_once(service: &ServiceProcess, order: &str, status: &str) -> Value {
    service
        .wait_for(&format!("/sagas/order_fulfilment/{order}"), |answer| {
            answer.status == 200 && answer.body["status"] == status
        })
        .body
}

fn available(service: &ServiceProcess, sku: &str, wanted: u64) -> Value {
    service
        .wait_for(&format!("/projections/stock_levels/{sku}"), |answer| {
            answer.body["row"]["available"] == wanted && answer.body["lag"] == 0
        })
        .body["row"]
        .clone()
}

/// The order's events, by type.
fn order_events(service: &ServiceProcess, order: &str) -> Vec<Value> {
    let answer = service.get(&format!("/streams/order-{order}"));
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn cancellations(service: &ServiceProcess, order: &str) -> Vec<String> {
    order_events(service, order)
        .iter()
        .filter(|event| event["type"] == "order.cancelled")
        .map(|event| {
            event["data"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn an_unpaid_order_is_cancelled_and_its_stock_comes_back() {
    let service = service("2s");
    receive(&service, "BOOK-1984", 5);
    let order = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0a01";
    place(&service, order, &[("BOOK-1984", 2)]);
    let waiting = saga_once(&service, order, "running");
    assert!(
        waiting["state"] == "reserving" || waiting["state"] == "awaiting_payment",
        "{waiting}"
    );
    available(&service, "BOOK-1984", 3);
    let ended = saga_once(&service, order, "compensated");
    assert_eq!(ended["state"], "payment_timed_out", "{ended}");
    assert_eq!(cancellations(&service, order), ["payment timeout"]);
    let row = available(&service, "BOOK-1984", 5);
    assert_eq!(row["reserved"], 0, "{row}");
}

#[test]
fn an_order_for_more_than_the_stock_is_cancelled_and_nothing_stays_reserved() {
    let service = service("30s");
    receive(&service, "PEN-BLUE", 10);
    receive(&service, "INK-RED", 1);
    let order = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0a02";
    place(&service, order, &[("PEN-BLUE", 4), ("INK-RED", 3)]);
    let ended = saga_once(&service, order, "compensated");
    assert_eq!(ended["state"], "out_of_stock", "{ended}");
    assert_eq!(cancellations(&service, order), ["out of stock"]);
    for (sku, on_hand) in [("PEN-BLUE", 10), ("INK-RED", 1)] {
        let row = available(&service, sku, on_hand);
        assert_eq!(row["reserved"], 0, "{sku}: {row}");
    }
    let listed = service.get("/sagas/order_fulfilment?status=compensated");
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["instances"][0]["id"], order, "{listed:?}");
}

#[test]
fn a_paid_order_keeps_its_stock_and_completes_the_saga() {
    let service = service("2s");
    receive(&service, "MUG-1", 3);
    let order = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0a03";
    place(&service, order, &[("MUG-1", 2)]);
    // Paid at once: the payment may come in before the reservation is made.
    let paid = service.post(
        &format!("/commands/order/{order}/pay_order"),
        &json!({"amount": 5.0, "method": "card"}),
    );
    assert_eq!(paid.status, 200, "{paid:?}");
    let ended = saga_once(&service, order, "completed");
    assert_eq!(ended["state"], "paid", "{ended}");
    assert_eq!(ended["timeout"], Value::Null, "{ended}");
    // Well past the 2 s the timeout would have taken: still paid, still reserved.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(cancellations(&service, order).is_empty());
    let row = available(&service, "MUG-1", 1);
    assert_eq!(row["reserved"], 2, "{row}");
    assert_eq!(
        service
            .get(&format!("/sagas/order_fulfilment/{order}"))
            .body["status"],
        "completed"
    );
}

#[test]
fn a_timeout_due_while_the_service_was_down_fires_once_after_it_is_back() {
    let mut service = service("2s");
    receive(&service, "LAMP-1", 2);
    let order = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0a04";
    place(&service, order, &[("LAMP-1", 1)]);
    service.wait_for(&format!("/sagas/order_fulfilment/{order}"), |answer| {
        answer.body["state"] == "awaiting_payment"
    });
    service.stop();
    std::thread::sleep(Duration::from_millis(3000));
    service.restart();
    let ended = saga_once(&service, order, "compensated");
    assert_eq!(ended["state"], "payment_timed_out", "{ended}");
    assert_eq!(cancellations(&service, order), ["payment timeout"]);
    available(&service, "LAMP-1", 2);
    // Once: a single timeout event in the saga's stream, and one answer per command.
    let stream = service.get(&format!("/streams/saga.order_fulfilment-{order}"));
    assert_eq!(stream.status, 200, "{stream:?}");
    let events = stream.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let timeouts = events
        .iter()
        .filter(|e| e["type"] == "eventsmith.saga.timeout")
        .count();
    assert_eq!(timeouts, 1, "{events:?}");
    let mut keys: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "eventsmith.saga.outcome")
        .filter_map(|e| e["data"]["key"].as_str())
        .collect();
    let all = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), all, "an outcome recorded twice: {events:?}");
}
