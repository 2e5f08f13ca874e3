//! `examples` must validate against the schema they sit in: every `examples` keyword of every
//! subschema is checked, with `$ref`s (also across files) resolved from the loaded documents.

use crate::diagnostic::Diagnostic;
use crate::store::{DocId, Store};
use crate::walk;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Serves the project's documents to the validator by URI.
#[derive(Clone)]
struct StoreRetriever {
    documents: Arc<HashMap<String, Value>>,
}

impl jsonschema::Retrieve for StoreRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.documents
            .get(uri.as_str())
            .cloned()
            .ok_or_else(|| format!("{uri} is not a loaded schema").into())
    }
}

/// Characters a JSON pointer may hold that a URI fragment may not.
const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Checks the examples of `docs` (documents known to be valid schemas).
pub(crate) fn check(store: &Store, docs: &[DocId]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let resolvable = store.fully_resolvable();
    let docs: Vec<DocId> = docs
        .iter()
        .copied()
        .filter(|d| resolvable.contains(d))
        .collect();
    // A retriever, not a shared registry: each validator then indexes only the documents it
    // reaches, which keeps checking linear in the project's size.
    let retriever = StoreRetriever {
        documents: Arc::new(
            store
                .resources_of(&resolvable)
                .map(|(uri, value)| (uri, value.clone()))
                .collect(),
        ),
    };
    for doc in docs {
        let Some(draft) = store.draft(doc) else {
            continue;
        };
        let document = store.document(doc);
        for sub in walk::subschemas(document.value(), draft) {
            let Some(Value::Array(examples)) = sub.value.get("examples") else {
                continue;
            };
            if examples.is_empty() {
                continue;
            }
            let target = format!(
                "{}#{}",
                store.uri(doc),
                utf8_percent_encode(&sub.pointer, FRAGMENT)
            );
            let examples_at = format!("{}/examples", sub.pointer);
            let validator = jsonschema::options()
                .with_draft(draft.engine())
                .with_retriever(retriever.clone())
                .should_validate_formats(true)
                .build(&json!({ "$ref": target }));
            let validator = match validator {
                Ok(validator) => validator,
                Err(err) => {
                    diagnostics.push(document.diagnostic_at(
                        Diagnostic::warning(
                            "example-check",
                            format!("examples were not checked: the schema did not compile: {err}"),
                        ),
                        &examples_at,
                    ));
                    continue;
                }
            };
            for (index, example) in examples.iter().enumerate() {
                for error in validator.iter_errors(example) {
                    let at = format!("{examples_at}/{index}{}", error.instance_path().as_str());
                    diagnostics.push(document.diagnostic_at(
                        Diagnostic::error(
                            "invalid-example",
                            format!("example {} does not validate against its schema: {error}", index + 1),
                        )
                        .with_label("this value breaks the schema")
                        .with_help("fix the example or the schema; examples feed generated tests and the catalog"),
                        &at,
                    ));
                }
            }
        }
    }
    diagnostics
}
