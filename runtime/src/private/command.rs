//! What generated `CommandSet::decode` calls: a command's bundled JSON Schema, compiled on first
//! use, and the decode that checks a payload against it before decoding it.

use super::codec::pointer;
use super::schema::Schema;
use crate::CommandError;
use crate::validate::{Validate, Violation, violations};

/// Decodes `payload` as command `name`, of type `C`: what generated `CommandSet::decode` calls.
/// The payload is first checked against the command's `schema`, so every violation is reported at
/// once, each with its JSON pointer; then it is decoded, and the type's own constraint checks run.
pub fn decode<C>(name: &'static str, payload: &[u8], schema: &Schema) -> Result<C, CommandError>
where
    C: serde::de::DeserializeOwned + Validate,
{
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(CommandError::Malformed)?;
    let found = schema.violations(&value);
    if !found.is_empty() {
        return Err(CommandError::Invalid {
            command: name,
            violations: found,
        });
    }
    let command: C = serde_path_to_error::deserialize(value).map_err(|error| {
        let pointer = pointer(error.path());
        CommandError::Invalid {
            command: name,
            violations: vec![Violation {
                pointer,
                message: error.into_inner().to_string(),
            }],
        }
    })?;
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
        fn validate(&self, checker: &mut crate::__private::Checker) {
            checker.at("lines", |checker| checker.min_items(self.lines.len(), 1));
        }
    }

    /// No schema: the typed checks alone.
    static NO_SCHEMA: Schema = Schema::new("true");
    static PLACE: Schema = Schema::new(
        r#"{"type": "object", "properties": {"lines": {"type": "array", "minItems": 1,
            "items": {"type": "object", "properties": {"quantity": {"type": "integer", "minimum": 1}},
                      "required": ["quantity"]}},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
            "required": ["lines"]}"#,
    );

    fn violations_of(payload: &str) -> Vec<(String, String)> {
        match decode::<Place>("place", payload.as_bytes(), &NO_SCHEMA) {
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
    fn the_schema_reports_every_violation_at_once() {
        let payload =
            r#"{"lines": [{"quantity": 0}, {"quantity": "two"}, {}], "currency": "euro"}"#;
        let Err(CommandError::Invalid { violations, .. }) =
            decode::<Place>("place", payload.as_bytes(), &PLACE)
        else {
            panic!("accepted");
        };
        let mut pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(
            pointers,
            [
                "/currency",
                "/lines/0/quantity",
                "/lines/1/quantity",
                "/lines/2"
            ],
            "{violations:?}"
        );
        assert!(decode::<Place>("place", br#"{"lines": [{"quantity": 2}]}"#, &PLACE).is_ok());
    }

    #[test]
    fn malformed_json_is_not_a_violation() {
        for payload in [r#"{"lines": ["#, r#"{"lines": []} trailing"#, ""] {
            assert!(
                matches!(
                    decode::<Place>("place", payload.as_bytes(), &PLACE),
                    Err(CommandError::Malformed(_))
                ),
                "{payload}"
            );
        }
    }
}
