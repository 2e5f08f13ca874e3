//! The window rules: the events read exist; keys, aggregate fields and the time are fields of
//! every version of every event read, of types that fit their use; each aggregate has a property
//! of a fitting type in the file's schema and a name that makes a Rust field; durations parse.

mod aggregates;
mod durations;
pub(crate) mod fields;
mod reads;
#[cfg(test)]
mod tests;

use crate::diagnostic::{Diagnostic, Rule};
use crate::project::annotations::KEYWORD;
use crate::project::model::{Event, Project, Window};
use crate::text::pointer;
use crate::text::similar::closest;

/// The read-model tables a window keeps besides its projections' and sagas': `<name>_<suffix>`.
const TABLES: &[(&str, &str)] = &[
    ("windows", "windows"),
    ("late", "late events"),
    ("outbox", "closing events to send"),
];

/// Checks every window of the project.
pub(super) fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for window in project.windows.values() {
        Checker {
            project,
            window,
            diagnostics: &mut *diagnostics,
        }
        .run();
    }
}

struct Checker<'a> {
    project: &'a Project,
    window: &'a Window,
    diagnostics: &'a mut Vec<Diagnostic>,
}

/// The pointer of `parts` under `/x-eventsmith`.
fn at(parts: &[&str]) -> String {
    parts.iter().fold(pointer::push("", KEYWORD), |p, part| {
        pointer::push(&p, part)
    })
}

impl<'a> Checker<'a> {
    /// Positions `diagnostic` at the node of `at` in the window file.
    fn push(&mut self, diagnostic: Diagnostic, at: &str) {
        let document = self.project.store.document(self.window.schema);
        self.diagnostics
            .push(document.diagnostic_at(diagnostic, at));
    }

    /// Positions `diagnostic` at the key of the member `at` in the window file.
    fn push_at_key(&mut self, diagnostic: Diagnostic, at: &str) {
        let document = self.project.store.document(self.window.schema);
        self.diagnostics
            .push(document.diagnostic_at_key(diagnostic, at));
    }

    fn run(&mut self) {
        self.check_tables();
        let annotations = &self.window.annotations;
        if annotations.reads.is_empty() || annotations.aggregates.is_empty() {
            return; // the annotation error is reported already
        }
        self.check_events();
        self.check_keys();
        self.check_time();
        let (field_types, sometimes_absent) = self.check_aggregate_fields();
        self.check_aggregates(&field_types, &sometimes_absent);
        self.check_durations();
    }

    /// A projection must not take the name of a table the window keeps.
    fn check_tables(&mut self) {
        for (suffix, holds) in TABLES {
            let taken = format!("{}_{suffix}", self.window.name);
            let Some(projection) = self.project.projections.get(&taken) else {
                continue;
            };
            let document = self.project.store.document(projection.schema);
            self.diagnostics.push(document.diagnostic_at(
                Diagnostic::new(
                    Rule::NameCollision,
                    format!(
                        "projection `{taken}` has the name of window `{}`'s table of {holds}",
                        self.window.name
                    ),
                )
                .with_label("a window's table is called so")
                .with_help(
                    "both keep their tables in one database: rename the projection or the window",
                ),
                "",
            ));
        }
    }

    fn check_events(&mut self) {
        let known = || self.project.events.keys().map(String::as_str);
        let mut unknown = Vec::new();
        for (index, event) in self.window.annotations.reads.iter().enumerate() {
            if !self.project.events.contains_key(event) {
                let help = match closest(event, known()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "name an event type `<aggregate>.<event>` of schema/events/".to_owned(),
                };
                unknown.push((event, index, help));
            }
        }
        for (event, index, help) in unknown {
            self.push(
                Diagnostic::new(
                    Rule::WindowEvent,
                    format!(
                        "window `{}` reads event `{event}`, which is not defined",
                        self.window.name
                    ),
                )
                .with_label("no such event")
                .with_help(help),
                &at(&["reads", &index.to_string()]),
            );
        }
    }

    /// The events read that are defined, by type (the others are reported by `check_events`).
    fn events(&self) -> Vec<(&'a str, &'a Event)> {
        let project = self.project;
        self.window
            .annotations
            .reads
            .iter()
            .filter_map(|event| project.events.get_key_value(event))
            .map(|(name, event)| (name.as_str(), event))
            .collect()
    }
}
