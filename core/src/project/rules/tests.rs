//! Unit tests of the project rules.

use crate::project::loader::Loaded;
use crate::project::loader::tests::{codes, findings, load_project, only};

/// A project where every rule holds: aggregate `order`, event `order.placed` v1, command
/// `order.place` emitting it, projection `summary` keyed by `order_id` subscribing to it.
const BASE: &[(&str, &str)] = &[
    ("schema/aggregates/order.json", r#"{"type": "object"}"#),
    (
        "schema/events/order/placed.v1.json",
        r#"{"type": "object"}"#,
    ),
    (
        "schema/commands/order/place.json",
        r#"{"type": "object", "x-eventsmith": {"emits": ["order.placed"]}}"#,
    ),
    (
        "schema/projections/summary.json",
        r#"{"type": "object", "properties": {"order_id": {"type": "string"}},
            "x-eventsmith": {"key": "order_id", "subscribes": ["order.placed"]}}"#,
    ),
];

/// `BASE` with `extra` added (a file of `extra` replaces the one at the same path).
fn base_with(extra: &[(&str, &str)]) -> Loaded {
    load_project(&[BASE, extra].concat())
}

#[test]
fn the_base_project_has_no_findings() {
    let loaded = base_with(&[]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
}

#[test]
fn a_project_that_keeps_every_rule_has_no_findings() {
    let loaded = base_with(&[
        (
            "schema/aggregates/order.json",
            r#"{"type": "object", "x-eventsmith": {"stream": "order"}}"#,
        ),
        (
            "schema/aggregates/order_line.json",
            r#"{"type": "object", "x-eventsmith": {"stream": "orderline"}}"#,
        ),
        ("schema/aggregates/payment.json", r#"{"type": "object"}"#),
        (
            "schema/events/order/placed.v2.json",
            r#"{"type": "object", "x-eventsmith": {"upcast": {"rules": [{"drop": {"field": "note"}}]}}}"#,
        ),
        (
            "schema/events/order/placed.v3.json",
            r#"{"type": "object", "x-eventsmith": {"upcast": {"custom": true}}}"#,
        ),
        (
            "schema/events/order/item-added.v1.json",
            r#"{"title": "Item added", "type": "object"}"#,
        ),
        (
            "schema/events/order_line/added.v1.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/events/payment/captured.v1.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/commands/order/place.json",
            r#"{"type": "object", "x-eventsmith": {"emits": ["order.placed", "order.item-added"]}}"#,
        ),
        (
            "schema/commands/payment/capture.json",
            r#"{"type": "object", "x-eventsmith": {"emits": ["payment.captured"]}}"#,
        ),
        (
            "schema/projections/summary.json",
            r#"{"$ref": "../types/row.json",
                "x-eventsmith": {"key": "order_id", "subscribes": ["order.placed", "order_line.added", "payment.captured"]}}"#,
        ),
        (
            "schema/types/row.json",
            r#"{"type": "object", "properties": {"order_id": {"type": "string"}}}"#,
        ),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let project = loaded.project.expect("a project");
    assert_eq!(project.aggregates.len(), 3);
    assert_eq!(project.events["order.placed"].versions.len(), 3);
}

#[test]
fn a_gap_in_the_versions_is_reported_at_the_first_version_out_of_sequence() {
    let loaded = base_with(&[
        (
            "schema/events/order/placed.v3.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/events/order/placed.v4.json",
            r#"{"type": "object"}"#,
        ),
    ]);
    let d = only(&loaded, "version-sequence");
    assert_eq!(d.location(), "schema/events/order/placed.v3.json:1:1");
    assert_eq!(
        d.message,
        "event `order.placed` has versions v1, v3, v4 but no v2"
    );
    assert_eq!(
        d.label.as_deref(),
        Some("expected placed.v2.json before this version")
    );
}

#[test]
fn versions_that_do_not_start_at_1_are_reported_once() {
    let loaded = base_with(&[
        (
            "schema/events/order/shipped.v2.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/events/order/shipped.v3.json",
            r#"{"type": "object"}"#,
        ),
    ]);
    let d = only(&loaded, "version-sequence");
    assert_eq!(d.location(), "schema/events/order/shipped.v2.json:1:1");
    assert_eq!(
        d.message,
        "event `order.shipped` has versions v2, v3 but no v1"
    );
}

#[test]
fn a_version_that_does_not_parse_still_fills_its_place_in_the_sequence() {
    let loaded = base_with(&[
        ("schema/events/order/placed.v2.json", "{"),
        (
            "schema/events/order/placed.v3.json",
            r#"{"type": "object"}"#,
        ),
    ]);
    assert_eq!(codes(&loaded), ["json-syntax"]);
}

#[test]
fn event_names_that_become_the_same_identifier_collide() {
    let loaded = base_with(&[
        (
            "schema/events/order/item-added.v1.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/events/order/item_added.v1.json",
            r#"{"type": "object"}"#,
        ),
    ]);
    let d = only(&loaded, "name-collision");
    assert_eq!(d.location(), "schema/events/order/item_added.v1.json:1:1");
    assert_eq!(
        d.message,
        "`item_added` and `item-added` collide: both become `item_added` among the events of aggregate `order`"
    );
}

#[test]
fn event_titles_that_give_the_same_rust_type_collide() {
    // `order.placed` has no title, so its type is `OrderPlaced` too.
    let loaded = base_with(&[(
        "schema/events/order/paid.v1.json",
        r#"{"title": "OrderPlaced", "type": "object"}"#,
    )]);
    let d = only(&loaded, "name-collision");
    assert_eq!(d.location(), "schema/events/order/placed.v1.json:1:1");
    assert_eq!(
        d.message,
        "events `order.paid` and `order.placed` both become the Rust type `OrderPlaced`"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("give one of them a different `title`")
    );
}

#[test]
fn command_and_projection_names_collide_within_their_kind() {
    let projection = r#"{"type": "object", "properties": {"order_id": {"type": "string"}},
        "x-eventsmith": {"key": "order_id", "subscribes": ["order.placed"]}}"#;
    let loaded = base_with(&[
        (
            "schema/commands/order/place-order.json",
            r#"{"type": "object", "x-eventsmith": {"emits": ["order.placed"]}}"#,
        ),
        (
            "schema/commands/order/placeOrder.json",
            r#"{"type": "object", "x-eventsmith": {"emits": ["order.placed"]}}"#,
        ),
        ("schema/projections/order-summary.json", projection),
        ("schema/projections/order_summary.json", projection),
    ]);
    let found: Vec<(String, &str)> = findings(&loaded, "name-collision")
        .iter()
        .map(|d| (d.location(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "schema/commands/order/placeOrder.json:1:1".to_owned(),
                "`placeOrder` and `place-order` collide: both become `place_order` among the commands of aggregate `order`"
            ),
            (
                "schema/projections/order_summary.json:1:1".to_owned(),
                "`order_summary` and `order-summary` collide: both become `order_summary` among the projections, sagas and windows"
            ),
        ]
    );
    assert_eq!(loaded.diagnostics.len(), 2);
}

#[test]
fn an_aggregate_directory_collides_with_an_aggregate_file() {
    let loaded = base_with(&[(
        "schema/events/Order/placed.v1.json",
        r#"{"type": "object"}"#,
    )]);
    let d = findings(&loaded, "name-collision")[0];
    assert_eq!(d.location(), "schema/events/Order/placed.v1.json:1:1");
    assert_eq!(
        d.message,
        "`Order` and `order` collide: both become `order` among the aggregates"
    );
    // `Order` is also an aggregate of its own, which has no file.
    assert_eq!(codes(&loaded), ["name-collision", "undefined-aggregate"]);
}

#[test]
fn the_same_name_in_different_kinds_does_not_collide() {
    let loaded = base_with(&[
        ("schema/events/order/place.v1.json", r#"{"type": "object"}"#),
        (
            "schema/projections/order.json",
            r#"{"type": "object", "properties": {"order_id": {"type": "string"}},
                "x-eventsmith": {"key": "order_id", "subscribes": ["order.place"]}}"#,
        ),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
}

#[test]
fn an_undefined_aggregate_is_reported_once_at_its_first_file() {
    let loaded = base_with(&[
        (
            "schema/commands/invoice/send.json",
            r#"{"type": "object", "x-eventsmith": {"emits": ["invoice.sent"]}}"#,
        ),
        (
            "schema/events/invoice/sent.v1.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/events/invoice/voided.v1.json",
            r#"{"type": "object"}"#,
        ),
    ]);
    let d = only(&loaded, "undefined-aggregate");
    assert_eq!(d.location(), "schema/commands/invoice/send.json:1:1");
    assert_eq!(d.message, "aggregate `invoice` is used but not defined");
    assert_eq!(
        d.help.as_deref(),
        Some("add aggregates/invoice.json (`eventsmith new aggregate invoice`) or move the file")
    );
}

#[test]
fn an_aggregate_file_that_does_not_parse_still_defines_the_aggregate() {
    let loaded = base_with(&[("schema/aggregates/order.json", "{")]);
    assert_eq!(codes(&loaded), ["json-syntax"]);
}

#[test]
fn each_unknown_emitted_event_is_reported_at_its_entry() {
    let loaded = base_with(&[(
        "schema/commands/order/place.json",
        "{\n  \"type\": \"object\",\n  \"x-eventsmith\": {\n    \"emits\": [\n      \"order.placd\",\n      \"order.shipped\"\n    ]\n  }\n}\n",
    )]);
    let found = findings(&loaded, "unknown-emitted-event");
    assert_eq!(found.len(), 2, "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.diagnostics.len(), 2);
    let (typo, missing) = (found[0], found[1]);
    assert_eq!(typo.location(), "schema/commands/order/place.json:5:7");
    assert_eq!(typo.pointer.as_deref(), Some("/x-eventsmith/emits/0"));
    assert_eq!(
        typo.message,
        "command `order.place` emits `order.placd`, which is not defined"
    );
    assert!(
        typo.help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `order.placed`?")
    );
    assert_eq!(missing.location(), "schema/commands/order/place.json:6:7");
    assert_eq!(missing.pointer.as_deref(), Some("/x-eventsmith/emits/1"));
    assert_eq!(
        missing.help.as_deref(),
        Some("add events/order/shipped.v1.json or fix the name")
    );
}

#[test]
fn a_command_emitting_another_aggregates_event_is_reported_at_the_entry() {
    let loaded = base_with(&[
        ("schema/aggregates/payment.json", r#"{"type": "object"}"#),
        (
            "schema/events/payment/captured.v1.json",
            r#"{"type": "object"}"#,
        ),
        (
            "schema/commands/order/place.json",
            "{\n  \"type\": \"object\",\n  \"x-eventsmith\": {\n    \"emits\": [\n      \"order.placed\",\n      \"payment.captured\"\n    ]\n  }\n}\n",
        ),
    ]);
    let d = only(&loaded, "emits-other-aggregate");
    assert_eq!(d.location(), "schema/commands/order/place.json:6:7");
    assert_eq!(d.pointer.as_deref(), Some("/x-eventsmith/emits/1"));
    assert_eq!(
        d.message,
        "command `order.place` emits `payment.captured`, an event of aggregate `payment`"
    );
    assert_eq!(d.label.as_deref(), Some("not an event of `order`"));
    assert!(d.help.as_deref().unwrap().contains("commands/payment/"));
}

#[test]
fn an_unknown_subscribed_event_is_reported_at_its_entry() {
    let loaded = base_with(&[(
        "schema/projections/summary.json",
        r#"{"type": "object", "properties": {"order_id": {"type": "string"}},
            "x-eventsmith": {"key": "order_id", "subscribes": ["order.placed", "customer.registered"]}}"#,
    )]);
    let d = only(&loaded, "unknown-subscribed-event");
    assert_eq!(
        d.file.as_deref(),
        Some(std::path::Path::new("schema/projections/summary.json"))
    );
    assert_eq!(d.pointer.as_deref(), Some("/x-eventsmith/subscribes/1"));
    assert_eq!(
        d.message,
        "projection `summary` subscribes to `customer.registered`, which is not defined"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("add events/customer/registered.v1.json or fix the name")
    );
}

#[test]
fn a_projection_key_that_is_not_a_row_property_is_reported_with_a_suggestion() {
    let loaded = base_with(&[(
        "schema/projections/summary.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"order_id\": {\n      \"type\": \"string\"\n    }\n  },\n  \"x-eventsmith\": {\n    \"key\": \"orderid\",\n    \"subscribes\": [\n      \"order.placed\"\n    ]\n  }\n}\n",
    )]);
    let d = only(&loaded, "projection-key");
    assert_eq!(d.location(), "schema/projections/summary.json:9:12");
    assert_eq!(d.pointer.as_deref(), Some("/x-eventsmith/key"));
    assert_eq!(
        d.message,
        "projection key `orderid` is not a property of the row"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `order_id`?"));
}

#[test]
fn a_projection_key_is_looked_up_through_a_root_ref() {
    let row = (
        "schema/types/row.json",
        r#"{"type": "object", "properties": {"order_id": {"type": "string"}}}"#,
    );
    let projection = |key: &str| {
        format!(
            r#"{{"$ref": "../types/row.json", "x-eventsmith": {{"key": "{key}", "subscribes": ["order.placed"]}}}}"#
        )
    };
    let good = projection("order_id");
    let loaded = base_with(&[row, ("schema/projections/summary.json", &good)]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);

    let bad = projection("day");
    let loaded = base_with(&[row, ("schema/projections/summary.json", &bad)]);
    let d = only(&loaded, "projection-key");
    assert_eq!(
        d.help.as_deref(),
        Some("name a property of the row schema's `properties`")
    );
}

#[test]
fn a_stream_named_after_another_aggregate_collides_and_is_reported_at_the_borrower() {
    let loaded = base_with(&[(
        "schema/aggregates/basket.json",
        "{\n  \"type\": \"object\",\n  \"x-eventsmith\": {\n    \"stream\": \"order\"\n  }\n}\n",
    )]);
    let d = only(&loaded, "stream-collision");
    assert_eq!(d.location(), "schema/aggregates/basket.json:4:15");
    assert_eq!(d.pointer.as_deref(), Some("/x-eventsmith/stream"));
    assert_eq!(
        d.message,
        "aggregates `order` and `basket` both write streams `order-<id>`"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("give `basket` a `stream` of its own in `x-eventsmith`")
    );
}

#[test]
fn two_aggregates_naming_the_same_stream_collide() {
    let shared = r#"{"type": "object", "x-eventsmith": {"stream": "sales"}}"#;
    let loaded = base_with(&[
        ("schema/aggregates/basket.json", shared),
        ("schema/aggregates/invoice.json", shared),
    ]);
    let d = only(&loaded, "stream-collision");
    assert_eq!(
        d.file.as_deref(),
        Some(std::path::Path::new("schema/aggregates/invoice.json"))
    );
    assert_eq!(
        d.message,
        "aggregates `basket` and `invoice` both write streams `sales-<id>`"
    );
}

#[test]
fn a_stream_that_is_another_plus_a_dash_is_a_stream_overlap_warning() {
    let loaded = base_with(&[(
        "schema/aggregates/order_line.json",
        "{\n  \"type\": \"object\",\n  \"x-eventsmith\": {\n    \"stream\": \"order-line\"\n  }\n}\n",
    )]);
    let d = only(&loaded, "stream-overlap");
    assert_eq!(d.location(), "schema/aggregates/order_line.json:4:15");
    assert_eq!(
        d.message,
        "streams of `order_line` can be read as streams of `order`: `order-line-1` is also `order` with id `line-1`"
    );
    assert!(!d.is_error() && !loaded.has_errors());
}

#[test]
fn a_stream_overlap_from_aggregate_names_is_reported_at_the_file() {
    // No `stream`: the category is the name, and the finding points at the file.
    let loaded = base_with(&[("schema/aggregates/order-line.json", r#"{"type": "object"}"#)]);
    let d = only(&loaded, "stream-overlap");
    assert_eq!(d.location(), "schema/aggregates/order-line.json:1:1");
    assert_eq!(d.pointer.as_deref(), Some(""));
}

#[test]
fn an_upcast_on_version_1_is_reported_at_the_upcast() {
    let loaded = base_with(&[(
        "schema/events/order/placed.v1.json",
        "{\n  \"type\": \"object\",\n  \"x-eventsmith\": {\n    \"upcast\": {\n      \"rules\": []\n    }\n  }\n}\n",
    )]);
    let d = only(&loaded, "upcast-on-first-version");
    assert_eq!(d.location(), "schema/events/order/placed.v1.json:4:5");
    assert_eq!(d.pointer.as_deref(), Some("/x-eventsmith/upcast"));
    assert_eq!(d.message, "version 1 has nothing to upcast from");
}

#[test]
fn a_title_that_takes_a_generated_name_or_another_aggregate_s_gives_way() {
    let event = |title: &str| {
        format!(
            r#"{{"title": "{title}", "type": "object", "properties": {{"id": {{"type": "string"}}}}}}"#
        )
    };
    let (push, member, book) = (
        event("push event"),
        event("MemberRegistered"),
        event("MemberRegistered"),
    );
    let loaded = load_project(&[
        ("schema/aggregates/push.json", r#"{"type": "object"}"#),
        ("schema/aggregates/member.json", r#"{"type": "object"}"#),
        ("schema/aggregates/book.json", r#"{"type": "object"}"#),
        ("schema/events/push/push.v1.json", &push),
        ("schema/events/member/registered.v1.json", &member),
        ("schema/events/book/registered.v1.json", &book),
    ]);
    let found = findings(&loaded, "name-gives-way");
    assert_eq!(found.len(), 2, "{:#?}", loaded.diagnostics);
    // Events in aggregate, then event order: book's is the first `MemberRegistered`.
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("re-exports it as `PushEvent2`"))
    );
    let variant = found
        .iter()
        .find(|d| d.message.contains("DomainEvent"))
        .unwrap();
    assert!(
        variant
            .message
            .contains("`member.registered` and `book.registered`"),
        "{}",
        variant.message
    );
    assert!(
        variant.message.contains("`MemberRegistered2`"),
        "{}",
        variant.message
    );
    assert!(!loaded.has_errors());
}

#[test]
fn a_title_that_takes_a_trait_of_its_version_module_gives_way() {
    let event = |title: &str, at: &str, upcast: &str| {
        format!(
            r#"{{"title": "{title}", "type": "object", "properties": {{"at": {{"type": "{at}"}}}}{upcast}}}"#
        )
    };
    let convert = r#", "x-eventsmith": {"upcast": {"rules": [{"convert": {"field": "at", "using": "type"}}]}}"#;
    let custom = r#", "x-eventsmith": {"upcast": {"custom": true}}"#;
    let files = [
        ("paid.v1.json", event("Paid", "integer", "")),
        ("paid.v2.json", event("Paid", "string", convert)),
        ("shipped.v1.json", event("Shipped", "integer", "")),
        ("shipped.v2.json", event("Shipped", "string", custom)),
        // v1 declares no trait: `Conversions` is free there.
        ("noted.v1.json", event("Conversions", "integer", "")),
        ("noted.v2.json", event("ShippedFromV1", "integer", "")),
        ("filed.v1.json", event("Filed", "integer", "")),
        ("filed.v2.json", event("Conversions", "integer", "")),
    ]
    .map(|(file, text)| (format!("schema/events/order/{file}"), text));
    let mut all = vec![("schema/aggregates/order.json", r#"{"type": "object"}"#)];
    all.extend(
        files
            .iter()
            .map(|(path, text)| (path.as_str(), text.as_str())),
    );
    let loaded = load_project(&all);
    let found = findings(&loaded, "name-gives-way");
    assert_eq!(found.len(), 2, "{:#?}", loaded.diagnostics);
    assert!(
        found.iter().any(|d| d.message.contains("`order.noted` v2")
            && d.message.contains("it is `ShippedFromV12` there")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|d| d.message.contains("`order.filed` v2")
            && d.message.contains("it is `Conversions2` there")),
        "{found:#?}"
    );
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
}
