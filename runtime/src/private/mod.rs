//! What generated code calls and users should not: the decode and encode plumbing of event sets
//! (`codec`), the constraint checker (`Checker`, `Pattern`), bundled schemas (`Schema`) and command
//! decoding (`command`), the one
//! upcast conversion through JSON (`via_json`), `double_option` for optional nullable fields, and
//! the generated tests' assertions (`testing`). Hidden from the docs and not part of the API: it
//! changes with the generator (as serde's `__private` and prost's `encoding` do).

mod checker;
pub mod codec;
pub mod command;
pub mod double_option;
pub mod schema;
pub mod testing;

pub use checker::{Checker, Numeric, Pattern, json_equal};
pub use schema::Schema;

use crate::UpcastError;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// Reads a required, nullable property into its `Option`: serde's derive reads the absence of an
/// `Option` field as `None`, while a field read through a function must be present, so only
/// `null` is `None` here.
pub fn required_nullable<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer)
}

/// Reads an optional property that is present: its value, as `Some`. serde's derive reads a
/// `null` as `None` for an `Option` field; through this function a `null` goes to `T`, which
/// refuses it unless it is a JSON value (then it stays `null`).
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}
