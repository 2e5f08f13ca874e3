//! `examples` must validate against the schema they sit in: every `examples` keyword of every
//! subschema is checked, with `$ref`s (also across files) resolved from the loaded documents.

use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::schema::store::{DocId, Store};
use crate::schema::walk;
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

/// Builds validators for any node of a store. A retriever serves the documents, not a shared
/// registry: each validator then indexes only the documents it reaches, which keeps checking
/// linear in the project's size.
pub(crate) struct Validators {
    retriever: StoreRetriever,
}

impl Validators {
    /// Validators over the given documents (whose references all resolve among them).
    pub fn new(store: &Store, docs: &std::collections::HashSet<DocId>) -> Self {
        Self {
            retriever: StoreRetriever {
                documents: Arc::new(
                    store
                        .resources_of(docs)
                        .map(|(uri, value)| (uri, value.clone()))
                        .collect(),
                ),
            },
        }
    }

    /// A validator for the schema at `pointer` of `doc`, formats asserted.
    pub fn build(
        &self,
        store: &Store,
        doc: DocId,
        pointer: &str,
    ) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
        let target = format!(
            "{}#{}",
            store.uri(doc),
            utf8_percent_encode(pointer, FRAGMENT)
        );
        let draft = store
            .draft(doc)
            .unwrap_or(crate::schema::draft::Draft::Draft202012);
        jsonschema::options()
            .with_draft(draft.engine())
            .with_retriever(self.retriever.clone())
            .should_validate_formats(true)
            .build(&json!({ "$ref": target }))
    }
}

/// Checks the examples of `docs` (documents known to be valid schemas).
pub(crate) fn check(store: &Store, docs: &[DocId]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let resolvable = store.fully_resolvable();
    let docs: Vec<DocId> = docs
        .iter()
        .copied()
        .filter(|d| resolvable.contains(d))
        .collect();
    let validators = Validators::new(store, &resolvable);
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
            let examples_at = format!("{}/examples", sub.pointer);
            let validator = validators.build(store, doc, &sub.pointer);
            let validator = match validator {
                Ok(validator) => validator,
                Err(err) => {
                    diagnostics.push(document.diagnostic_at(
                        Diagnostic::new(
                            Rule::ExampleCheck,
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
                        Diagnostic::new(
                            Rule::InvalidExample,
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
