//! The descriptions `eventsmith new` writes for the author to replace, and the warning when one
//! is left: it would be published as is in the catalog and the AsyncAPI document.

use crate::diagnostic::{Diagnostic, Rule};
use crate::project::annotations::KEYWORD;
use crate::project::model::Project;
use crate::schema::store::DocId;
use crate::text::pointer;
use serde_json::Value;

/// An aggregate's.
pub(crate) const AGGREGATE: &str = "Describe what this aggregate is and which rules protect it.";

/// An event's.
pub(crate) const EVENT: &str = "Describe the fact this event records, in the past tense.";

/// A command's.
pub(crate) const COMMAND: &str = "Describe what this command asks for and when it is rejected.";

/// A projection's.
pub(crate) const PROJECTION: &str = "Describe what one row of this read model shows.";

/// An upcast block's, from version `from` to `from + 1`.
pub(crate) fn upcast(from: u32) -> String {
    format!("Describe what changed from v{from} to v{}.", from + 1)
}

/// Whether `text` is one of the placeholders (for any name or version).
fn is_placeholder(text: &str) -> bool {
    let fixed = [AGGREGATE, EVENT, COMMAND, PROJECTION];
    fixed.contains(&text)
        // Earlier versions of `new` named the aggregate.
        || (text.starts_with("Describe what a ")
            && text.ends_with(" is and which rules protect it."))
        || (text.starts_with("Describe what changed from v") && text.ends_with('.'))
}

/// A warning for every placeholder description left in the project's own files (the root
/// `description` and the upcast block's).
pub(crate) fn check(project: &Project) -> Vec<Diagnostic> {
    let mut docs: Vec<DocId> = Vec::new();
    docs.extend(project.aggregates.values().map(|a| a.schema));
    docs.extend(project.commands.values().map(|c| c.schema));
    docs.extend(project.projections.values().map(|p| p.schema));
    docs.extend(
        project
            .events
            .values()
            .flat_map(|e| e.versions.iter().map(|v| v.schema)),
    );
    docs.sort();
    let upcast = pointer::push(
        &pointer::push(&pointer::push("", KEYWORD), "upcast"),
        "description",
    );
    let mut found = Vec::new();
    for doc in docs {
        let document = project.store.document(doc);
        for at in ["/description", upcast.as_str()] {
            if let Some(Value::String(text)) = document.get(at) {
                if is_placeholder(text) {
                    found.push(document.diagnostic_at(
                        Diagnostic::new(
                            Rule::PlaceholderDescription,
                            "this description is the placeholder `eventsmith new` wrote",
                        )
                        .with_label("left to fill in")
                        .with_help("describe it in your own words: the catalog and the AsyncAPI document publish it"),
                        at,
                    ));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_new_writes_is_recognised_and_real_text_is_not() {
        for text in [
            AGGREGATE.to_owned(),
            "Describe what a order is and which rules protect it.".to_owned(),
            EVENT.to_owned(),
            COMMAND.to_owned(),
            PROJECTION.to_owned(),
            upcast(3),
        ] {
            assert!(is_placeholder(&text), "{text}");
        }
        assert!(!is_placeholder("An order was placed."));
        assert!(!is_placeholder("Describe the order."));
    }
}
