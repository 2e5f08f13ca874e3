//! eventsmith's own annotations, read from the `x-eventsmith` keyword at the root of a schema file.
//! Their JSON shape is published as a meta-schema in `schema/meta/x-eventsmith.schema.json`; these
//! structs are its typed form.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::schema::KEYWORD;

/// Annotations of one event version (`schema/events/<aggregate>/<name>.v<N>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventAnnotations {
    /// Teams that own the event.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Whether and why the event (at this version) is deprecated.
    #[serde(default)]
    pub deprecated: Option<Deprecation>,
    /// How a stored event of the previous version becomes this version.
    #[serde(default)]
    pub upcast: Option<Upcast>,
}

/// A deprecation: a plain flag or a reason with an optional replacement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Deprecation {
    /// `"deprecated": true`.
    Flag(bool),
    /// `"deprecated": {"reason": "...", "replaced_by": "order.placed"}`.
    Details {
        /// Why.
        reason: String,
        /// What to use instead.
        #[serde(default)]
        replaced_by: Option<String>,
    },
}

impl Deprecation {
    /// True unless it is `false`.
    pub fn is_deprecated(&self) -> bool {
        !matches!(self, Deprecation::Flag(false))
    }
}

/// The upcast from version N-1 to this version N.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upcast {
    /// Declarative steps, applied in order.
    #[serde(default)]
    pub rules: Vec<UpcastRule>,
    /// The upcast is written by hand: a generated trait the user implements.
    #[serde(default)]
    pub custom: bool,
    /// Why the version changed, for the catalog's changelog.
    #[serde(default)]
    pub description: Option<String>,
}

/// One declarative upcast step. Field paths are JSON pointers into the payload; a bare name
/// (`total`) means the top-level property (`/total`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum UpcastRule {
    /// A field changes its name.
    Rename {
        /// Path in version N-1.
        from: FieldPath,
        /// Path in version N.
        to: FieldPath,
    },
    /// A field new in version N takes this value in upcast events.
    Default {
        /// Path in version N.
        field: FieldPath,
        /// The value.
        value: Value,
    },
    /// A field of version N-1 is gone.
    Drop {
        /// Path in version N-1.
        field: FieldPath,
    },
    /// A field moves into or out of a nested object.
    Move {
        /// Path in version N-1.
        from: FieldPath,
        /// Path in version N.
        to: FieldPath,
    },
    /// A field's value is converted by a named conversion.
    Convert {
        /// Path of the field.
        field: FieldPath,
        /// The conversion's name.
        using: String,
    },
}

impl UpcastRule {
    /// The path of version N-1 the rule reads (`None` for a default, which reads nothing).
    pub fn read(&self) -> Option<&FieldPath> {
        match self {
            UpcastRule::Rename { from, .. } | UpcastRule::Move { from, .. } => Some(from),
            UpcastRule::Drop { field } | UpcastRule::Convert { field, .. } => Some(field),
            UpcastRule::Default { .. } => None,
        }
    }

    /// The path of version N the rule writes (`None` for a drop, which writes nothing).
    pub fn written(&self) -> Option<&FieldPath> {
        match self {
            UpcastRule::Rename { to, .. } | UpcastRule::Move { to, .. } => Some(to),
            UpcastRule::Default { field, .. } | UpcastRule::Convert { field, .. } => Some(field),
            UpcastRule::Drop { .. } => None,
        }
    }
}

/// A JSON pointer into an event payload, written as a pointer or a bare top-level name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct FieldPath(String);

impl FieldPath {
    /// The path as a JSON pointer.
    pub fn pointer(&self) -> &str {
        &self.0
    }
}

impl From<String> for FieldPath {
    fn from(path: String) -> Self {
        if path.starts_with('/') {
            FieldPath(path)
        } else {
            FieldPath(crate::text::pointer::push("", &path))
        }
    }
}

impl From<FieldPath> for String {
    fn from(path: FieldPath) -> Self {
        path.0
    }
}

/// Annotations of a command (`schema/commands/<aggregate>/<name>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAnnotations {
    /// Event types (`<aggregate>.<name>`) the command may emit.
    pub emits: Vec<String>,
    /// Teams that own it.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Whether it is deprecated.
    #[serde(default)]
    pub deprecated: Option<Deprecation>,
}

/// Annotations of an aggregate (`schema/aggregates/<aggregate>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateAnnotations {
    /// JSON Schema of the aggregate id (default: any non-empty string).
    #[serde(default)]
    pub id: Option<Value>,
    /// Stream category: streams are named `<stream>-<id>` (default: the aggregate name).
    #[serde(default)]
    pub stream: Option<String>,
    /// When to snapshot.
    #[serde(default)]
    pub snapshot: Option<SnapshotPolicy>,
    /// Teams that own it.
    #[serde(default)]
    pub owners: Vec<String>,
}

/// Snapshot every N events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPolicy {
    /// Events between snapshots.
    pub every: u32,
}

/// Annotations of a projection (`schema/projections/<name>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionAnnotations {
    /// The row property that keys the read model.
    pub key: String,
    /// Event types the projection handles.
    pub subscribes: Vec<String>,
    /// Teams that own it.
    #[serde(default)]
    pub owners: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upcast_rules_read_bare_names_as_pointers() {
        let upcast: Upcast = serde_json::from_value(json!({"rules": [
            {"rename": {"from": "total", "to": "total_amount"}},
            {"default": {"field": "currency", "value": "EUR"}},
            {"move": {"from": "/street", "to": "/address/street"}}
        ]}))
        .unwrap();
        assert_eq!(
            upcast.rules[0],
            UpcastRule::Rename {
                from: FieldPath("/total".into()),
                to: FieldPath("/total_amount".into())
            }
        );
        assert!(
            matches!(&upcast.rules[2], UpcastRule::Move { to, .. } if to.pointer() == "/address/street")
        );
    }
}
