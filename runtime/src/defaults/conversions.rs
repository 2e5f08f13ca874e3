//! Working defaults for the named conversions of `convert` upcast rules, which `eventsmith service
//! new` writes into a service's `src/conversions/` files wherever the field's two types have one.
//! Each returns what a `Conversions` method returns, so a method's body is one call; an error
//! says which value could not be converted (decoding adds the event type and version).

use crate::UpcastError;
use crate::format::DateTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};
use std::fmt::Display;
use std::str::FromStr;

/// Reads an integer as Unix seconds and gives that instant as an RFC 3339 date-time in UTC:
/// `1700000000` becomes `2023-11-14T22:13:20Z`. An error for an instant RFC 3339 cannot write
/// (outside the years 0 to 9999).
pub fn unix_seconds_to_date_time<I>(seconds: I) -> Result<DateTime, UpcastError>
where
    I: TryInto<i64> + Copy + Display,
{
    let out_of_range = || {
        UpcastError::new(format!(
            "{seconds} Unix seconds is not an instant an RFC 3339 date-time can write"
        ))
    };
    let whole: i64 = seconds.try_into().map_err(|_| out_of_range())?;
    let instant = time::OffsetDateTime::from_unix_timestamp(whole).map_err(|_| out_of_range())?;
    DateTime::try_from(instant).map_err(|_| out_of_range())
}

/// Gives an RFC 3339 date-time as whole Unix seconds, any fraction of a second dropped:
/// `2023-11-14T22:13:20.5Z` becomes `1700000000`. An error when the seconds do not fit the
/// integer type (an instant before 1970 in an unsigned one).
pub fn date_time_to_unix_seconds<I: TryFrom<i64>>(value: DateTime) -> Result<I, UpcastError> {
    let seconds = value.to_offset_date_time().unix_timestamp();
    I::try_from(seconds).map_err(|_| {
        UpcastError::new(format!(
            "`{value}` is {seconds} Unix seconds, which the next version's integer type cannot hold"
        ))
    })
}

/// Writes a value as text with its `Display`: `42` becomes `"42"`, a JSON number `2.5` becomes
/// `"2.5"` (and `45.0` stays `"45.0"`), `true` becomes `"true"`, and a format string (a date, a
/// UUID) stays its text.
pub fn to_text<T: Display>(value: T) -> Result<String, UpcastError> {
    Ok(value.to_string())
}

/// Parses text as the next version's type with its `FromStr`: `"42"` becomes `42`, `"true"`
/// becomes `true`, and a format type (`Date`, `Uuid`, …) checks its format. An error, naming the
/// text, when it does not parse.
pub fn parse<T>(text: impl AsRef<str>) -> Result<T, UpcastError>
where
    T: FromStr,
    T::Err: Display,
{
    let text = text.as_ref();
    text.parse().map_err(|error| {
        UpcastError::new(format!(
            "`{text}` cannot be read as the next version's value: {error}"
        ))
    })
}

/// An integer as a JSON number, for a field that becomes a `number`: `42` stays `42`.
pub fn to_number<I: Into<Number>>(value: I) -> Result<Number, UpcastError> {
    Ok(value.into())
}

/// A value as JSON, for a field that becomes untyped (`serde_json::Value`): the JSON the previous
/// version encodes.
pub fn to_json<T: Serialize>(value: T) -> Result<Value, UpcastError> {
    serde_json::to_value(value)
        .map_err(|error| UpcastError::new(format!("the value cannot be written as JSON: {error}")))
}

/// A value read again, through its JSON, as the next version's type: an untyped value as a typed
/// one, an integer or number as another integer type, a string as a string enum and back, one
/// string enum as another, an object as a struct with the same property names. An error, naming
/// the value, when its JSON is not one of the next type (a number out of range or with a
/// fraction, a value the enum does not have, a property missing).
pub fn reread<T: DeserializeOwned>(value: impl Serialize) -> Result<T, UpcastError> {
    let json = to_json(value)?;
    T::deserialize(&json).map_err(|error| {
        UpcastError::new(format!(
            "`{json}` does not fit the next version's type: {error}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_become_rfc_3339_and_back() {
        let at: DateTime = unix_seconds_to_date_time(1_700_000_000_i64).unwrap();
        assert_eq!(at.as_str(), "2023-11-14T22:13:20Z");
        assert_eq!(
            unix_seconds_to_date_time(0_u32).unwrap().as_str(),
            "1970-01-01T00:00:00Z"
        );
        let far = unix_seconds_to_date_time(u64::MAX).unwrap_err();
        assert!(far.message.contains("18446744073709551615"), "{far}");
        assert!(unix_seconds_to_date_time(i64::MAX).is_err());
        let with_fraction = DateTime::try_from("2023-11-14T23:13:20.5+01:00".to_owned()).unwrap();
        assert_eq!(
            date_time_to_unix_seconds::<i64>(with_fraction).unwrap(),
            1_700_000_000
        );
        let before_1970 = DateTime::try_from("1969-12-31T23:59:59Z".to_owned()).unwrap();
        assert_eq!(
            date_time_to_unix_seconds::<i64>(before_1970.clone()).unwrap(),
            -1
        );
        let error = date_time_to_unix_seconds::<u64>(before_1970).unwrap_err();
        assert!(error.message.contains("-1 Unix seconds"), "{error}");
    }

    #[test]
    fn values_become_text_and_text_is_parsed() {
        assert_eq!(to_text(42_i64).unwrap(), "42");
        assert_eq!(to_text(true).unwrap(), "true");
        let number: Number = serde_json::from_str("2.5").unwrap();
        assert_eq!(to_text(number).unwrap(), "2.5");
        let whole: Number = serde_json::from_str("45.0").unwrap();
        assert_eq!(to_text(whole).unwrap(), "45.0");
        let date = crate::format::Date::try_from("2026-12-01".to_owned()).unwrap();
        assert_eq!(to_text(date).unwrap(), "2026-12-01");
        let owned = String::from("42");
        assert_eq!(parse::<i64>(owned).unwrap(), 42);
        assert!(parse::<bool>("true").unwrap());
        assert_eq!(parse::<Number>("2.5").unwrap().to_string(), "2.5");
        let date: crate::format::Date = parse("2026-12-01").unwrap();
        assert_eq!(date.as_str(), "2026-12-01");
        let error = parse::<crate::format::Date>("tomorrow").unwrap_err();
        assert!(error.message.contains("`tomorrow`"), "{error}");
        assert!(parse::<u32>("-1").is_err());
    }

    #[test]
    fn numbers_widen_and_values_are_read_again_through_json() {
        assert_eq!(to_number(7_u32).unwrap().to_string(), "7");
        assert_eq!(to_json(vec![1, 2]).unwrap(), serde_json::json!([1, 2]));
        assert_eq!(reread::<u32>(7_i64).unwrap(), 7);
        let error = reread::<u32>(-1_i64).unwrap_err();
        assert!(error.message.contains("`-1`"), "{error}");
        let fraction: Number = serde_json::from_str("2.5").unwrap();
        assert!(reread::<i64>(fraction).is_err());
        #[derive(Debug, PartialEq, serde::Deserialize)]
        enum Status {
            #[serde(rename = "open")]
            Open,
        }
        assert_eq!(reread::<Status>("open").unwrap(), Status::Open);
        assert!(reread::<Status>("closed").is_err());
        assert_eq!(
            reread::<Vec<u64>>(serde_json::json!([1, 2])).unwrap(),
            vec![1, 2]
        );
    }
}
