//! `#[derive(eventsmith::Event)]` on a hand-written struct whose serde shape matches its schema.
#![deny(warnings)]

use eventsmith::Event;

#[derive(Debug, serde::Serialize, serde::Deserialize, eventsmith::Event)]
#[event(schema = "../schema/events/order/paid.v1.json")]
struct OrderPaid {
    amount: f64,
    method: PaymentMethod,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum PaymentMethod {
    Card,
    Invoice,
    Cash,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, eventsmith::Event)]
#[event(schema = "../schema/events/order/placed.v2.json")]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    #[serde(rename = "customer_id")]
    customer: String,
    lines: Vec<serde_json::Value>,
    currency: String,
    #[serde(rename = "total_amount")]
    total: serde_json::Number,
}

#[test]
fn the_event_type_and_version_come_from_the_schema_path() {
    assert_eq!(OrderPaid::EVENT_TYPE, "order.paid");
    assert_eq!(OrderPaid::VERSION, 1);
    assert_eq!(OrderPlaced::EVENT_TYPE, "order.placed");
    assert_eq!(OrderPlaced::VERSION, 2);
    let paid: OrderPaid = serde_json::from_str(r#"{"amount": 28.99, "method": "card"}"#).unwrap();
    assert!(matches!(paid.method, PaymentMethod::Card));
    assert_eq!(paid.amount, 28.99);
    let placed: OrderPlaced = serde_json::from_str(
        r#"{"customer_id": "c-1", "lines": [], "currency": "EUR", "total_amount": 0}"#,
    )
    .unwrap();
    assert_eq!(
        (
            placed.customer.as_str(),
            placed.currency.as_str(),
            placed.lines.len()
        ),
        ("c-1", "EUR", 0)
    );
    assert_eq!(placed.total.to_string(), "0");
}
