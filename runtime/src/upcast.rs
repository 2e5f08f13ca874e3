//! What generated upcasters use: their error, and the one conversion that goes through JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why an upcaster could not bring an event to the next version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UpcastError {
    /// What went wrong, naming the field.
    pub message: String,
}

impl UpcastError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// A value the next version requires is absent.
    pub fn missing(path: &str) -> Self {
        Self::new(format!(
            "`{path}` is absent but the next version requires it"
        ))
    }

    /// A value does not fit the next version's type.
    pub fn out_of_range(path: &str) -> Self {
        Self::new(format!("`{path}` does not fit the next version's type"))
    }

    /// The error as a decode error of `event_type` upcast from `from`.
    pub fn at(self, event_type: &str, from: u32) -> crate::DecodeError {
        crate::DecodeError::Upcast {
            event_type: event_type.to_owned(),
            from,
            reason: self.message,
        }
    }
}

/// Converts between two types of the same JSON shape that the generator could not line up
/// field by field (a value reshaped by a schema change the rules do not describe).
pub fn via_json<From: Serialize, To: DeserializeOwned>(
    path: &str,
    value: &From,
) -> Result<To, UpcastError> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|e| UpcastError::new(format!("`{path}`: {e}")))
}
