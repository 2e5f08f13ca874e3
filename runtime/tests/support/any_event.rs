//! An event set of any event, kept as JSON: what the window tests feed a window with.

use eventsmith::{DecodeError, EncodeError, EventSet};
use serde_json::Value;

/// Any event, as JSON.
#[derive(Debug)]
pub struct AnyEvent(pub Value);

impl EventSet for AnyEvent {
    fn decode(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(payload)
            .map(AnyEvent)
            .map_err(|source| DecodeError::InvalidPayload {
                event_type: event_type.to_owned(),
                version,
                source,
            })
    }
    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(serde_json::to_vec(&self.0).expect("JSON encodes"))
    }
    fn event_type(&self) -> &'static str {
        "any.event"
    }
    fn version(&self) -> u32 {
        1
    }
}
