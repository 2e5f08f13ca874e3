//! JSON Schema's `pattern` and `patternProperties` keys are ECMA-262 regular expressions, and
//! eventsmith matches them with the Rust regex crate. There `\d` and `\w` are ASCII and `\s` is
//! ECMA's whitespace; in Rust they are Unicode classes. Patterns are translated first, as the
//! jsonschema crate does when `validate` checks examples, so generated decoders and `diff` agree
//! with validation.

/// A pattern as written, and the Rust regex that matches what it matches.
#[derive(Debug, Clone, PartialEq)]
pub struct RustPattern {
    /// The schema's text.
    pub source: String,
    /// Its Rust form (the same text when nothing needed translating).
    pub rust: String,
}

impl RustPattern {
    /// The translation, or why there is none, worded to follow "the pattern `…`".
    pub fn translate(source: &str) -> Result<Self, String> {
        Self::compile(source).map(|(pattern, _)| pattern)
    }

    /// The translation and its compiled regex.
    fn compile(source: &str) -> Result<(Self, regex::Regex), String> {
        let rust = jsonschema_regex::to_rust_regex(source).map_err(|()| {
            "could not be translated from ECMA-262 to the Rust regex syntax".to_owned()
        })?;
        match regex::Regex::new(&rust) {
            Ok(regex) => Ok((
                Self {
                    source: source.to_owned(),
                    rust: rust.into_owned(),
                },
                regex,
            )),
            Err(regex::Error::CompiledTooBig(_)) => {
                Err("compiles past the Rust regex crate's size limit".to_owned())
            }
            Err(error) => Err(format!(
                "is not supported by the Rust regex crate (look-around and backreferences are not): {}",
                error.to_string().lines().last().unwrap_or_default().trim()
            )),
        }
    }
}

/// `source` compiled with its ECMA-262 meaning, when the regex crate can compile it.
pub fn ecma_regex(source: &str) -> Option<regex::Regex> {
    RustPattern::compile(source).ok().map(|(_, regex)| regex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(source: &str, text: &str) -> bool {
        let pattern = RustPattern::translate(source).unwrap();
        regex::Regex::new(&pattern.rust).unwrap().is_match(text)
    }

    #[test]
    fn class_escapes_mean_what_they_mean_in_ecma_262() {
        assert!(matches(r"^\d+$", "123"));
        assert!(
            !matches(r"^\d+$", "١٢٣"),
            "Arabic-Indic digits are not ECMA digits"
        );
        assert!(!matches(r"^\w+$", "é"), "ECMA's \\w is ASCII");
        assert!(matches(r"^[\w.-]+$", "a.b-c_1"));
        assert!(matches(r"^\s$", "\u{feff}"), "ECMA's \\s includes the BOM");
    }

    #[test]
    fn plain_patterns_are_kept_as_written() {
        let pattern = RustPattern::translate("^[A-Z]{3}$").unwrap();
        assert_eq!(pattern.rust, pattern.source);
    }

    #[test]
    fn unicode_classes_that_would_be_huge_fit_once_translated() {
        // `\w{1,255}` in Unicode passes the regex crate's size limit; ECMA's ASCII `\w` does not.
        assert!(regex::Regex::new(r"\w{1,255}").is_err());
        assert!(matches(r"pull-push|pull|push|\$\w{1,255}", "$CI_JOB"));
    }

    #[test]
    fn untranslatable_patterns_say_why() {
        assert!(
            RustPattern::translate(r"^(?!x)")
                .unwrap_err()
                .contains("look-around")
        );
        assert!(
            RustPattern::translate(r"(a)\1")
                .unwrap_err()
                .contains("backreferences")
        );
        assert!(RustPattern::translate(r"[").is_err());
        assert!(RustPattern::translate(r"\p{Nonsense}").is_err());
    }

    #[test]
    fn ecma_regexes_match_property_names_as_ecma_262_does() {
        let digits = ecma_regex(r"^\d+$").unwrap();
        assert!(digits.is_match("42"));
        assert!(!digits.is_match("٤٢"));
        assert!(ecma_regex(r"^(?=a)").is_none());
    }
}
