//! The working default logic that `eventsmith service new` writes into a service's user-owned
//! files, before anyone writes rules: a command emits its event with the fields they share, an
//! event sets the state fields it shares, and a projection upserts the row fields it shares with
//! an event. Each works on the JSON of the values, so it needs only the shared property names,
//! which the generator lists; replace a call with your own logic whenever you like. The named
//! conversions of `convert` upcast rules get theirs from the conversions below
//! ([`unix_seconds_to_date_time`], [`to_text`], [`parse`], [`to_number`], [`to_json`],
//! [`reread`], …), picked by the field's types before and after.

mod conversions;

pub use conversions::{
    date_time_to_unix_seconds, parse, reread, to_json, to_number, to_text,
    unix_seconds_to_date_time,
};

use crate::command::Rejection;
use crate::projection::HandlerError;
use crate::read_model::{Row, Table};
use crate::store::Envelope;
use crate::validate::{Validate, violations};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

fn object_of(value: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// Copies the `fields` present in `from` into `into`.
fn copy(from: &Map<String, Value>, into: &mut Map<String, Value>, fields: &[&str]) {
    for field in fields {
        if let Some(value) = from.get(*field) {
            into.insert((*field).to_owned(), value.clone());
        }
    }
}

/// Event `E` (of type `event_type`) made of the `fields` it shares with `command`; a rejection
/// saying what is missing when those are not enough to make a valid `E`.
pub fn emit<E>(command: &impl Serialize, event_type: &str, fields: &[&str]) -> Result<E, Rejection>
where
    E: DeserializeOwned + Validate,
{
    let mut payload = Map::new();
    copy(&object_of(command), &mut payload, fields);
    let event: E = serde_json::from_value(Value::Object(payload)).map_err(|error| {
        Rejection::new(format!(
            "the default rule cannot emit `{event_type}` from the command's fields ({error}); write this rule by hand"
        ))
    })?;
    let found = violations(&event);
    if let Some(first) = found.first() {
        return Err(Rejection::new(format!(
            "the default rule cannot emit `{event_type}`: at `{}`, {}; write this rule by hand",
            first.pointer, first.message
        )));
    }
    Ok(event)
}

/// Sets the `fields` the state shares with `event`. Before the first event the state is made
/// from the event alone, when its fields are enough; otherwise it stays as it was.
pub fn apply<S>(state: &mut Option<S>, event: &impl Serialize, fields: &[&str])
where
    S: Serialize + DeserializeOwned,
{
    let mut object = state.as_ref().map(object_of).unwrap_or_default();
    copy(&object_of(event), &mut object, fields);
    if let Ok(next) = serde_json::from_value(Value::Object(object)) {
        *state = Some(next);
    }
}

/// Upserts the row of the event: the row keyed by the event's own key property when it has one,
/// else by its aggregate's id (its stream is `<category>-<id>`; the category is passed because it
/// may itself hold a dash), with the `fields` it shares with the event. A row that does not exist yet is created when the event's fields are enough to make
/// one; otherwise the event changes nothing.
pub fn upsert<R: Row>(
    rows: &Table<'_, R>,
    event: &impl Serialize,
    envelope: &Envelope,
    category: &str,
    fields: &[&str],
) -> Result<(), HandlerError> {
    let event = object_of(event);
    let key = match event.get(R::KEY) {
        Some(key) => key.clone(),
        None => Value::String(envelope.id_in(category).to_owned()),
    };
    let key_text = match &key {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut object = match rows.get(&key_text)? {
        Some(row) => object_of(&row),
        None => Map::from_iter([(R::KEY.to_owned(), key)]),
    };
    copy(&event, &mut object, fields);
    match serde_json::from_value::<R>(Value::Object(object)) {
        Ok(row) => Ok(rows.upsert(&row)?),
        // No row yet, and this event cannot make one.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Placed {
        customer_id: String,
        total: u64,
    }

    impl Validate for Placed {
        fn validate(&self, _: &mut crate::__private::Checker) {}
    }

    #[derive(Serialize)]
    struct Place {
        customer_id: String,
        total: u64,
        note: String,
    }

    #[test]
    fn commands_emit_the_fields_they_share() {
        let command = Place {
            customer_id: "c-1".into(),
            total: 7,
            note: "not in the event".into(),
        };
        let event: Placed = emit(&command, "order.placed", &["customer_id", "total"]).unwrap();
        assert_eq!(
            event,
            Placed {
                customer_id: "c-1".into(),
                total: 7
            }
        );
        let missing = emit::<Placed>(&command, "order.placed", &["customer_id"]).unwrap_err();
        assert!(missing.message.contains("total"), "{}", missing.message);
        assert!(
            missing.message.contains("order.placed"),
            "{}",
            missing.message
        );
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct State {
        customer_id: String,
        total: u64,
        paid: bool,
    }

    #[test]
    fn events_set_the_state_fields_they_share() {
        let mut state: Option<State> = None;
        let placed = Placed {
            customer_id: "c-1".into(),
            total: 7,
        };
        // `paid` is not in the event: no state can be made from it alone.
        apply(&mut state, &placed, &["customer_id", "total"]);
        assert_eq!(state, None);
        let mut state = Some(State {
            customer_id: "c-0".into(),
            total: 1,
            paid: true,
        });
        apply(&mut state, &placed, &["customer_id", "total"]);
        assert_eq!(
            state,
            Some(State {
                customer_id: "c-1".into(),
                total: 7,
                paid: true
            })
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_row_keyed_by_stream_takes_the_id_after_a_category_with_a_dash() {
        use crate::read_model::sqlite::SqliteReadModel;
        use crate::read_model::{Backend, BackendTransaction, Column, ColumnKind, TableSpec};

        #[derive(Serialize, Deserialize)]
        struct Line {
            line_id: String,
            total: u64,
        }
        impl Row for Line {
            const TABLE: &'static str = "lines";
            const KEY: &'static str = "line_id";
            const COLUMNS: &'static [Column] = &[
                Column {
                    name: "line_id",
                    kind: ColumnKind::Text,
                    required: true,
                },
                Column {
                    name: "total",
                    kind: ColumnKind::Integer,
                    required: true,
                },
            ];
        }
        let mut backend = SqliteReadModel::open_in_memory().unwrap();
        let transaction = backend.begin("lines").unwrap();
        transaction.ensure(&TableSpec::of::<Line>()).unwrap();
        let envelope = Envelope {
            id: uuid::Uuid::nil(),
            source: "test".into(),
            event_type: "order_line.added".into(),
            version: 1,
            stream: "order-line-42".into(),
            stream_version: 1,
            position: 1,
            time: time::OffsetDateTime::UNIX_EPOCH,
            data_schema: None,
            data: b"{}".to_vec(),
            metadata: crate::store::Metadata::default(),
        };
        let event = Placed {
            customer_id: "c-1".into(),
            total: 7,
        };
        let rows = Table::<Line>::new(&transaction);
        upsert(&rows, &event, &envelope, "order-line", &["total"]).unwrap();
        assert!(rows.get("42").unwrap().is_some());
        assert!(rows.get("line-42").unwrap().is_none());
    }
}
