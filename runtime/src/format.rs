//! Strings with a JSON Schema `format`, validated when decoded. Each keeps the text exactly as it
//! came, so a payload re-encodes byte for byte (a parsed date-time would turn `+00:00` into `Z`),
//! and converts to the well-known type on request.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A string that is not valid for its format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {format}")]
pub struct FormatError {
    /// The format's name in JSON Schema.
    pub format: &'static str,
    /// The text.
    pub value: String,
}

macro_rules! formatted_string {
    ($(#[$doc:meta])* $name:ident, $format:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The JSON Schema format this type checks.
            pub const FORMAT: &'static str = $format;

            /// The text as it was given.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FormatError;

            fn try_from(value: String) -> Result<Self, FormatError> {
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok(Self(value))
                } else {
                    Err(FormatError { format: $format, value })
                }
            }
        }

        impl FromStr for $name {
            type Err = FormatError;

            fn from_str(value: &str) -> Result<Self, FormatError> {
                Self::try_from(value.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::try_from(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

const RFC3339: &time::format_description::well_known::Rfc3339 =
    &time::format_description::well_known::Rfc3339;

fn is_date(text: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    text.len() == 10 && time::Date::parse(text, &format).is_ok()
}

fn is_time(text: &str) -> bool {
    // RFC 3339 `full-time`: checked as the time part of a date-time on a fixed date.
    time::OffsetDateTime::parse(&format!("2000-01-01T{text}"), RFC3339).is_ok()
}

formatted_string!(
    /// `format: date-time`: an RFC 3339 date-time such as `2026-03-14T09:26:53Z`.
    DateTime,
    "date-time",
    |text| time::OffsetDateTime::parse(text, RFC3339).is_ok()
);

impl DateTime {
    /// The instant, with its offset.
    pub fn to_offset_date_time(&self) -> time::OffsetDateTime {
        // Checked when the value was made.
        time::OffsetDateTime::parse(&self.0, RFC3339).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

impl TryFrom<time::OffsetDateTime> for DateTime {
    type Error = FormatError;

    /// Fails for years outside 0..=9999, which RFC 3339 cannot write.
    fn try_from(instant: time::OffsetDateTime) -> Result<Self, FormatError> {
        instant.format(RFC3339).map(Self).map_err(|_| FormatError {
            format: "date-time",
            value: instant.to_string(),
        })
    }
}

formatted_string!(
    /// `format: date`: an RFC 3339 full-date such as `2026-03-14`.
    Date,
    "date",
    is_date
);

formatted_string!(
    /// `format: time`: an RFC 3339 full-time such as `09:26:53Z` or `09:26:53.120+01:00`.
    Time,
    "time",
    is_time
);

formatted_string!(
    /// `format: uuid`: a hyphenated UUID such as `0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23`.
    Uuid,
    "uuid",
    |text| text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
);

impl Uuid {
    /// The UUID.
    pub fn to_uuid(&self) -> uuid::Uuid {
        // Checked when the value was made.
        uuid::Uuid::try_parse(&self.0).unwrap_or_default()
    }
}

impl From<uuid::Uuid> for Uuid {
    fn from(id: uuid::Uuid) -> Self {
        Self(id.hyphenated().to_string())
    }
}

formatted_string!(
    /// `format: email`: an RFC 5321 mailbox such as `zoe@example.com`.
    Email,
    "email",
    |text| email_address::EmailAddress::is_valid(text)
);

formatted_string!(
    /// `format: uri`: an absolute RFC 3986 URI such as `https://example.com/a?b=c`.
    Uri,
    "uri",
    |text| fluent_uri::Uri::parse(text).is_ok()
);

formatted_string!(
    /// `format: uri-reference`: an RFC 3986 URI or relative reference.
    UriReference,
    "uri-reference",
    |text| fluent_uri::UriRef::parse(text).is_ok()
);

formatted_string!(
    /// `format: ipv4`: a dotted-quad IPv4 address.
    Ipv4,
    "ipv4",
    |text| text.parse::<std::net::Ipv4Addr>().is_ok()
);

formatted_string!(
    /// `format: ipv6`: an IPv6 address.
    Ipv6,
    "ipv6",
    |text| text.parse::<std::net::Ipv6Addr>().is_ok()
);

formatted_string!(
    /// `format: hostname`: an RFC 1123 host name: dot-separated labels of letters, digits and
    /// inner hyphens, each at most 63 characters, 253 in all.
    Hostname,
    "hostname",
    |text| {
        !text.is_empty()
            && text.len() <= 253
            && text.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_value(serde_json::Value::String(text.to_owned()))
    }

    #[test]
    fn formats_accept_valid_text_and_keep_it_exactly() {
        for text in [
            "2026-03-14T09:26:53Z",
            "2026-03-14T09:26:53.120+01:00",
            "2026-03-14t09:26:53+00:00",
        ] {
            let value: DateTime = decode(text).unwrap();
            assert_eq!(serde_json::to_value(&value).unwrap(), text);
        }
        assert!(decode::<DateTime>("2026-03-14 09:26").is_err());
        assert!(decode::<DateTime>("2026-02-30T00:00:00Z").is_err());
        assert!(decode::<Date>("2026-03-14").is_ok());
        assert!(decode::<Date>("2026-3-14").is_err());
        assert!(decode::<Time>("09:26:53.5+01:00").is_ok());
        assert!(decode::<Time>("25:00:00Z").is_err());
        let id: Uuid = decode("0190F5D2-7C1A-7E3B-9A4F-2B6C8D0E1F23").unwrap();
        assert_eq!(id.as_str(), "0190F5D2-7C1A-7E3B-9A4F-2B6C8D0E1F23");
        assert!(decode::<Uuid>("0190f5d27c1a7e3b9a4f2b6c8d0e1f23").is_err());
        assert!(decode::<Email>("zoë@example.com").is_ok());
        assert!(decode::<Email>("not an email").is_err());
        assert!(decode::<Uri>("https://example.com/a?b=c").is_ok());
        assert!(decode::<Uri>("/relative").is_err());
        assert!(decode::<UriReference>("/relative").is_ok());
        assert!(decode::<Ipv4>("192.168.0.1").is_ok());
        assert!(decode::<Ipv4>("192.168.0.256").is_err());
        assert!(decode::<Ipv6>("::1").is_ok());
        assert!(decode::<Hostname>("api.example.com").is_ok());
        assert!(decode::<Hostname>("-bad.example").is_err());
    }
}
