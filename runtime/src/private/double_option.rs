//! Serde helpers for an optional, nullable property as `Option<Option<T>>`: absent is `None`,
//! `null` is `Some(None)`, a value is `Some(Some(value))`, and each serializes back as it came.
//! Use with `#[serde(default, skip_serializing_if = "Option::is_none", with = "eventsmith::__private::double_option")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes `Some(None)` as `null` and `Some(Some(v))` as `v` (`None` is skipped by the field).
pub fn serialize<T: Serialize, S: Serializer>(
    value: &Option<Option<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// Reads a present property: `null` as `Some(None)`, a value as `Some(Some(v))`.
pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}
