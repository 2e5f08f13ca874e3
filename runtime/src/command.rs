//! Commands: what generated command enums implement ([`CommandSet`]), why a payload is not a
//! command ([`CommandError`]), and why an aggregate refuses one ([`Rejection`]).

use crate::validate::Violation;

/// The commands of one aggregate (a generated `<Aggregate>Command` enum), decodable by name.
pub trait CommandSet: Sized + Send + Sync {
    /// Every command name, sorted.
    const NAMES: &'static [&'static str];
    /// Decodes a payload of the command `name` and checks its constraints.
    fn decode(name: &str, payload: &[u8]) -> Result<Self, CommandError>;
    /// This command's name.
    fn name(&self) -> &'static str;
}

/// Why a payload is not a valid command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No command of the aggregate has this name.
    #[error("unknown command `{0}`")]
    Unknown(String),
    /// The payload is not JSON.
    #[error("the payload is not JSON: {0}")]
    Malformed(serde_json::Error),
    /// The payload is JSON but not of the command's shape, or breaks its constraints.
    #[error("invalid `{command}` command: {}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The command.
        command: &'static str,
        /// What is wrong, each with its JSON pointer.
        violations: Vec<Violation>,
    },
}

/// Why an aggregate refuses a command: a business rule, in words a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// What rule the command breaks.
    pub message: String,
}

impl Rejection {
    /// A rejection saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
