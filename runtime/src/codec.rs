//! What generated `EventSet` implementations call: decode a payload into a version's type and
//! check its constraints, encode the latest version.

use crate::validate::{Validate, violations};
use crate::{DecodeError, EncodeError};

/// Decodes `payload` as `T` (the type of `event_type` at `version`) and checks its constraints.
pub fn decode<T>(event_type: &str, version: u32, payload: &[u8]) -> Result<T, DecodeError>
where
    T: serde::de::DeserializeOwned + Validate,
{
    let value: T =
        serde_json::from_slice(payload).map_err(|source| DecodeError::InvalidPayload {
            event_type: event_type.to_owned(),
            version,
            source,
        })?;
    let violations = violations(&value);
    if violations.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::Violations {
            event_type: event_type.to_owned(),
            version,
            violations,
        })
    }
}

/// Encodes an event as JSON.
pub fn encode<T: serde::Serialize>(
    event_type: &'static str,
    value: &T,
) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(value).map_err(|source| EncodeError { event_type, source })
}

/// The error for a version a set does not know.
pub fn unknown_version(event_type: &str, version: u32) -> DecodeError {
    DecodeError::UnknownVersion {
        event_type: event_type.to_owned(),
        version,
    }
}

/// The error for an event type a set does not know.
pub fn unknown_event_type(event_type: &str) -> DecodeError {
    DecodeError::UnknownEventType(event_type.to_owned())
}
