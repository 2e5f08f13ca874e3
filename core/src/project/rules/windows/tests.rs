//! Unit tests of the window rules.

use crate::diagnostic::Diagnostic;
use crate::project::loader::Loaded;
use crate::project::loader::tests::{codes, findings, load_project, only};
use serde_json::{Value, json};

const WINDOW: &str = "schema/windows/sales.json";

/// An order's events: `placed` in two versions and `paid`, with a shared `Amount` (a number).
fn events() -> Vec<(&'static str, Value)> {
    let address = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let placed = json!({
        "type": "object",
        "properties": {
            "customer_id": {"type": "string"},
            "region": {"enum": ["eu", "us"]},
            "amount": {"$ref": "../../types/money.json#/$defs/Amount"},
            "quantity": {"type": "integer"},
            "placed_at": {"type": "string", "format": "date-time"},
            "address": address,
            "note": {"type": "string"}
        }
    });
    let mut placed_v2 = placed.clone();
    placed_v2["properties"]["gift"] = json!({"type": "boolean"});
    let paid = json!({
        "type": "object",
        "properties": {
            "customer_id": {"type": "string"},
            "region": {"type": "string"},
            "amount": {"type": "number"},
            "quantity": {"type": "integer"},
            "placed_at": {"type": "string", "format": "date-time"},
            "address": address,
            "note": {"type": "integer"}
        }
    });
    vec![
        ("schema/aggregates/order.json", json!({"type": "object"})),
        (
            "schema/types/money.json",
            json!({"$defs": {"Amount": {"type": "number", "minimum": 0}}}),
        ),
        ("schema/events/order/placed.v1.json", placed),
        ("schema/events/order/placed.v2.json", placed_v2),
        ("schema/events/order/paid.v1.json", paid),
    ]
}

/// A window that keeps every rule: it reads both events, by region, city and stream.
fn window() -> Value {
    json!({
        "type": "object",
        "properties": {
            "orders": {"type": "integer", "minimum": 0},
            "total": {"$ref": "../types/money.json#/$defs/Amount"},
            "customers": {"type": "integer"},
            "mean": {"type": "number"},
            "fewest": {"type": "integer"},
            "first": {"type": "string"},
            "score": {"type": "number"}
        },
        "x-eventsmith": {
            "reads": ["order.placed", "order.paid"],
            "key": ["region", "address.city", "$stream"],
            "window": {"kind": "hopping", "size": "PT1H", "hop": "PT15M"},
            "time": {"from": "placed_at", "lateness": "PT0S", "idle": "PT5S"},
            "aggregates": {
                "orders": {"kind": "count"},
                "total": {"kind": "sum", "field": "amount"},
                "customers": {"kind": "distinct", "field": "customer_id"},
                "mean": {"kind": "average", "field": "amount"},
                "fewest": {"kind": "min", "field": "quantity"},
                "first": {"kind": "min", "field": "placed_at"},
                "score": {"kind": "custom"}
            },
            "retain": "P30D"
        }
    })
}

/// The project with `window` as `schema/windows/sales.json` and `extra` files.
fn load(window: &Value, extra: &[(&str, Value)]) -> Loaded {
    let mut files: Vec<(&str, String)> = events()
        .into_iter()
        .map(|(path, value)| (path, value.to_string()))
        .collect();
    files.push((WINDOW, serde_json::to_string_pretty(window).unwrap()));
    files.extend(extra.iter().map(|(path, value)| (*path, value.to_string())));
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    load_project(&files)
}

/// The window with one annotation replaced.
fn with(annotation: &str, value: Value) -> Value {
    let mut window = window();
    window["x-eventsmith"][annotation] = value;
    window
}

/// (pointer, message) of each finding of `code`.
fn found<'a>(loaded: &'a Loaded, code: &str) -> Vec<(&'a str, &'a str)> {
    findings(loaded, code)
        .into_iter()
        .map(|d: &Diagnostic| (d.pointer.as_deref().unwrap_or(""), d.message.as_str()))
        .collect()
}

#[test]
fn a_window_that_keeps_every_rule_has_no_findings() {
    let loaded = load(&window(), &[]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.project.unwrap().windows.len(), 1);
}

#[test]
fn an_undefined_event_read_is_reported_at_its_entry_with_a_suggestion() {
    let loaded = load(
        &with(
            "reads",
            json!(["order.placd", "order.paid", "customer.left"]),
        ),
        &[],
    );
    let reported = findings(&loaded, "window-event");
    assert_eq!(reported.len(), 2, "{:#?}", loaded.diagnostics);
    assert_eq!(
        reported[0].pointer.as_deref(),
        Some("/x-eventsmith/reads/0")
    );
    assert_eq!(
        reported[0].message,
        "window `sales` reads event `order.placd`, which is not defined"
    );
    assert_eq!(
        reported[0].help.as_deref(),
        Some("did you mean `order.placed`?")
    );
    assert_eq!(
        reported[1].pointer.as_deref(),
        Some("/x-eventsmith/reads/2")
    );
    assert_eq!(codes(&loaded), ["window-event", "window-event"]);
}

#[test]
fn a_key_must_be_a_scalar_of_one_type_in_every_version_of_every_event() {
    let loaded = load(
        &with(
            "key",
            json!([
                "gift",
                "address",
                "address.zip",
                "note.text",
                "custmer_id",
                "note",
                "$aggregate"
            ]),
        ),
        &[],
    );
    assert_eq!(
        found(&loaded, "window-field"),
        [
            (
                "/x-eventsmith/key/0",
                "key `gift` is not a property of `order.paid` v1"
            ),
            (
                "/x-eventsmith/key/0",
                "key `gift` is not a property of `order.placed` v1"
            ),
            (
                "/x-eventsmith/key/1",
                "key `address` is an object in `order.paid` v1, not a string, integer, number or boolean"
            ),
            (
                "/x-eventsmith/key/1",
                "key `address` is an object in `order.placed` v1 and v2, not a string, integer, number or boolean"
            ),
            (
                "/x-eventsmith/key/2",
                "key `address.zip` is not a property of `order.paid` v1: `address` has no `zip`"
            ),
            (
                "/x-eventsmith/key/2",
                "key `address.zip` is not a property of `order.placed` v1 and v2: `address` has no `zip`"
            ),
            (
                "/x-eventsmith/key/3",
                "key `note.text` is not a property of `order.paid` v1: `note` is an integer, not an object"
            ),
            (
                "/x-eventsmith/key/3",
                "key `note.text` is not a property of `order.placed` v1 and v2: `note` is a string, not an object"
            ),
            (
                "/x-eventsmith/key/4",
                "key `custmer_id` is not a property of `order.paid` v1"
            ),
            (
                "/x-eventsmith/key/4",
                "key `custmer_id` is not a property of `order.placed` v1 and v2"
            ),
            (
                "/x-eventsmith/key/5",
                "key `note` is not of one type across the events read: an integer in `order.paid` v1, a string in `order.placed` v1 and v2"
            ),
            (
                "/x-eventsmith/key/6",
                "key `$aggregate` is not an envelope field"
            ),
        ]
    );
    let typo = findings(&loaded, "window-field")[8];
    assert!(
        typo.help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `customer_id`?"),
        "{typo:#?}"
    );
    let envelope = findings(&loaded, "window-field")[11];
    assert!(
        envelope
            .help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `$aggregate_id`?"),
        "{envelope:#?}"
    );
}

#[test]
fn an_enum_of_strings_keys_like_a_string() {
    // `region` is an enum in `placed` and a string in `paid`.
    let loaded = load(&with("key", json!(["region"])), &[]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
}

#[test]
fn aggregate_fields_must_be_in_every_version_and_fit_their_kind() {
    let mut window = window();
    window["x-eventsmith"]["aggregates"]["total"]["field"] = json!("note");
    window["x-eventsmith"]["aggregates"]["mean"]["field"] = json!("amout");
    window["x-eventsmith"]["aggregates"]["fewest"]["field"] = json!("address");
    window["x-eventsmith"]["aggregates"]["first"]["field"] = json!("note");
    let loaded = load(&window, &[]);
    let reported = found(&loaded, "window-field");
    assert_eq!(
        reported,
        [
            (
                "/x-eventsmith/aggregates/total/field",
                "the field `note` of aggregate `total` is a string in `order.placed` v1 and v2, not a number"
            ),
            (
                "/x-eventsmith/aggregates/mean/field",
                "the field `amout` of aggregate `mean` is not a property of `order.paid` v1"
            ),
            (
                "/x-eventsmith/aggregates/mean/field",
                "the field `amout` of aggregate `mean` is not a property of `order.placed` v1 and v2"
            ),
            (
                "/x-eventsmith/aggregates/fewest/field",
                "the field `address` of aggregate `fewest` is an object in `order.paid` v1, not a number or a string"
            ),
            (
                "/x-eventsmith/aggregates/fewest/field",
                "the field `address` of aggregate `fewest` is an object in `order.placed` v1 and v2, not a number or a string"
            ),
            (
                "/x-eventsmith/aggregates/first/field",
                "the field `note` of aggregate `first` is not of one type across the events read: an integer in `order.paid` v1, a string in `order.placed` v1 and v2"
            ),
        ],
        "{:#?}",
        loaded.diagnostics
    );
    // Fields that do not fit leave the properties' types unchecked.
    assert_eq!(codes(&loaded).len(), reported.len());
}

#[test]
fn the_time_must_be_a_date_time_of_every_version_or_recorded() {
    let time = |from: &str| json!({"from": from});
    let loaded = load(&with("time", time("customer_id")), &[]);
    assert_eq!(
        found(&loaded, "window-field"),
        [
            (
                "/x-eventsmith/time/from",
                "the time `customer_id` is a string without a `format` in `order.paid` v1, not a `date-time` string"
            ),
            (
                "/x-eventsmith/time/from",
                "the time `customer_id` is a string without a `format` in `order.placed` v1 and v2, not a `date-time` string"
            ),
        ]
    );
    let loaded = load(&with("time", time("$recordd")), &[]);
    let d = only(&loaded, "window-field");
    assert_eq!(
        d.message,
        "the time `$recordd` is neither `$recorded` nor a property"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `$recorded`?"));
    let loaded = load(&with("time", time("$recorded")), &[]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
}

#[test]
fn aggregates_need_a_field_when_their_kind_does_and_a_property_of_a_fitting_type() {
    let mut window = window();
    let annotations = &mut window["x-eventsmith"]["aggregates"];
    annotations["orders"]["field"] = json!("customer_id");
    annotations["total"] = json!({"kind": "sum"});
    annotations["fewest"] = json!({"kind": "max", "field": "amount"});
    annotations["returns"] = json!({"kind": "count"});
    let properties = &mut window["properties"];
    properties["customers"] = json!({"type": "string"});
    properties["mean"] = json!({"type": "integer"});
    properties["score"] = json!({"type": "object"});
    properties["retuns"] = json!({"type": "integer"});
    let loaded = load(&window, &[]);
    assert_eq!(
        found(&loaded, "window-aggregate"),
        [
            (
                "/properties/customers",
                "property `customers` is a string, but aggregate `customers` (a `distinct` of `customer_id`, a string) is an integer"
            ),
            (
                "/properties/mean",
                "property `mean` is an integer, but aggregate `mean` (an `average` of `amount`, a number) is a number"
            ),
            (
                "/properties/fewest",
                "property `fewest` is an integer, but aggregate `fewest` (a `max` of `amount`, a number) is a number"
            ),
            (
                "/properties/score",
                "property `score` is an object, but aggregate `score` (a `custom`) is an integer, number, string, boolean or array"
            ),
            (
                "/properties/retuns",
                "property `retuns` is no aggregate of window `sales`"
            ),
            (
                "/x-eventsmith/aggregates/orders/field",
                "aggregate `orders` is a `count`, which reads no field, but names `customer_id`"
            ),
            (
                "/x-eventsmith/aggregates/total",
                "aggregate `total` is a `sum` of no field"
            ),
            (
                "/x-eventsmith/aggregates/returns",
                "aggregate `returns` has no property in the window's schema"
            ),
        ],
        "{:#?}",
        loaded.diagnostics
    );
    let typo = findings(&loaded, "window-aggregate")[4];
    assert!(
        typo.help
            .as_deref()
            .unwrap()
            .starts_with("did you mean aggregate `returns`?"),
        "{typo:#?}"
    );
}

#[test]
fn a_sum_is_an_integer_only_when_its_field_is() {
    let mut window = window();
    window["x-eventsmith"]["aggregates"]["units"] = json!({"kind": "sum", "field": "quantity"});
    window["properties"]["units"] = json!({"type": "integer"});
    window["properties"]["total"] = json!({"type": "integer"});
    let loaded = load(&window, &[]);
    let d = only(&loaded, "window-aggregate");
    assert_eq!(d.pointer.as_deref(), Some("/properties/total"));
    assert_eq!(
        d.help.as_deref(),
        Some("declare the property as {\"type\": \"number\"}, the type of the aggregate's value")
    );
}

#[test]
fn aggregate_names_must_make_distinct_rust_fields_that_are_no_keywords() {
    let mut window = window();
    for name in ["total-orders", "total_orders", "type"] {
        window["x-eventsmith"]["aggregates"][name] = json!({"kind": "count"});
        window["properties"][name] = json!({"type": "integer"});
    }
    let loaded = load(&window, &[]);
    assert_eq!(
        found(&loaded, "window-aggregate"),
        [
            (
                "/x-eventsmith/aggregates/total_orders",
                "aggregates `total-orders` and `total_orders` collide: both become the Rust field `total_orders`"
            ),
            (
                "/x-eventsmith/aggregates/type",
                "aggregate name `type` is a Rust keyword"
            ),
        ]
    );
}

#[test]
fn durations_parse_are_positive_whole_milliseconds_and_a_hop_fits_its_window() {
    let mut window = with(
        "window",
        json!({"kind": "hopping", "size": "PT0.0005S", "hop": "1 minute"}),
    );
    window["x-eventsmith"]["time"] = json!({"lateness": "PT0S", "idle": "PT0S"});
    window["x-eventsmith"]["retain"] = json!("P1M");
    let loaded = load(&window, &[]);
    assert_eq!(
        found(&loaded, "window-duration"),
        [
            (
                "/x-eventsmith/window/size",
                "the window size `PT0.0005S` is not a whole number of milliseconds"
            ),
            (
                "/x-eventsmith/window/hop",
                "`1 minute` is not an ISO 8601 duration: it does not start with `P`; write e.g. `PT30M`, `PT2S`, `P1DT12H`"
            ),
            (
                "/x-eventsmith/time/idle",
                "`time.idle` is `PT0S`, no time at all"
            ),
            (
                "/x-eventsmith/retain",
                "`P1M` is not an ISO 8601 duration: years and months have no fixed length; write weeks or days; write e.g. `PT30M`, `PT2S`, `P1DT12H`"
            ),
        ],
        "{:#?}",
        loaded.diagnostics
    );

    let loaded = load(
        &with(
            "window",
            json!({"kind": "hopping", "size": "PT1H", "hop": "PT2H"}),
        ),
        &[],
    );
    let d = only(&loaded, "window-duration");
    assert_eq!(
        d.message,
        "the hop `PT2H` is longer than the window size `PT1H`: events between two windows would fall in none"
    );
    let loaded = load(
        &with("window", json!({"kind": "session", "gap": "PT0S"})),
        &[],
    );
    assert_eq!(
        only(&loaded, "window-duration").message,
        "the session gap is `PT0S`, no time at all"
    );
}

#[test]
fn a_projection_named_like_a_table_of_the_window_collides() {
    let projection = json!({
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "x-eventsmith": {"key": "id", "subscribes": ["order.paid"]}
    });
    let loaded = load(
        &window(),
        &[("schema/projections/sales_late.json", projection)],
    );
    let d = only(&loaded, "name-collision");
    assert_eq!(d.location(), "schema/projections/sales_late.json:1:1");
    assert_eq!(
        d.message,
        "projection `sales_late` has the name of window `sales`'s table of late events"
    );
}

#[test]
fn invalid_annotations_are_reported_once() {
    let loaded = load(&with("aggregates", json!({})), &[]);
    assert_eq!(codes(&loaded), ["annotation"], "{:#?}", loaded.diagnostics);
}

#[test]
fn an_average_min_or_max_of_an_optional_field_may_be_null() {
    let mut window = window();
    window["required"] = json!(["orders", "mean", "fewest"]);
    window["properties"]["fewest"] = json!({"type": ["integer", "null"]});
    let loaded = load(&window, &[]);
    let d = only(&loaded, "window-aggregate");
    assert_eq!(d.pointer.as_deref(), Some("/properties/mean"));
    assert_eq!(
        d.message,
        "aggregate `mean` (an `average`) is `null` in a window whose events all lack `amount`, but property `mean` is required and not nullable"
    );

    // A field every event has always gives a value.
    let shipped = json!({
        "type": "object",
        "properties": {"parcel": {"type": "object", "properties": {"weight": {"type": "number"}}, "required": ["weight"]}},
        "required": ["parcel"]
    });
    let mut window = window_reading_shipped();
    window["required"] = json!(["heaviest"]);
    let extra = [("schema/events/order/shipped.v1.json", shipped.clone())];
    let loaded = load(&window, &extra);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);

    // Optional one level up: absent with its parent.
    let mut optional = shipped;
    optional["required"] = json!([]);
    let loaded = load(
        &window,
        &[("schema/events/order/shipped.v1.json", optional)],
    );
    assert_eq!(codes(&loaded), ["window-aggregate"]);
}

/// A window over `order.shipped` with the heaviest parcel's weight.
fn window_reading_shipped() -> Value {
    json!({
        "type": "object",
        "properties": {"heaviest": {"type": "number"}},
        "x-eventsmith": {
            "reads": ["order.shipped"],
            "key": ["$stream"],
            "window": {"kind": "tumbling", "size": "PT1H"},
            "aggregates": {"heaviest": {"kind": "max", "field": "parcel.weight"}}
        }
    })
}
