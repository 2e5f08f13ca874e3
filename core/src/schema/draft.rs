//! The JSON Schema drafts eventsmith reads (04, 06, 07, 2019-09, 2020-12), chosen by `$schema`,
//! else by the project's default, and what differs between them where the engine must care.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A supported draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Draft {
    /// Draft-04: `id`, boolean `exclusiveMinimum`/`exclusiveMaximum`, no boolean schemas.
    #[serde(rename = "draft-04")]
    Draft4,
    /// Draft-06: `$id`, numeric exclusive bounds, boolean schemas, `const`, `contains`.
    #[serde(rename = "draft-06")]
    Draft6,
    /// Draft-07, still the most common in existing repositories (`if`/`then`/`else`).
    #[serde(rename = "draft-07")]
    Draft7,
    /// Draft 2019-09: `$defs`, `dependentRequired`/`dependentSchemas`, `unevaluated*`.
    #[serde(rename = "2019-09")]
    Draft201909,
    /// Draft 2020-12: `prefixItems`; the default for a project.
    #[serde(rename = "2020-12")]
    Draft202012,
}

/// What `$schema` said, when it names no supported draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    /// A known draft eventsmith does not read (draft-03 and older).
    Unsupported(String),
    /// Not a JSON Schema meta-schema URI eventsmith knows.
    Unknown(String),
    /// `$schema` is not a string.
    NotAString,
}

impl Draft {
    /// Every draft, oldest first.
    pub const ALL: [Draft; 5] = [
        Draft::Draft4,
        Draft::Draft6,
        Draft::Draft7,
        Draft::Draft201909,
        Draft::Draft202012,
    ];

    /// The canonical `$schema` URI.
    pub fn uri(self) -> &'static str {
        match self {
            Draft::Draft4 => "http://json-schema.org/draft-04/schema#",
            Draft::Draft6 => "http://json-schema.org/draft-06/schema#",
            Draft::Draft7 => "http://json-schema.org/draft-07/schema#",
            Draft::Draft201909 => "https://json-schema.org/draft/2019-09/schema",
            Draft::Draft202012 => "https://json-schema.org/draft/2020-12/schema",
        }
    }

    /// The name users know it by (and write in eventsmith.toml and `--draft`).
    pub fn name(self) -> &'static str {
        match self {
            Draft::Draft4 => "draft-04",
            Draft::Draft6 => "draft-06",
            Draft::Draft7 => "draft-07",
            Draft::Draft201909 => "2019-09",
            Draft::Draft202012 => "2020-12",
        }
    }

    /// The draft with this name (`draft-07`, `7`, `2020-12`, …).
    pub fn from_name(name: &str) -> Option<Draft> {
        let name = name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("draft").unwrap_or(&name);
        let name = name.trim_start_matches(['-', '_', ' ']);
        match name {
            "04" | "4" => Some(Draft::Draft4),
            "06" | "6" => Some(Draft::Draft6),
            "07" | "7" => Some(Draft::Draft7),
            "2019-09" | "201909" => Some(Draft::Draft201909),
            "2020-12" | "202012" => Some(Draft::Draft202012),
            _ => None,
        }
    }

    /// The draft a schema document declares; `default` when `$schema` is absent.
    pub fn of(document: &Value, default: Draft) -> Result<Draft, DraftError> {
        let Some(declared) = document.get("$schema") else {
            return Ok(default);
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
            "json-schema.org/draft-04/schema" => Ok(Draft::Draft4),
            "json-schema.org/draft-06/schema" => Ok(Draft::Draft6),
            "json-schema.org/draft-07/schema" => Ok(Draft::Draft7),
            "json-schema.org/draft/2019-09/schema" => Ok(Draft::Draft201909),
            "json-schema.org/draft/2020-12/schema" => Ok(Draft::Draft202012),
            "json-schema.org/draft-03/schema"
            | "json-schema.org/draft-02/schema"
            | "json-schema.org/draft-01/schema"
            | "json-schema.org/schema" => Err(DraftError::Unsupported(uri.to_owned())),
            _ => Err(DraftError::Unknown(uri.to_owned())),
        }
    }

    /// The keyword that names a schema resource: `id` in draft-04, `$id` after.
    pub fn id_keyword(self) -> &'static str {
        match self {
            Draft::Draft4 => "id",
            _ => "$id",
        }
    }

    /// Whether `$ref` replaces the keywords beside it (drafts 04 to 07), rather than adding to
    /// them (2019-09 on).
    pub fn ref_overrides_siblings(self) -> bool {
        self <= Draft::Draft7
    }

    /// Whether `items` may be a list of positional schemas, with `additionalItems` for the rest
    /// (every draft before 2020-12, which has `prefixItems` and `items` for the rest).
    pub fn array_items_are_tuples(self) -> bool {
        self < Draft::Draft202012
    }

    /// Whether `exclusiveMinimum`/`exclusiveMaximum` are booleans modifying `minimum`/`maximum`
    /// (draft-04) rather than bounds of their own.
    pub fn boolean_exclusive_bounds(self) -> bool {
        self == Draft::Draft4
    }

    /// Where the draft keeps reusable schemas: `definitions` before 2019-09, `$defs` from it.
    pub fn defs_keyword(self) -> &'static str {
        match self {
            Draft::Draft4 | Draft::Draft6 | Draft::Draft7 => "definitions",
            Draft::Draft201909 | Draft::Draft202012 => "$defs",
        }
    }

    /// The jsonschema crate's name for it.
    pub(crate) fn engine(self) -> jsonschema::Draft {
        match self {
            Draft::Draft4 => jsonschema::Draft::Draft4,
            Draft::Draft6 => jsonschema::Draft::Draft6,
            Draft::Draft7 => jsonschema::Draft::Draft7,
            Draft::Draft201909 => jsonschema::Draft::Draft201909,
            Draft::Draft202012 => jsonschema::Draft::Draft202012,
        }
    }
}

impl std::fmt::Display for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drafts_by_schema_uri() {
        let of = |value: Value| Draft::of(&value, Draft::Draft202012);
        assert_eq!(of(json!({})), Ok(Draft::Draft202012));
        assert_eq!(Draft::of(&json!({}), Draft::Draft7), Ok(Draft::Draft7));
        assert_eq!(
            of(json!({"$schema": "http://json-schema.org/draft-07/schema#"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            of(json!({"$schema": "https://json-schema.org/draft-07/schema"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            of(json!({"$schema": "https://json-schema.org/draft/2020-12/schema"})),
            Ok(Draft::Draft202012)
        );
        assert_eq!(
            of(json!({"$schema": "http://json-schema.org/draft-04/schema#"})),
            Ok(Draft::Draft4)
        );
        assert_eq!(
            of(json!({"$schema": "http://json-schema.org/draft-06/schema"})),
            Ok(Draft::Draft6)
        );
        assert_eq!(
            of(json!({"$schema": "https://json-schema.org/draft/2019-09/schema"})),
            Ok(Draft::Draft201909)
        );
        assert!(matches!(
            of(json!({"$schema": "http://json-schema.org/draft-03/schema#"})),
            Err(DraftError::Unsupported(_))
        ));
        assert!(matches!(
            of(json!({"$schema": "https://example.com/x"})),
            Err(DraftError::Unknown(_))
        ));
        assert_eq!(of(json!({"$schema": 7})), Err(DraftError::NotAString));
    }

    #[test]
    fn names_round_trip_and_accept_short_forms() {
        for draft in Draft::ALL {
            assert_eq!(Draft::from_name(draft.name()), Some(draft));
            assert_eq!(
                Draft::of(&json!({"$schema": draft.uri()}), Draft::Draft4),
                Ok(draft)
            );
        }
        assert_eq!(Draft::from_name("7"), Some(Draft::Draft7));
        assert_eq!(Draft::from_name("Draft-04"), Some(Draft::Draft4));
        assert_eq!(Draft::from_name("2021"), None);
    }
}
