//! Validation of schema files against their draft's meta-schema and of `x-eventsmith` against
//! eventsmith's own meta-schema (`schema/meta/x-eventsmith.schema.json`).

use super::KEYWORD;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::schema::draft::Draft;
use crate::text::document::Document;
use crate::text::pointer;
use serde_json::Value;
use std::sync::OnceLock;

/// eventsmith's annotation meta-schema, as published for editors.
pub const ANNOTATIONS_META_SCHEMA: &str = include_str!("../../meta/x-eventsmith.schema.json");

/// Every violation of the draft's meta-schema, positioned in the document.
pub(crate) fn check_draft(document: &Document, draft: Draft) -> Vec<Diagnostic> {
    let validator = match draft {
        Draft::Draft4 => jsonschema::draft4::meta::validator(),
        Draft::Draft6 => jsonschema::draft6::meta::validator(),
        Draft::Draft7 => jsonschema::draft7::meta::validator(),
        Draft::Draft201909 => jsonschema::draft201909::meta::validator(),
        Draft::Draft202012 => jsonschema::draft202012::meta::validator(),
    };
    // Before 2019-09 the meta-schema does not know `$defs`, whose members eventsmith reads as
    // schemas in every draft: validate each of them too.
    let mut roots = vec![(String::new(), document.value())];
    if draft < Draft::Draft201909 {
        roots.extend(
            crate::schema::walk::subschemas(document.value(), draft)
                .into_iter()
                .filter(|sub| {
                    sub.pointer
                        .rsplit_once('/')
                        .is_some_and(|(parent, _)| parent.ends_with("/$defs"))
                })
                .map(|sub| (sub.pointer, sub.value)),
        );
    }
    roots
        .into_iter()
        .flat_map(|(prefix, value)| {
            validator
                .iter_errors(value)
                .map(move |error| (format!("{prefix}{}", error.instance_path().as_str()), error.to_string()))
                .collect::<Vec<_>>()
        })
        .map(|(at, error)| {
            let keyword = at.rsplit('/').next().unwrap_or_default().to_owned();
            let diagnostic = Diagnostic::new(
                Rule::MetaSchema,
                format!("not a valid {} schema: {error}", draft.name()),
            )
            .with_label(format!("invalid under the {} meta-schema", draft.name()))
            .with_help(match document.get(&at) {
                // Draft-04's form in a file read as a later draft.
                Some(serde_json::Value::Bool(_)) if keyword.starts_with("exclusiveM") => format!(
                    "a boolean `{keyword}` is draft-04's form, read here as {}: declare \"$schema\": \"{}\" (or, for `eventsmith diff`, pass --draft draft-04), or write the bound itself: `\"{keyword}\": <number>`",
                    draft.name(),
                    Draft::Draft4.uri()
                ),
                _ => keyword_help(&keyword, draft),
            });
            document.diagnostic_at(diagnostic, &at)
        })
        .collect()
}

fn keyword_help(keyword: &str, draft: Draft) -> String {
    match keyword {
        "type" => "`type` is one of array, boolean, integer, null, number, object, string, or a list of them".to_owned(),
        "required" => "`required` is a list of property names".to_owned(),
        "properties" | "$defs" | "definitions" | "patternProperties" => {
            format!("`{keyword}` maps names to schemas (objects or booleans)")
        }
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
            format!("`{keyword}` takes a number")
        }
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties" => {
            format!("`{keyword}` takes a non-negative integer")
        }
        _ => format!(
            "see the JSON Schema {} specification for this keyword",
            draft.name()
        ),
    }
}

struct AnnotationValidators {
    event: jsonschema::Validator,
    command: jsonschema::Validator,
    aggregate: jsonschema::Validator,
    projection: jsonschema::Validator,
    saga: jsonschema::Validator,
    window: jsonschema::Validator,
}

fn annotation_validators() -> &'static AnnotationValidators {
    static VALIDATORS: OnceLock<AnnotationValidators> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let meta: Value = serde_json::from_str(ANNOTATIONS_META_SCHEMA)
            .expect("schema/meta/x-eventsmith.schema.json is valid JSON");
        let build = |kind: &str| {
            let mut schema = meta.clone();
            schema["$ref"] = Value::String(format!("#/$defs/{kind}"));
            jsonschema::draft202012::new(&schema)
                .expect("schema/meta/x-eventsmith.schema.json is a valid schema")
        };
        AnnotationValidators {
            event: build("event"),
            command: build("command"),
            aggregate: build("aggregate"),
            projection: build("projection"),
            saga: build("saga"),
            window: build("window"),
        }
    })
}

/// Checks the `x-eventsmith` value of a file of the given kind (`event`, `command`, ...).
pub(crate) fn check_annotations(document: &Document, kind: &str) -> Vec<Diagnostic> {
    let validators = annotation_validators();
    let validator = match kind {
        "event" => &validators.event,
        "command" => &validators.command,
        "aggregate" => &validators.aggregate,
        "saga" => &validators.saga,
        "window" => &validators.window,
        _ => &validators.projection,
    };
    let root = pointer::push("", KEYWORD);
    let Some(value) = document.get(&root) else {
        let needed = match kind {
            "command" => Some(
                "commands declare the events they emit: add \"x-eventsmith\": {\"emits\": [\"<aggregate>.<event>\"]}",
            ),
            "projection" => Some(
                "projections declare their key and events: add \"x-eventsmith\": {\"key\": \"<row property>\", \"subscribes\": [\"<aggregate>.<event>\"]}",
            ),
            "saga" => Some(
                "sagas declare their events and states: add \"x-eventsmith\": {\"starts\": [...], \"correlation\": {...}, \"initial\": \"...\", \"states\": {...}} (see docs/schema-format.md#saga-annotations)",
            ),
            "window" => Some(
                "windows declare what they read and how they aggregate: add \"x-eventsmith\": {\"reads\": [...], \"window\": {\"kind\": \"tumbling\", \"size\": \"PT1H\"}, \"aggregates\": {...}} (see docs/schema-format.md#window-annotations)",
            ),
            _ => None,
        };
        return needed
            .map(|help| {
                document.diagnostic_at(
                    Diagnostic::new(
                        Rule::Annotation,
                        format!("{} {kind} needs `x-eventsmith` annotations", article(kind)),
                    )
                    .with_label("missing `x-eventsmith`")
                    .with_help(help),
                    "",
                )
            })
            .into_iter()
            .collect();
    };
    validator
        .iter_errors(value)
        .map(|error| {
            let at = format!("{root}{}", error.instance_path().as_str());
            document.diagnostic_at(
                Diagnostic::new(Rule::Annotation, format!("invalid `x-eventsmith` for {} {kind}: {error}", article(kind)))
                    .with_label("does not match eventsmith's annotation schema")
                    .with_help(format!(
                        "see docs/schema-format.md#annotations and schema/meta/x-eventsmith.schema.json#/$defs/{kind}"
                    )),
                &at,
            )
        })
        .collect()
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
