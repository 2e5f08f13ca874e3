//! JSON Schema's `pattern` is an ECMA-262 regular expression, and generated code checks it with
//! the Rust regex crate. There `\d` and `\w` are ASCII and `\s` is ECMA's whitespace; in Rust they
//! are Unicode classes. Patterns are translated first, as the jsonschema crate does when
//! `validate` checks examples, so decoding accepts what validation accepts.

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
    pub fn translate(source: &str) -> Result<Self, &'static str> {
        let rust = jsonschema_regex::to_rust_regex(source)
            .map_err(|()| "is not an ECMA-262 regular expression eventsmith can translate")?;
        match regex::Regex::new(&rust) {
            Ok(_) => Ok(Self {
                source: source.to_owned(),
                rust: rust.into_owned(),
            }),
            Err(regex::Error::CompiledTooBig(_)) => {
                Err("compiles past the Rust regex crate's size limit")
            }
            Err(_) => Err(
                "uses look-around or backreferences, which the Rust regex crate does not support",
            ),
        }
    }
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
    }
}
