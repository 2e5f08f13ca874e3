//! Commands: what generated command enums implement ([`CommandSet`]), why a payload is not a
//! command ([`CommandError`]), and why an aggregate refuses one ([`Rejection`]).

use crate::validate::{Validate, Violation, violations};

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

/// Decodes `payload` as command `name`, of type `C`: what generated `CommandSet::decode` calls. A payload of the
/// wrong shape gives its first error, with the JSON pointer serde stopped at; one of the right
/// shape gives every broken constraint.
pub fn decode<C>(name: &'static str, payload: &[u8]) -> Result<C, CommandError>
where
    C: serde::de::DeserializeOwned + Validate,
{
    let mut json = serde_json::Deserializer::from_slice(payload);
    let command: C = serde_path_to_error::deserialize(&mut json).map_err(|error| {
        let pointer = pointer(error.path());
        let error = error.into_inner();
        if error.is_data() {
            CommandError::Invalid {
                command: name,
                violations: vec![Violation {
                    pointer,
                    message: error.to_string(),
                }],
            }
        } else {
            CommandError::Malformed(error)
        }
    })?;
    json.end().map_err(CommandError::Malformed)?;
    let found = violations(&command);
    if found.is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Invalid {
            command: name,
            violations: found,
        })
    }
}

/// A serde path as a JSON pointer.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path {
        let token = match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                key.replace('~', "~0").replace('/', "~1")
            }
            Segment::Unknown => continue,
        };
        pointer.push('/');
        pointer.push_str(&token);
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        #[allow(dead_code)]
        quantity: u64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Place {
        lines: Vec<Line>,
    }

    impl Validate for Place {
        fn validate(&self, checker: &mut crate::validate::Checker) {
            checker.at("lines", |checker| checker.min_items(self.lines.len(), 1));
        }
    }

    fn violations_of(payload: &str) -> Vec<(String, String)> {
        match decode::<Place>("place", payload.as_bytes()) {
            Err(CommandError::Invalid { violations, .. }) => violations
                .into_iter()
                .map(|v| (v.pointer, v.message))
                .collect(),
            other => panic!("{payload}: {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_their_pointer() {
        let found = violations_of(r#"{"lines": [{"quantity": 1}, {"quantity": "two"}]}"#);
        assert_eq!(found[0].0, "/lines/1/quantity");
        assert!(found[0].1.contains("invalid type"), "{found:?}");
        assert_eq!(violations_of(r#"{}"#)[0].0, "");
        assert!(
            violations_of(r#"{}"#)[0]
                .1
                .contains("missing field `lines`")
        );
    }

    #[test]
    fn constraints_are_all_reported() {
        assert_eq!(violations_of(r#"{"lines": []}"#)[0].0, "/lines");
    }

    #[test]
    fn malformed_json_is_not_a_violation() {
        for payload in [r#"{"lines": ["#, r#"{"lines": []} trailing"#, ""] {
            assert!(
                matches!(
                    decode::<Place>("place", payload.as_bytes()),
                    Err(CommandError::Malformed(_))
                ),
                "{payload}"
            );
        }
    }
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
