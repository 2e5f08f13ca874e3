//! The `stock` aggregate and its `stock_levels` read model over HTTP: receiving, reserving
//! (refused with 409 beyond what is available) and releasing (at most what an order holds; again
//! is a no-op).

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::{Answer, ServiceProcess};

const SKU: &str = "BOOK-1984";
const FIRST: &str = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f01";
const SECOND: &str = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f02";

fn send(service: &ServiceProcess, command: &str, body: Value) -> Answer {
    service.request(
        "POST",
        &format!("/commands/stock/{SKU}/{command}"),
        &[],
        body.to_string().as_bytes(),
    )
}

#[test]
fn stock_is_reserved_only_while_available_and_released_once() {
    let service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    let received = send(&service, "receive_stock", json!({ "quantity": 3 }));
    assert_eq!(received.status, 200, "{received:?}");
    assert_eq!(received.body["stream"], format!("stock-{SKU}"));

    let reserved = send(
        &service,
        "reserve_stock",
        json!({ "order_id": FIRST, "quantity": 2 }),
    );
    assert_eq!(reserved.status, 200, "{reserved:?}");
    let refused = send(
        &service,
        "reserve_stock",
        json!({ "order_id": SECOND, "quantity": 2 }),
    );
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("only 1 unit(s) available")),
        "{refused:?}"
    );
    let levels = service.wait_for(&format!("/projections/stock_levels/{SKU}"), |answer| {
        answer.status == 200 && answer.body["row"]["reserved"] == 2
    });
    assert_eq!(levels.body["row"]["on_hand"], 3);
    assert_eq!(levels.body["row"]["available"], 1);

    // Releasing more than the order holds gives back what it holds; again, nothing.
    let released = send(
        &service,
        "release_stock",
        json!({ "order_id": FIRST, "quantity": 5 }),
    );
    assert_eq!(released.status, 200, "{released:?}");
    assert_eq!(released.body["events"][0]["data"]["quantity"], 2);
    let again = send(
        &service,
        "release_stock",
        json!({ "order_id": FIRST, "quantity": 2 }),
    );
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["events"], json!([]), "{again:?}");
    let levels = service.wait_for(&format!("/projections/stock_levels/{SKU}"), |answer| {
        answer.body["row"]["available"] == 3
    });
    assert_eq!(levels.body["row"]["reserved"], 0);
    let second = send(
        &service,
        "reserve_stock",
        json!({ "order_id": SECOND, "quantity": 3 }),
    );
    assert_eq!(second.status, 200, "{second:?}");
}
