//! What generated `EventSet` implementations call: decode a payload into a version's type and
//! check its constraints, encode the latest version.

use super::schema::Schema;
use crate::validate::{Validate, violations};
use crate::{DecodeError, EncodeError};

/// Decodes `payload` as `T` (the type of `event_type` at `version`) and checks its constraints.
pub fn decode<T>(event_type: &str, version: u32, payload: &[u8]) -> Result<T, DecodeError>
where
    T: serde::de::DeserializeOwned + Validate,
{
    let invalid = |source| DecodeError::InvalidPayload {
        event_type: event_type.to_owned(),
        version,
        source,
    };
    let value: T = match serde_json::from_slice(payload) {
        Ok(value) => value,
        // Rare: an integer written with a fraction of zero (`2.0`), which JSON Schema counts an
        // integer; decoded again through a JSON value. (Only then: a JSON value would hide other
        // errors, such as a duplicate key.)
        Err(error) if error.is_data() && error.to_string().contains("floating point") => {
            let json: serde_json::Value = serde_json::from_slice(payload).map_err(invalid)?;
            deserialize(&json).map_err(invalid)?
        }
        Err(error) => return Err(invalid(error)),
    };
    let violations = violations(&value);
    if violations.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::Violations {
            event_type: event_type.to_owned(),
            version,
            violations,
        })
    }
}

/// Decodes `payload` as `T`, like [`decode`], then checks it against `schema`: for an event
/// version whose schema has keywords its Rust type does not express (a `oneOf` that must match
/// exactly one alternative, `not`, conditionals, a subschema without a `type`, ...). The typed
/// decode and its checks run first, so their messages come first; when they pass, the schema
/// reports every violation it finds.
pub fn decode_checked<T>(
    event_type: &str,
    version: u32,
    payload: &[u8],
    schema: &Schema,
) -> Result<T, DecodeError>
where
    T: serde::de::DeserializeOwned + Validate,
{
    let value = decode::<T>(event_type, version, payload)?;
    let json: serde_json::Value =
        serde_json::from_slice(payload).map_err(|source| DecodeError::InvalidPayload {
            event_type: event_type.to_owned(),
            version,
            source,
        })?;
    let found = schema.violations(&json);
    if found.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::Violations {
            event_type: event_type.to_owned(),
            version,
            violations: found,
        })
    }
}

/// Deserializes `json` as `T`, reading an integer written with a zero fraction (`2.0`) where `T`
/// wants an integer: JSON Schema counts `2.0` an integer, serde does not. Each such number is
/// found by the path of the error it causes and rewritten as an integer (it re-encodes as `2`);
/// numbers of other types keep their spelling.
fn deserialize<T: serde::de::DeserializeOwned>(
    json: &serde_json::Value,
) -> Result<T, serde_json::Error> {
    let mut first = match serde_path_to_error::deserialize::<_, T>(json) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let mut json = json.clone();
    // Each pass rewrites one number and decodes again: a bounded number of passes, so a payload
    // of many such numbers costs a bounded multiple of one decode.
    for _ in 0..MAX_REWRITES {
        let Some(slot) = integral_float_at(&mut json, first.path()) else {
            // A JSON value has no line and column to report: the pointer says where.
            let at = pointer(first.path());
            let error = first.into_inner();
            return Err(if at.is_empty() {
                error
            } else {
                serde::de::Error::custom(format!("{at}: {error}"))
            });
        };
        *slot = serde_json::Value::from(slot.as_f64().unwrap_or_default() as i64);
        match serde_path_to_error::deserialize::<_, T>(&json) {
            Ok(value) => return Ok(value),
            Err(error) => first = error,
        }
    }
    Err(serde::de::Error::custom(format!(
        "{}: {} (and more than {MAX_REWRITES} integers written with a fraction of zero, such as `2.0`)",
        pointer(first.path()),
        first.into_inner()
    )))
}

/// How many integers written `2.0` one payload may hold.
const MAX_REWRITES: usize = 64;

/// The number at `path` in `json`, when it is a float with a zero fraction within `i64`.
fn integral_float_at<'a>(
    json: &'a mut serde_json::Value,
    path: &serde_path_to_error::Path,
) -> Option<&'a mut serde_json::Value> {
    use serde_path_to_error::Segment;
    let mut at = json;
    for segment in path {
        at = match segment {
            Segment::Seq { index } => at.get_mut(*index)?,
            Segment::Map { key } => at.get_mut(key.as_str())?,
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    let number = at.as_f64().filter(|_| at.is_f64())?;
    // Within `i64`, where every such float is an exact integer.
    let integral = number.fract() == 0.0
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&number);
    integral.then_some(at)
}

/// A serde path as a JSON pointer.
pub(super) fn pointer(path: &serde_path_to_error::Path) -> String {
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

/// Encodes an event as JSON.
pub fn encode<T: serde::Serialize>(
    event_type: &'static str,
    value: &T,
) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(value).map_err(|source| EncodeError { event_type, source })
}

/// The error for a version a set does not know.
pub fn unknown_version(event_type: &str, version: u32) -> DecodeError {
    DecodeError::UnknownVersion {
        event_type: event_type.to_owned(),
        version,
    }
}

/// The error for an event type a set does not know.
pub fn unknown_event_type(event_type: &str) -> DecodeError {
    DecodeError::UnknownEventType(event_type.to_owned())
}

/// The JSON kinds an alternative of an untagged enum can decode from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Whatever serde accepts for the type.
    Any,
    /// Objects only: a struct or tagged enum, which serde would also fill from an array.
    Object,
    /// An object or `null`.
    NullableObject,
}

impl Shape {
    fn admits(self, value: &serde_json::Value) -> bool {
        match self {
            Shape::Any => true,
            Shape::Object => value.is_object(),
            Shape::NullableObject => value.is_object() || value.is_null(),
        }
    }
}

/// One alternative of an untagged enum: its shape and how it decodes.
pub type Alternative<T> = (
    Shape,
    fn(&serde_json::Value) -> Result<T, serde_json::Error>,
);

/// Decodes a `oneOf`/`anyOf` without a tag: the first alternative, in schema order, whose shape
/// admits the value, that decodes it and whose constraints it meets; failing that, the first
/// that decodes (whose violations the caller's check then reports). Unlike serde's `untagged`,
/// an array never becomes a struct (serde fills a struct's fields from an array by position).
pub fn untagged<'de, D, T>(
    deserializer: D,
    name: &str,
    alternatives: &[Alternative<T>],
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Validate,
{
    let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
    let mut first_decoded = None;
    for (_, decode) in alternatives
        .iter()
        .filter(|(shape, _)| shape.admits(&value))
    {
        if let Ok(candidate) = decode(&value) {
            if violations(&candidate).is_empty() {
                return Ok(candidate);
            }
            first_decoded.get_or_insert(candidate);
        }
    }
    first_decoded.ok_or_else(|| {
        <D::Error as serde::de::Error>::custom(format!(
            "data did not match any variant of untagged enum {name}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::Checker;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Secure {
        secure: String,
    }

    #[derive(Debug, PartialEq)]
    enum Env {
        Secure(Secure),
        List(Vec<String>),
    }

    impl Validate for Env {
        fn validate(&self, _checker: &mut Checker) {}
    }

    impl<'de> Deserialize<'de> for Env {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            untagged(
                deserializer,
                "Env",
                &[
                    (Shape::Object, |v| Secure::deserialize(v).map(Env::Secure)),
                    (Shape::Any, |v| Vec::<String>::deserialize(v).map(Env::List)),
                ],
            )
        }
    }

    #[test]
    fn an_array_is_not_taken_for_a_struct() {
        // serde's own `untagged` decodes `["x"]` as `Secure { secure: "x" }`.
        assert_eq!(
            serde_json::from_value::<Env>(json!(["x"])).unwrap(),
            Env::List(vec!["x".into()])
        );
        assert_eq!(
            serde_json::from_value::<Env>(json!({"secure": "x"})).unwrap(),
            Env::Secure(Secure { secure: "x".into() })
        );
        let error = serde_json::from_value::<Env>(json!(3)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "data did not match any variant of untagged enum Env"
        );
    }

    /// `anyOf` of a short code (at most 3 characters) and, with `SHORT_ONLY` false, a free text.
    #[derive(Debug, PartialEq)]
    enum Code<const SHORT_ONLY: bool> {
        Short(String),
        Text(String),
    }

    impl<const SHORT_ONLY: bool> Validate for Code<SHORT_ONLY> {
        fn validate(&self, checker: &mut Checker) {
            if let Code::Short(code) = self {
                checker.max_length(code, 3);
            }
        }
    }

    impl<'de, const SHORT_ONLY: bool> Deserialize<'de> for Code<SHORT_ONLY> {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let short: Alternative<Self> =
                (Shape::Any, |v| String::deserialize(v).map(Code::Short));
            let text: Alternative<Self> = (Shape::Any, |v| String::deserialize(v).map(Code::Text));
            let alternatives = if SHORT_ONLY {
                vec![short]
            } else {
                vec![short, text]
            };
            untagged(deserializer, "Code", &alternatives)
        }
    }

    #[test]
    fn an_alternative_whose_constraints_fail_gives_way_to_one_whose_hold() {
        let code = |value| serde_json::from_value::<Code<false>>(value).unwrap();
        assert_eq!(code(json!("EUR")), Code::Short("EUR".into()));
        assert_eq!(code(json!("euros")), Code::Text("euros".into()));
        // With no alternative whose constraints hold, the first that decodes is kept, and the
        // check after decoding reports why.
        let short = serde_json::from_value::<Code<true>>(json!("euros")).unwrap();
        assert_eq!(short, Code::Short("euros".into()));
        assert_eq!(violations(&short).len(), 1);
    }
}
