//! A stored v1 `order.placed` decodes (upcast to v2) and encodes again, and a broken payload is
//! refused with its pointer, on `eventsmith` without default features.

use eventsmith::{DecodeError, EventSet};
use eventsmith_events_only::events::DomainEvent;

const STORED_V1: &[u8] = br#"{
    "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
    "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}],
    "total": 25.0
}"#;

#[test]
fn a_v1_event_decodes_upcast_and_encodes_at_v2() {
    let event = DomainEvent::decode("order.placed", 1, STORED_V1).unwrap();
    assert_eq!((event.event_type(), event.version()), ("order.placed", 2));
    let encoded = String::from_utf8(event.encode().unwrap()).unwrap();
    assert_eq!(
        encoded,
        r#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5}],"currency":"EUR","total_amount":25.0}"#
    );
    assert_eq!(
        DomainEvent::decode("order.placed", 2, encoded.as_bytes()).unwrap(),
        event
    );
}

#[test]
fn a_payload_that_breaks_its_schema_is_refused() {
    let no_lines = br#"{"customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "lines": [], "currency": "EUR", "total_amount": 0}"#;
    let error = DomainEvent::decode("order.placed", 2, no_lines).unwrap_err();
    assert!(matches!(error, DecodeError::Violations { .. }), "{error}");
    assert!(error.to_string().contains("/lines"), "{error}");
}
