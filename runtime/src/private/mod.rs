//! What generated code calls and users should not: the decode and encode plumbing of event sets
//! (`codec`), the constraint checker (`Checker`, `Pattern`), command schemas (`command`), the one
//! upcast conversion through JSON (`via_json`), `double_option` for optional nullable fields, and
//! the generated tests' assertions (`testing`). Hidden from the docs and not part of the API: it
//! changes with the generator (as serde's `__private` and prost's `encoding` do).

mod checker;
pub mod codec;
pub mod command;
pub mod double_option;
pub mod testing;

pub use checker::{Checker, Numeric, Pattern};

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
