//! The JSON Schema drafts eventsmith reads, chosen by `$schema`.

use serde::Serialize;
use serde_json::Value;

/// A supported draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Draft {
    /// Draft-07, still the most common in existing repositories.
    #[serde(rename = "draft-07")]
    Draft7,
    /// Draft 2020-12, the default.
    #[serde(rename = "2020-12")]
    Draft202012,
}

/// What `$schema` said, when it names no supported draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    /// A known draft eventsmith does not read (draft-04, draft-06, 2019-09).
    Unsupported(String),
    /// Not a JSON Schema meta-schema URI eventsmith knows.
    Unknown(String),
    /// `$schema` is not a string.
    NotAString,
}

impl Draft {
    /// The canonical `$schema` URI.
    pub fn uri(self) -> &'static str {
        match self {
            Draft::Draft7 => "http://json-schema.org/draft-07/schema#",
            Draft::Draft202012 => "https://json-schema.org/draft/2020-12/schema",
        }
    }

    /// The name users know it by.
    pub fn name(self) -> &'static str {
        match self {
            Draft::Draft7 => "draft-07",
            Draft::Draft202012 => "2020-12",
        }
    }

    /// The draft a schema document declares; 2020-12 when `$schema` is absent.
    pub fn of(document: &Value) -> Result<Draft, DraftError> {
        let Some(declared) = document.get("$schema") else {
            return Ok(Draft::Draft202012);
        };
        let Some(uri) = declared.as_str() else {
            return Err(DraftError::NotAString);
        };
        let normal = uri
            .trim()
            .trim_end_matches('#')
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        match normal {
            "json-schema.org/draft-07/schema" => Ok(Draft::Draft7),
            "json-schema.org/draft/2020-12/schema" => Ok(Draft::Draft202012),
            "json-schema.org/draft-04/schema"
            | "json-schema.org/draft-06/schema"
            | "json-schema.org/draft-03/schema"
            | "json-schema.org/draft/2019-09/schema" => {
                Err(DraftError::Unsupported(uri.to_owned()))
            }
            _ => Err(DraftError::Unknown(uri.to_owned())),
        }
    }

    /// The jsonschema crate's name for it.
    pub(crate) fn engine(self) -> jsonschema::Draft {
        match self {
            Draft::Draft7 => jsonschema::Draft::Draft7,
            Draft::Draft202012 => jsonschema::Draft::Draft202012,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drafts_by_schema_uri() {
        assert_eq!(Draft::of(&json!({})), Ok(Draft::Draft202012));
        assert_eq!(
            Draft::of(&json!({"$schema": "http://json-schema.org/draft-07/schema#"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            Draft::of(&json!({"$schema": "https://json-schema.org/draft-07/schema"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            Draft::of(&json!({"$schema": "https://json-schema.org/draft/2020-12/schema"})),
            Ok(Draft::Draft202012)
        );
        assert!(matches!(
            Draft::of(&json!({"$schema": "http://json-schema.org/draft-04/schema#"})),
            Err(DraftError::Unsupported(_))
        ));
        assert!(matches!(
            Draft::of(&json!({"$schema": "https://example.com/x"})),
            Err(DraftError::Unknown(_))
        ));
        assert_eq!(
            Draft::of(&json!({"$schema": 7})),
            Err(DraftError::NotAString)
        );
    }
}
