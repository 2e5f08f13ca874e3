//! How windows are stored (one row per window, one per late event kept), shown (RFC 3339 times,
//! the key as an object, the aggregates by name) and read from events.

use super::accumulator::Accumulator;
use super::definition::Definition;
use super::engine::{Id, Input, Origin, WindowState};
use crate::read_model::{Column, ColumnKind};
use crate::store::Envelope;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The lookup (and its key) holding the watermark.
pub(super) const CLOCK: &str = "clock";

const fn column(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}

/// The columns of a window's table of windows.
pub const WINDOW_COLUMNS: &[Column] = &[
    column("id", ColumnKind::Text),
    column("key", ColumnKind::Text),
    column("start", ColumnKind::Integer),
    column("end", ColumnKind::Integer),
    column("closed", ColumnKind::Boolean),
    column("state", ColumnKind::Json),
    column("position", ColumnKind::Integer),
];

/// The columns of a window's table of late events kept aside.
pub const LATE_COLUMNS: &[Column] = &[
    column("id", ColumnKind::Text),
    column("position", ColumnKind::Integer),
    column("stream", ColumnKind::Text),
    column("type", ColumnKind::Text),
    column("key", ColumnKind::Text),
    column("time", ColumnKind::Integer),
    column("window_start", ColumnKind::Integer),
    column("event", ColumnKind::Json),
];

/// The columns of a window's outbox: closing events the service has still to append.
pub const OUTBOX_COLUMNS: &[Column] = &[
    column("key", ColumnKind::Text),
    column("start", ColumnKind::Integer),
    column("event", ColumnKind::Json),
];

/// A closed window's outbox row: keyed by the window and its end (a session corrected after it
/// closed closes again, later), holding the event's payload.
pub(super) fn outbox_row(definition: &Definition, window: &WindowState) -> Map<String, Value> {
    let mut event = window_json(definition, window);
    event["window"] = json!(definition.name);
    let mut row = Map::new();
    row.insert(
        "key".into(),
        json!(format!("{}@{}", id(&window.id()), window.end)),
    );
    row.insert("start".into(), json!(window.start));
    row.insert("event".into(), event);
    row
}

/// A window's row key: its start, then its key.
pub(super) fn id((key, start): &Id) -> String {
    format!("{start}|{key}")
}

/// Unix milliseconds as RFC 3339 in UTC (`2026-03-14T09:00:00Z`).
pub fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| millis.to_string())
}

fn key_object(key: &str) -> Value {
    serde_json::from_str(key).unwrap_or(Value::Null)
}

/// A window as the service shows it: `start`, `end`, `key`, `closed`, `aggregates`.
pub fn window_json(definition: &Definition, window: &WindowState) -> Value {
    json!({
        "start": rfc3339(window.start),
        "end": rfc3339(window.end),
        "key": key_object(&window.key),
        "closed": window.closed,
        "aggregates": window.values(definition),
    })
}

/// A window gone (merged into another session, or past its retention), as told to watchers.
pub(super) fn removed((key, start): &Id) -> Value {
    json!({"start": rfc3339(*start), "key": key_object(key), "removed": true})
}

/// A stored row as the service shows it (see [`window_json`]); the aggregates' values are
/// computed from their stored state.
pub fn shown(definition: &Definition, row: Map<String, Value>) -> Result<Value, String> {
    window(definition, row).map(|window| window_json(definition, &window))
}

/// A window's row: its aggregates' state, from which their values follow.
pub(super) fn row(window: &WindowState) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("id".into(), json!(id(&window.id())));
    row.insert("key".into(), json!(&*window.key));
    row.insert("start".into(), json!(window.start));
    row.insert("end".into(), json!(window.end));
    row.insert("closed".into(), json!(window.closed));
    row.insert(
        "state".into(),
        serde_json::to_value(&window.accumulators).unwrap_or_default(),
    );
    row.insert("position".into(), json!(window.position));
    row
}

/// A window from its row.
pub(super) fn window(
    definition: &Definition,
    row: Map<String, Value>,
) -> Result<WindowState, String> {
    let field = |name: &str| {
        row.get(name)
            .ok_or_else(|| format!("a stored window of `{}` lacks `{name}`", definition.name))
    };
    let int = |name: &str| {
        field(name)?
            .as_i64()
            .ok_or_else(|| format!("a stored window's `{name}` is no integer"))
    };
    let accumulators: Vec<Accumulator> = serde_json::from_value(field("state")?.clone())
        .map_err(|e| format!("a stored window's state: {e}"))?;
    if accumulators.len() != definition.aggregates.len() {
        return Err(format!(
            "a stored window of `{}` has {} aggregates where the window has {}: replay it (`replay --window {}`)",
            definition.name,
            accumulators.len(),
            definition.aggregates.len(),
            definition.name
        ));
    }
    Ok(WindowState {
        key: Arc::from(field("key")?.as_str().unwrap_or_default()),
        start: int("start")?,
        end: int("end")?,
        closed: field("closed")?.as_bool().unwrap_or(false),
        accumulators,
        position: int("position")?.max(0) as u64,
        dirty: false,
    })
}

/// A late event's row in the side table.
pub(super) fn late_row(input: &Input, window_start: i64) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert(
        "id".into(),
        json!(format!("{:020}|{window_start}", input.position)),
    );
    row.insert("position".into(), json!(input.position));
    let origin = input.origin.as_deref();
    row.insert("stream".into(), json!(origin.map_or("", |o| &o.stream)));
    row.insert("type".into(), json!(origin.map_or("", |o| &o.event_type)));
    row.insert("key".into(), json!(&*input.key));
    row.insert("time".into(), json!(input.time));
    row.insert("window_start".into(), json!(window_start));
    row.insert(
        "event".into(),
        origin.map_or(Value::Null, |o| o.event.clone()),
    );
    row
}

/// The value at a dotted path of `value`.
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(value, |value, name| value.get(name))
}

/// Unix milliseconds of a time.
fn millis(time: time::OffsetDateTime) -> i64 {
    (time.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The engine's input for an event whose latest-version payload is `event`. Its time is the
/// recorded one, or its time property (the recorded one when it lacks it); its key an object
/// of the key's fields (null where absent), as canonical JSON. The event itself comes along
/// only when `keep` says so (custom aggregates or a side table read it).
pub(super) fn input(
    definition: &Definition,
    event: &Value,
    envelope: &Envelope,
    keep: bool,
) -> Input {
    let time = definition
        .time
        .as_deref()
        .and_then(|path| at(event, path))
        .and_then(Value::as_str)
        .and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        })
        .unwrap_or(envelope.time);
    // `{"field":value,...}`, as `Value::Object(..).to_string()` writes it.
    let mut key = String::from("{");
    for (index, field) in definition.key.iter().enumerate() {
        if index > 0 {
            key.push(',');
        }
        key.push_str(&Value::from(field.as_str()).to_string());
        key.push(':');
        let value = match field.as_str() {
            "$stream" => Value::from(envelope.stream.as_str()).to_string(),
            "$aggregate_id" => Value::from(envelope.aggregate_id()).to_string(),
            "$type" => Value::from(envelope.event_type.as_str()).to_string(),
            "$correlation_id" => json!(envelope.metadata.correlation_id).to_string(),
            path => at(event, path).map_or_else(|| "null".to_owned(), Value::to_string),
        };
        key.push_str(&value);
    }
    key.push('}');
    let values = definition
        .aggregates
        .iter()
        .map(|spec| {
            spec.field
                .as_deref()
                .and_then(|path| at(event, path))
                .cloned()
        })
        .collect();
    let origin = keep.then(|| {
        Arc::new(Origin {
            event: event.clone(),
            stream: envelope.stream.clone(),
            event_type: envelope.event_type.clone(),
        })
    });
    Input {
        time: millis(time),
        key: Arc::from(key),
        values,
        position: envelope.position,
        origin,
    }
}

/// Sets the gauges of the latest window of each key among `windows` (as [`window_json`]
/// shows them): `eventsmith_window_value{window, key, aggregate}`.
#[cfg(feature = "metrics")]
pub(super) fn gauge(name: &'static str, windows: &[Value], shown: &mut HashMap<Arc<str>, i64>) {
    for window in windows {
        let (Some(Value::Object(values)), Some(start)) = (
            window.get("aggregates"),
            window.get("start").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Ok(start) =
            time::OffsetDateTime::parse(start, &time::format_description::well_known::Rfc3339)
        else {
            continue;
        };
        let key = window.get("key").map(label).unwrap_or_default();
        let start = millis(start);
        let latest = shown.entry(Arc::from(key.as_str())).or_insert(i64::MIN);
        if start < *latest {
            continue;
        }
        *latest = start;
        for (aggregate, value) in values {
            if let Some(value) = value.as_f64() {
                metrics::gauge!(
                    "eventsmith_window_value",
                    "window" => name,
                    "key" => key.clone(),
                    "aggregate" => aggregate.clone()
                )
                .set(value);
            }
        }
    }
}

#[cfg(not(feature = "metrics"))]
pub(super) fn gauge(_: &'static str, _: &[Value], _: &mut HashMap<Arc<str>, i64>) {}

/// A key object as a label: its values joined by `/` (`card`, `eu/card`).
#[cfg(feature = "metrics")]
fn label(key: &Value) -> String {
    match key {
        Value::Object(fields) => fields
            .values()
            .map(|v| match v {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/"),
        other => other.to_string(),
    }
}
