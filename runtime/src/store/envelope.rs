//! The envelope of a stored event: CloudEvents 1.0 attributes plus the store's own (stream
//! version, global position, correlation and causation ids, free metadata).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a caller appends: one event's payload and what it knows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// The payload's schema version.
    pub version: u32,
    /// The payload, JSON.
    pub data: Vec<u8>,
    /// Correlation, causation and free metadata.
    pub metadata: Metadata,
}

impl NewEvent {
    /// The latest-version payload of an event of a set.
    pub fn encode<E: crate::EventSet>(event: &E) -> Result<Self, crate::EncodeError> {
        Ok(Self {
            event_type: event.event_type().to_owned(),
            version: event.version(),
            data: event.encode()?,
            metadata: Metadata::default(),
        })
    }

    /// The same event with `metadata`.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// Metadata carried with an event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// The id shared by everything one request caused.
    pub correlation_id: Option<String>,
    /// The id of the event or command that caused this one.
    pub causation_id: Option<String>,
    /// Anything else, by name.
    pub extra: BTreeMap<String, Value>,
}

impl Metadata {
    /// As stored: a JSON object, `None` when there is nothing.
    pub(crate) fn to_json(&self) -> Option<String> {
        if self == &Metadata::default() {
            return None;
        }
        let mut object = serde_json::Map::new();
        if let Some(id) = &self.correlation_id {
            object.insert("correlation_id".into(), id.clone().into());
        }
        if let Some(id) = &self.causation_id {
            object.insert("causation_id".into(), id.clone().into());
        }
        if !self.extra.is_empty() {
            let extra = self.extra.clone().into_iter().collect();
            object.insert("extra".into(), Value::Object(extra));
        }
        Some(Value::Object(object).to_string())
    }

    /// Read back from [`Metadata::to_json`]'s text.
    pub(crate) fn from_json(text: Option<String>) -> Self {
        let Some(value) = text.and_then(|t| serde_json::from_str::<Value>(&t).ok()) else {
            return Metadata::default();
        };
        let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Metadata {
            correlation_id: text("correlation_id"),
            causation_id: text("causation_id"),
            extra: value
                .get("extra")
                .and_then(|e| e.as_object())
                .map(|e| e.clone().into_iter().collect())
                .unwrap_or_default(),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// CloudEvents `id`: a UUIDv7, so ids sort by time.
    pub id: uuid::Uuid,
    /// CloudEvents `source`: who wrote it (the service); shared by every event of a store.
    pub source: std::sync::Arc<str>,
    /// CloudEvents `type`: `<aggregate>.<name>`.
    pub event_type: String,
    /// The payload's schema version.
    pub version: u32,
    /// CloudEvents `subject`: the stream, `<category>-<id>`.
    pub stream: String,
    /// The event's version in its stream, from 1.
    pub stream_version: u64,
    /// Its position in the whole store, from 1, without gaps.
    pub position: u64,
    /// CloudEvents `time`.
    pub time: time::OffsetDateTime,
    /// CloudEvents `dataschema`, when known.
    pub data_schema: Option<String>,
    /// The payload, JSON (`datacontenttype` is `application/json`).
    pub data: Vec<u8>,
    /// Correlation, causation and free metadata.
    pub metadata: Metadata,
}

impl Envelope {
    /// The stream's category: the part of `<category>-<id>` before the first `-` (EventStoreDB's
    /// convention), or the whole stream when it has no `-`. Categories are meant to hold no `-`.
    pub fn category(&self) -> &str {
        self.stream
            .split_once('-')
            .map_or(self.stream.as_str(), |(category, _)| category)
    }

    /// The id of the aggregate whose stream this is: the part of `<category>-<id>` after the
    /// first `-` (so an id may hold dashes, a UUID say), or `""` when the stream has no `-`.
    pub fn aggregate_id(&self) -> &str {
        self.stream.split_once('-').map_or("", |(_, id)| id)
    }

    /// The id of the aggregate whose stream this is, given the aggregate's stream `category`
    /// (which may itself hold a dash): what follows `<category>-`; [`Self::aggregate_id`] when
    /// the stream is not of that category.
    pub fn id_in(&self, category: &str) -> &str {
        self.stream
            .strip_prefix(category)
            .and_then(|rest| rest.strip_prefix('-'))
            .unwrap_or_else(|| self.aggregate_id())
    }

    /// The event as CloudEvents 1.0 structured JSON. The store's attributes are extension
    /// attributes, named as the spec requires (lowercase letters and digits).
    pub fn to_cloudevent(&self) -> Value {
        let mut event = Map::new();
        let mut put = |name: &str, value: Value| {
            event.insert(name.to_owned(), value);
        };
        put("specversion", "1.0".into());
        put("id", self.id.hyphenated().to_string().into());
        put("source", self.source.as_ref().into());
        put("type", self.event_type.clone().into());
        put("subject", self.stream.clone().into());
        let time = self
            .time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        put("time", time.into());
        put("datacontenttype", "application/json".into());
        if let Some(schema) = &self.data_schema {
            put("dataschema", schema.clone().into());
        }
        put("eventversion", self.version.into());
        put("streamversion", self.stream_version.into());
        put("position", self.position.into());
        if let Some(id) = &self.metadata.correlation_id {
            put("correlationid", id.clone().into());
        }
        if let Some(id) = &self.metadata.causation_id {
            put("causationid", id.clone().into());
        }
        if !self.metadata.extra.is_empty() {
            put(
                "metadata",
                Value::Object(self.metadata.extra.clone().into_iter().collect()),
            );
        }
        // A payload that is not JSON (which the store never accepts) would be kept as text.
        let data = serde_json::from_slice(&self.data)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.data).into_owned()));
        put("data", data);
        Value::Object(event)
    }

    /// The event from its CloudEvents JSON (as [`to_cloudevent`](Self::to_cloudevent) writes
    /// it), at global position `position` of whoever reads it (a consumer's own order).
    pub fn from_cloudevent(event: &Value, position: u64) -> Result<Self, String> {
        let text = |name: &str| {
            event
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the CloudEvent has no `{name}` text"))
        };
        let number = |name: &str| {
            event
                .get(name)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("the CloudEvent has no `{name}` number"))
        };
        let id = uuid::Uuid::parse_str(text("id")?).map_err(|e| format!("`id`: {e}"))?;
        let time = time::OffsetDateTime::parse(
            text("time")?,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| format!("`time`: {e}"))?;
        let data = event
            .get("data")
            .ok_or("the CloudEvent has no `data`")?
            .to_string()
            .into_bytes();
        let optional = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Envelope {
            id,
            source: text("source")?.into(),
            event_type: text("type")?.to_owned(),
            version: u32::try_from(number("eventversion")?)
                .map_err(|_| "`eventversion` is too large".to_owned())?,
            stream: text("subject")?.to_owned(),
            stream_version: number("streamversion")?,
            position,
            time,
            data_schema: optional("dataschema"),
            data,
            metadata: Metadata {
                correlation_id: optional("correlationid"),
                causation_id: optional("causationid"),
                extra: event
                    .get("metadata")
                    .and_then(Value::as_object)
                    .map(|extra| extra.clone().into_iter().collect())
                    .unwrap_or_default(),
            },
        })
    }

    /// Decodes the payload into an event set, upcasting older versions.
    pub fn decode<E: crate::EventSet>(&self) -> Result<E, crate::DecodeError> {
        E::decode(&self.event_type, self.version, &self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(stream: &str) -> Envelope {
        Envelope {
            id: uuid::Uuid::nil(),
            source: "test".into(),
            event_type: "order.placed".into(),
            version: 1,
            stream: stream.into(),
            stream_version: 1,
            position: 1,
            time: time::OffsetDateTime::UNIX_EPOCH,
            data_schema: None,
            data: b"{}".to_vec(),
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn a_cloudevent_reads_back_as_the_envelope_it_was() {
        let mut envelope = on("order-7");
        envelope.id = uuid::Uuid::now_v7();
        envelope.data = br#"{"total":12.5,"lines":[1,2]}"#.to_vec();
        envelope.metadata.correlation_id = Some("c-1".into());
        envelope
            .metadata
            .extra
            .insert("tenant".into(), "acme".into());
        envelope.time = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let read = Envelope::from_cloudevent(&envelope.to_cloudevent(), 9).unwrap();
        assert_eq!(
            read,
            Envelope {
                position: 9,
                ..envelope.clone()
            }
        );
        let mut broken = envelope.to_cloudevent();
        broken.as_object_mut().unwrap().remove("streamversion");
        assert!(
            Envelope::from_cloudevent(&broken, 1)
                .unwrap_err()
                .contains("streamversion")
        );
    }

    #[test]
    fn streams_split_at_the_first_dash() {
        let order = on("order-0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12");
        assert_eq!(order.category(), "order");
        assert_eq!(order.aggregate_id(), "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12");
        let bare = on("orders");
        assert_eq!((bare.category(), bare.aggregate_id()), ("orders", ""));
        let empty_id = on("order-");
        assert_eq!(
            (empty_id.category(), empty_id.aggregate_id()),
            ("order", "")
        );
    }

    #[test]
    fn a_category_with_a_dash_is_stripped_whole() {
        let line = on("order-line-42");
        assert_eq!(line.id_in("order-line"), "42");
        assert_eq!(line.id_in("order"), "line-42");
        assert_eq!(line.id_in("invoice"), "line-42");
    }
}
