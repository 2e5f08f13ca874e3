//! What the declarative upcast rules of `x-eventsmith.upcast` mean, written once: [`apply`] takes
//! the rules in order, and each one is a few primitive steps on a [`Target`]. Three interpreters
//! carry the meaning out on what they hold: [`schema`] on version N-1's schema (the schema of what
//! the upcaster produces, which `check` compares with version N), [`payload`] on a JSON payload
//! (the expected values of the generated tests), and code generation's typed upcaster on Rust
//! expressions (`codegen::upcast`).

pub(crate) mod payload;
pub(crate) mod schema;

use crate::project::annotations::{FieldPath, UpcastRule};
use serde_json::Value;

/// A document the rules reshape: a schema, a payload or a plan of Rust expressions. Paths are
/// JSON pointers into the payload (`/address/street`).
pub(crate) trait Target {
    /// What moves with a field: its schema, its value, or where its value comes from.
    type Field;

    /// Takes the field at `path` out: `None` when this document may lack it (an absent optional
    /// value); an error when it cannot be there at all.
    fn take(&mut self, path: &FieldPath) -> Result<Option<Self::Field>, String>;

    /// Puts `field` at `path`, creating the objects on the way (also when `field` is `None`: the
    /// upcaster builds them whether or not an optional value was there).
    fn put(&mut self, path: &FieldPath, field: Option<Self::Field>) -> Result<(), String>;

    /// Gives the field at `path` the value `value` where the document lacks it, keeping a value
    /// that is there.
    fn fill(&mut self, path: &FieldPath, value: &Value) -> Result<(), String>;

    /// Passes the field at `path` through the user's conversion `using`.
    fn convert(&mut self, path: &FieldPath, using: &str) -> Result<(), String>;
}

/// Applies `rules` to `target` in order:
/// - `rename` and `move`: the field leaves its old path and arrives at its new one (which may be
///   in a nested object that is created);
/// - `default`: a field of version N gets a value where version N-1 had none;
/// - `drop`: the field is gone;
/// - `convert`: the field's value goes through a named conversion the user writes.
pub(crate) fn apply<T: Target>(target: &mut T, rules: &[UpcastRule]) -> Result<(), String> {
    for rule in rules {
        match rule {
            UpcastRule::Rename { from, to } | UpcastRule::Move { from, to } => {
                let field = target.take(from)?;
                target.put(to, field)?;
            }
            UpcastRule::Default { field, value } => target.fill(field, value)?,
            UpcastRule::Drop { field } => {
                target.take(field)?;
            }
            UpcastRule::Convert { field, using } => target.convert(field, using)?,
        }
    }
    Ok(())
}
