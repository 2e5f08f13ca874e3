//! A JSON Schema bundled into generated code (its referenced files inside it), compiled on first
//! use: what commands are checked against, and events whose types alone do not enforce every
//! keyword of their schema.

use crate::validate::Violation;

/// A bundled JSON Schema, compiled on first use. Generated code holds one per command, and per
/// event version that needs one, in a `static`.
pub struct Schema {
    text: &'static str,
    validator: std::sync::OnceLock<Result<jsonschema::Validator, String>>,
}

impl Schema {
    /// The schema whose JSON is `text`.
    pub const fn new(text: &'static str) -> Self {
        Self {
            text,
            validator: std::sync::OnceLock::new(),
        }
    }

    /// Every way `value` breaks the schema, each with its JSON pointer, in schema order.
    pub fn violations(&self, value: &serde_json::Value) -> Vec<Violation> {
        let validator = self.validator.get_or_init(|| {
            let schema: serde_json::Value =
                serde_json::from_str(self.text).map_err(|e| e.to_string())?;
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| e.to_string())
        });
        // Generation checked that the schema compiles; should this validator not (another
        // version of the crate), nothing passes unchecked.
        let validator = match validator {
            Ok(validator) => validator,
            Err(error) => {
                return vec![Violation {
                    pointer: String::new(),
                    message: format!(
                        "the schema to check this value against does not compile: {error}"
                    ),
                }];
            }
        };
        // The common case, a valid payload, takes the validator's fast path that collects nothing.
        if validator.is_valid(value) {
            return Vec::new();
        }
        validator
            .iter_errors(value)
            .map(|error| Violation {
                pointer: error.instance_path().to_string(),
                message: error.to_string(),
            })
            .collect()
    }
}
