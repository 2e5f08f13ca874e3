//! Assertions the generated tests call: schema examples decode and round-trip, and upcasts give
//! the expected next-version payload.

use crate::validate::{Validate, violations};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes `example` as `T`, checks its constraints, and re-encodes it to the same JSON.
pub fn assert_round_trip<T>(what: &str, example: &str) -> T
where
    T: DeserializeOwned + Serialize + Validate,
{
    let decoded: T = serde_json::from_str(example)
        .unwrap_or_else(|e| panic!("{what}: the example does not decode: {e}\n{example}"));
    let found = violations(&decoded);
    assert!(
        found.is_empty(),
        "{what}: the example breaks constraints: {found:?}"
    );
    let expected: Value = serde_json::from_str(example).expect("examples are JSON");
    let encoded = serde_json::to_value(&decoded).expect("a decoded event encodes");
    assert_eq!(encoded, expected, "{what}: the example does not round-trip");
    decoded
}

/// Asserts an upcast value is valid at the next version and, when the generator could compute it
/// from declarative rules, equals `expected`.
pub fn assert_upcast<T>(what: &str, upcast: &T, expected: Option<&str>)
where
    T: DeserializeOwned + Serialize + Validate,
{
    let found = violations(upcast);
    assert!(
        found.is_empty(),
        "{what}: the upcast value breaks constraints: {found:?}"
    );
    let encoded = serde_json::to_value(upcast).expect("an upcast event encodes");
    let again: T = serde_json::from_value(encoded.clone()).unwrap_or_else(|e| {
        panic!("{what}: the upcast value does not decode as the next version: {e}")
    });
    assert_eq!(serde_json::to_value(&again).expect("encodes"), encoded);
    if let Some(expected) = expected {
        let expected: Value = serde_json::from_str(expected).expect("expected upcasts are JSON");
        assert_eq!(encoded, expected, "{what}: the upcast value differs");
    }
}

/// Every example of `event_type` at `version` round-trips as `T` and decodes through the event's
/// decode chain (what the generated tests call, one line per version).
pub fn assert_examples<T, L>(
    event_type: &str,
    version: u32,
    examples: &[&str],
    decode: fn(u32, &[u8]) -> Result<L, crate::DecodeError>,
) where
    T: DeserializeOwned + Serialize + Validate,
{
    for (index, example) in examples.iter().enumerate() {
        let what = format!("{event_type} v{version}, example {}", index + 1);
        assert_round_trip::<T>(&what, example);
        if let Err(error) = decode(version, example.as_bytes()) {
            panic!("{what}: {error}");
        }
    }
}

/// Every example of `event_type` at `version` upcasts to a valid next version, equal to the
/// expected payload where the generator could compute one from declarative rules.
pub fn assert_upcasts<Old, New>(
    event_type: &str,
    version: u32,
    examples: &[(&str, Option<&str>)],
    upcast: fn(Old) -> Result<New, crate::UpcastError>,
) where
    Old: DeserializeOwned + Serialize + Validate,
    New: DeserializeOwned + Serialize + Validate,
{
    for (index, (example, expected)) in examples.iter().enumerate() {
        let what = format!(
            "{event_type} v{version}, example {}, upcast to v{}",
            index + 1,
            version + 1
        );
        let old = assert_round_trip::<Old>(&what, example);
        match upcast(old) {
            Ok(new) => assert_upcast(&what, &new, *expected),
            Err(error) => panic!("{what}: {error}"),
        }
    }
}
