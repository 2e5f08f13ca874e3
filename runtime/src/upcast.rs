//! Upcasting: the error an upcaster (generated or custom) returns.

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
