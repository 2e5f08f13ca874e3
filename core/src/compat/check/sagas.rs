//! Sagas find their instances by a property of the events they read: a new version of such an
//! event that drops the property, or gives it another type, breaks the saga (its instances stop
//! hearing of those events, or hear of them under another id).

use super::Checker;
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::model::{Event, Project};
use crate::project::saga::STREAM;
use crate::schema::store::NodeRef;
use crate::text::pointer;
use serde_json::Value;
use std::collections::BTreeSet;

/// The `type` of top-level property `property` of an event version's schema: `Some(None)` when
/// it is there untyped, `None` when it is not there.
fn property_type(
    project: &Project,
    doc: crate::schema::store::DocId,
    property: &str,
) -> Option<Option<BTreeSet<String>>> {
    let root = project.store.follow(&project.root_of(doc))?;
    let schema = project.value(&root)?;
    schema.get("properties")?.get(property)?;
    let node = NodeRef {
        doc: root.doc,
        pointer: pointer::push(&pointer::push(&root.pointer, "properties"), property),
    };
    let node = project.store.follow(&node)?;
    Some(match project.value(&node).and_then(|s| s.get("type")) {
        Some(Value::String(one)) => Some(BTreeSet::from([one.clone()])),
        Some(Value::Array(many)) => Some(
            many.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    })
}

fn describe(types: &Option<BTreeSet<String>>) -> String {
    match types {
        Some(types) => types.iter().cloned().collect::<Vec<_>>().join(" or "),
        None => "untyped".to_owned(),
    }
}

impl Checker<'_> {
    /// Every version the base does not have, of every event a saga correlates by a property,
    /// keeps that property with the type the base's latest version gives it.
    pub(super) fn saga_correlations(&mut self) {
        for saga in self.head.sagas.values() {
            for (event_type, property) in &saga.annotations.correlation {
                if property == STREAM {
                    continue;
                }
                let (Some(current), Some(released)) = (
                    self.head.events.get(event_type),
                    self.base.events.get(event_type),
                ) else {
                    continue;
                };
                self.correlation_kept(&saga.name, event_type, property, current, released);
            }
        }
    }

    fn correlation_kept(
        &mut self,
        saga: &str,
        event_type: &str,
        property: &str,
        current: &Event,
        released: &Event,
    ) {
        let latest = released.latest();
        let Some(wanted) = property_type(self.base, latest.schema, property) else {
            return; // the base's saga could not have read it either: `validate` says so
        };
        for version in current
            .versions
            .iter()
            .filter(|v| v.version > latest.version)
        {
            if self.is_broken(version.schema) {
                continue;
            }
            let found = property_type(self.head, version.schema, property);
            let (what, at) = match &found {
                None => (format!("drops `{property}`"), String::new()),
                Some(types) if *types != wanted => (
                    format!(
                        "turns `{property}` from {} into {}",
                        describe(&wanted),
                        describe(types)
                    ),
                    pointer::push(&pointer::push("", "properties"), property),
                ),
                Some(_) => continue,
            };
            let document = self.head.store.document(version.schema);
            self.diagnostics.push(document.diagnostic_at(
                Diagnostic::new(
                    Rule::CorrelationBroken,
                    format!(
                        "`{event_type}` v{} {what}, by which saga `{saga}` finds its instances (v{} has it as {})",
                        version.version,
                        latest.version,
                        describe(&wanted)
                    ),
                )
                .with_label("breaks the saga's correlation")
                .with_help(format!(
                    "keep `{property}` with its type in v{}, or correlate `{saga}` by another property of every version (or `$stream`) in sagas/{saga}.json",
                    version.version
                )),
                &at,
            ));
        }
    }
}
