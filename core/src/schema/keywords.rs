//! The keywords of each draft, and the findings about keywords a validator would silently
//! ignore: a keyword of another draft (`additionalItems` in a 2020-12 file, `prefixItems` in a
//! draft-07 one, draft-04's `id`) and a misspelt one (`requried`), which would otherwise quietly
//! change what a schema means.

use crate::diagnostic::{Diagnostic, Rule};
use crate::schema::draft::Draft;
use crate::schema::walk;
use crate::text::document::Document;
use crate::text::pointer;
use crate::text::similar::closest;
use serde_json::Value;

use Draft::{Draft4 as D4, Draft6 as D6, Draft7 as D7, Draft201909 as D2019, Draft202012 as D2020};

/// Every keyword with the first and the last draft that has it.
const KEYWORDS: &[(&str, Draft, Draft)] = &[
    ("$schema", D4, D2020),
    ("$ref", D4, D2020),
    ("id", D4, D4),
    ("$id", D6, D2020),
    ("$comment", D7, D2020),
    ("$anchor", D2019, D2020),
    ("$defs", D2019, D2020),
    ("$vocabulary", D2019, D2020),
    ("$recursiveRef", D2019, D2019),
    ("$recursiveAnchor", D2019, D2019),
    ("$dynamicRef", D2020, D2020),
    ("$dynamicAnchor", D2020, D2020),
    // Kept by the 2019-09 and 2020-12 meta-schemas for older documents.
    ("definitions", D4, D2020),
    ("title", D4, D2020),
    ("description", D4, D2020),
    ("default", D4, D2020),
    ("examples", D6, D2020),
    ("deprecated", D2019, D2020),
    ("readOnly", D7, D2020),
    ("writeOnly", D7, D2020),
    ("type", D4, D2020),
    ("enum", D4, D2020),
    ("const", D6, D2020),
    ("format", D4, D2020),
    ("multipleOf", D4, D2020),
    ("maximum", D4, D2020),
    ("exclusiveMaximum", D4, D2020),
    ("minimum", D4, D2020),
    ("exclusiveMinimum", D4, D2020),
    ("maxLength", D4, D2020),
    ("minLength", D4, D2020),
    ("pattern", D4, D2020),
    ("contentEncoding", D7, D2020),
    ("contentMediaType", D7, D2020),
    ("contentSchema", D2019, D2020),
    ("items", D4, D2020),
    ("additionalItems", D4, D2019),
    ("prefixItems", D2020, D2020),
    ("unevaluatedItems", D2019, D2020),
    ("contains", D6, D2020),
    ("maxContains", D2019, D2020),
    ("minContains", D2019, D2020),
    ("maxItems", D4, D2020),
    ("minItems", D4, D2020),
    ("uniqueItems", D4, D2020),
    ("properties", D4, D2020),
    ("patternProperties", D4, D2020),
    ("additionalProperties", D4, D2020),
    ("unevaluatedProperties", D2019, D2020),
    ("propertyNames", D6, D2020),
    ("required", D4, D2020),
    ("dependencies", D4, D7),
    ("dependentRequired", D2019, D2020),
    ("dependentSchemas", D2019, D2020),
    ("maxProperties", D4, D2020),
    ("minProperties", D4, D2020),
    ("allOf", D4, D2020),
    ("anyOf", D4, D2020),
    ("oneOf", D4, D2020),
    ("not", D4, D2020),
    ("if", D7, D2020),
    ("then", D7, D2020),
    ("else", D7, D2020),
];

/// Words schemas in the field use that are not JSON Schema keywords and are no typos: OpenAPI's
/// and AsyncAPI's additions, and common documentation keys.
const KNOWN_EXTENSIONS: &[&str] = &[
    "nullable",
    "discriminator",
    "example",
    "externalDocs",
    "xml",
    "$comment",
    "markdownDescription",
    "errorMessage",
];

/// Annotations: a draft that lacks one loses nothing a validator checks, so using one of another
/// draft is no finding.
const ANNOTATIONS: &[&str] = &[
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
];

/// The drafts that have `keyword`, as (first, last).
fn drafts_of(keyword: &str) -> Option<(Draft, Draft)> {
    KEYWORDS
        .iter()
        .find(|(name, _, _)| *name == keyword)
        .map(|(_, first, last)| (*first, *last))
}

/// Whether `keyword` is a keyword of `draft`.
pub fn is_keyword(keyword: &str, draft: Draft) -> bool {
    drafts_of(keyword).is_some_and(|(first, last)| first <= draft && draft <= last)
}

/// The drafts that have a keyword, in words (`draft-04 to 2019-09`, `2020-12`).
fn span(first: Draft, last: Draft) -> String {
    if first == last {
        first.name().to_owned()
    } else if last == Draft::Draft202012 {
        format!("{} and later", first.name())
    } else {
        format!("{} to {}", first.name(), last.name())
    }
}

/// How to say in `draft` what `keyword` said in its own.
fn instead(keyword: &str, draft: Draft) -> Option<&'static str> {
    Some(match keyword {
        "additionalItems" => "write the positions as `prefixItems` and the rest as `items`",
        "prefixItems" => {
            "write the positions as a list in `items` and the rest as `additionalItems`"
        }
        "id" => "write it as `$id`",
        "$id" => "write it as `id`",
        "dependencies" => {
            "split it into `dependentRequired` (lists of names) and `dependentSchemas` (schemas)"
        }
        "dependentRequired" | "dependentSchemas" => {
            "write it as `dependencies`, which takes both forms"
        }
        "$defs" if draft < Draft::Draft201909 => return None,
        "$recursiveRef" => "use `$dynamicRef`",
        "$dynamicRef" => "use `$recursiveRef`",
        _ => return None,
    })
}

/// Every keyword of `document` (read as `draft`; `declared` says whether its `$schema` chose
/// the draft or the default did) that `draft` does not have: of another draft (an error: a
/// validator of this draft ignores it) or close to a keyword (a warning with a did-you-mean).
/// `choose_default` says how to change the draft of files without `$schema` where this one is
/// read (a project setting, a command-line flag).
pub(crate) fn check(
    document: &Document,
    draft: Draft,
    declared: bool,
    choose_default: &str,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let why = if declared {
        format!("its `$schema` says {}", draft.name())
    } else {
        format!("it has no `$schema`, so it is read as {}", draft.name())
    };
    for sub in walk::subschemas(document.value(), draft) {
        let Value::Object(object) = sub.value else {
            continue;
        };
        for keyword in object.keys() {
            if is_keyword(keyword, draft)
                || keyword.starts_with("x-")
                || KNOWN_EXTENSIONS.contains(&keyword.as_str())
                || ANNOTATIONS.contains(&keyword.as_str())
            {
                continue;
            }
            let at = pointer::push(&sub.pointer, keyword);
            if let Some((first, last)) = drafts_of(keyword) {
                // `$defs` and `definitions` only hold schemas for `$ref`: any draft may use them.
                if keyword == "$defs" {
                    continue;
                }
                let mut help = match instead(keyword, draft) {
                    Some(how) => format!("in {}, {how}; or declare ", draft.name()),
                    None => "declare ".to_owned(),
                };
                let home = if last < draft { last } else { first };
                help.push_str(&format!("\"$schema\": \"{}\"", home.uri()));
                if !declared {
                    help.push_str(&format!(" in the file, or {choose_default}"));
                }
                let diagnostic = document.diagnostic_at_key(
                        Diagnostic::new(
                            Rule::DraftKeyword,
                            format!(
                                "`{keyword}` is a keyword of {}, not of {}: this file is read as {} ({why}), whose validators ignore it",
                                span(first, last),
                                draft.name(),
                                draft.name()
                            ),
                        )
                        .with_label(format!("not a {} keyword", draft.name()))
                        .with_help(help),
                        &at,
                    );
                // A resource id of another draft's spelling only matters to a `$ref` that
                // names it (which then does not resolve): a warning, as old files often keep one.
                found.push(if matches!(keyword.as_str(), "id" | "$id") {
                    diagnostic.into_warning()
                } else {
                    diagnostic
                });
                continue;
            }
            // `$defs` holds schemas in any draft, so it is a fair suggestion in every one.
            let candidates = KEYWORDS
                .iter()
                .filter(|(name, first, last)| {
                    (*first <= draft && draft <= *last) || *name == "$defs"
                })
                .map(|(name, _, _)| *name);
            let lower = keyword.to_ascii_lowercase();
            let same_but_case = KEYWORDS
                .iter()
                .map(|(name, _, _)| *name)
                .find(|name| name.to_ascii_lowercase() == lower && is_keyword(name, draft));
            let meant = same_but_case.or_else(|| closest(keyword, candidates));
            // Not a typo: the key is the keyword with a tool's prefix or suffix
            // (`tsAdditionalProperties`).
            let affixed = |meant: &str| {
                let (key, meant) = (keyword.to_ascii_lowercase(), meant.to_ascii_lowercase());
                key.len() > meant.len() && (key.ends_with(&meant) || key.starts_with(&meant))
            };
            if let Some(meant) = meant.filter(|m| !affixed(m)) {
                found.push(document.diagnostic_at_key(
                    Diagnostic::new(
                        Rule::UnknownKeyword,
                        format!("`{keyword}` is not a JSON Schema keyword, so validators ignore it: did you mean `{meant}`?"),
                    )
                    .with_label("unknown keyword")
                    .with_help(format!("rename it to `{meant}`; name your own annotations `x-…`")),
                    &at,
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::document::Document;
    use std::path::Path;

    fn check_text(text: &str, draft: Draft, declared: bool) -> Vec<Diagnostic> {
        let document =
            Document::parse(Path::new("/a.json"), Path::new("a.json"), text.as_bytes()).unwrap();
        check(
            &document,
            draft,
            declared,
            "set the project's default draft",
        )
    }

    #[test]
    fn a_misspelt_keyword_gets_a_did_you_mean() {
        let found = check_text(
            r#"{"type": "object", "requried": ["a"], "properties": {"a": {"additionalproperties": false}}}"#,
            Draft::Draft202012,
            true,
        );
        let messages: Vec<_> = found.iter().map(|d| (d.code, d.message.as_str())).collect();
        assert_eq!(found.len(), 2, "{messages:?}");
        assert_eq!(found[0].code, "unknown-keyword");
        assert!(found[0].message.contains("did you mean `required`"));
        assert_eq!(found[0].pointer.as_deref(), Some("/requried"));
        assert!(
            found[1]
                .message
                .contains("did you mean `additionalProperties`")
        );
    }

    #[test]
    fn a_keyword_of_another_draft_is_an_error_naming_both_drafts() {
        let found = check_text(
            r#"{"type": "array", "items": {}, "additionalItems": false}"#,
            Draft::Draft202012,
            false,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "draft-keyword");
        assert!(found[0].is_error());
        assert!(
            found[0].message.contains("draft-04 to 2019-09"),
            "{}",
            found[0].message
        );
        assert!(found[0].message.contains("no `$schema`"));
        let help = found[0].help.as_deref().unwrap();
        assert!(help.contains("prefixItems"), "{help}");
        assert!(help.contains("project's default draft"), "{help}");
        let found = check_text(r#"{"prefixItems": [{}], "id": "x"}"#, Draft::Draft7, true);
        let codes: Vec<_> = found.iter().map(|d| (d.code, d.is_error())).collect();
        // `id` (draft-04's `$id`) only warns: old files often keep one.
        assert_eq!(codes, [("draft-keyword", true), ("draft-keyword", false)]);
    }

    #[test]
    fn keywords_of_the_draft_extensions_and_property_names_pass() {
        let found = check_text(
            r#"{"$schema": "http://json-schema.org/draft-04/schema#", "id": "x", "type": "object",
                "properties": {"requried": {"type": "string"}}, "x-eventsmith": {}, "nullable": true,
                "definitions": {"a": {"exclusiveMinimum": true, "minimum": 1}}}"#,
            Draft::Draft4,
            true,
        );
        assert!(found.is_empty(), "{found:?}");
        let found = check_text(r#"{"madeUpWord": 1}"#, Draft::Draft202012, true);
        assert!(found.is_empty(), "{found:?}");
        // A tool's own keyword beside the one it resembles, or prefixed, is no typo.
        let found = check_text(
            r#"{"type": "object", "additionalProperties": false, "tsAdditionalProperties": false,
                "properties": {"a": {"type": "object", "tsAdditionalProperties": false}}}"#,
            Draft::Draft7,
            true,
        );
        assert!(found.is_empty(), "{found:?}");
        let found = check_text(r#"{"$def": {}}"#, Draft::Draft7, true);
        assert!(found[0].message.contains("`$defs`"), "{found:?}");
    }
}
