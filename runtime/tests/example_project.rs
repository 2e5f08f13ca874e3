//! The example project's generated code, compiled under `#![deny(warnings)]` twice: as the file
//! `eventsmith generate` writes (generated-example/src/generated/mod.rs) and as the `generate!` macro
//! expands it. Its generated tests (every example round-trips, every v1 example upcasts to a
//! valid v2) run with this test binary.
#![deny(warnings)]

mod generated {
    include!("../../generated-example/src/generated/mod.rs");
}

mod expanded {
    eventsmith::generate!("..");
}

use eventsmith::{DecodeError, EventSet};

const STORED_V1: &[u8] = br#"{
    "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
    "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}],
    "total": 25.0
}"#;

#[test]
fn a_stored_v1_order_placed_decodes_as_v2_with_the_currency_defaulted() {
    let event = generated::DomainEvent::decode("order.placed", 1, STORED_V1).unwrap();
    let generated::DomainEvent::OrderPlaced(placed) = &event else {
        panic!("decoded {event:?}");
    };
    assert_eq!(placed.total_amount.to_string(), "25.0");
    assert_eq!(placed.currency, "EUR");
    assert_eq!(event.event_type(), "order.placed");
    assert_eq!(event.version(), 2);
    let encoded: serde_json::Value = serde_json::from_slice(&event.encode().unwrap()).unwrap();
    assert_eq!(
        encoded,
        serde_json::json!({
            "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
            "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}],
            "currency": "EUR",
            "total_amount": 25.0
        })
    );
    // The macro's expansion is the same code.
    let expanded = expanded::order::OrderEvent::decode("order.placed", 1, STORED_V1).unwrap();
    let expanded::order::OrderEvent::Placed(placed) = expanded else {
        panic!("decoded {expanded:?}");
    };
    assert_eq!(placed.currency, "EUR");
}

#[test]
fn bad_payloads_are_errors_that_name_the_problem() {
    let unknown = generated::DomainEvent::decode("order.lost", 1, b"{}").unwrap_err();
    assert!(
        matches!(unknown, DecodeError::UnknownEventType(_)),
        "{unknown}"
    );
    let version = generated::DomainEvent::decode("order.placed", 9, STORED_V1).unwrap_err();
    assert!(
        matches!(version, DecodeError::UnknownVersion { version: 9, .. }),
        "{version}"
    );
    let shape = generated::DomainEvent::decode("order.placed", 2, STORED_V1).unwrap_err();
    assert!(
        matches!(shape, DecodeError::InvalidPayload { .. }),
        "{shape}"
    );
    let no_lines = br#"{"customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "lines": [], "currency": "EUR", "total_amount": 0}"#;
    let constraint = generated::DomainEvent::decode("order.placed", 2, no_lines).unwrap_err();
    assert_eq!(
        constraint.to_string(),
        "invalid payload for `order.placed` v2: /lines: fewer than 1 items"
    );
}
