//! Windows group and aggregate the events they read by fields of those events: a new version of
//! such an event that drops a field a window reads, or gives it another type, breaks the window
//! (its events no longer have the key, the value or the time it reads, or have them as
//! something else).

use super::Checker;
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::model::{Event, Window};
use crate::project::rules::windows::fields::{Field, Shape, lookup};
use crate::project::window::WindowAnnotations;
use std::collections::BTreeMap;

/// What a window reads of a field: its use, as messages name it.
struct Read {
    path: String,
    uses: Vec<String>,
    /// The time, whose `format` matters too.
    is_time: bool,
}

/// The event properties a window reads (not the envelope's), each with what it is read for.
fn fields_read(annotations: &WindowAnnotations) -> Vec<Read> {
    let mut read: BTreeMap<String, Read> = BTreeMap::new();
    let mut add = |path: &str, usage: String, is_time: bool| {
        if path.starts_with('$') {
            return;
        }
        let entry = read.entry(path.to_owned()).or_insert_with(|| Read {
            path: path.to_owned(),
            uses: Vec::new(),
            is_time: false,
        });
        entry.uses.push(usage);
        entry.is_time |= is_time;
    };
    for key in &annotations.key {
        add(key, "as its key".to_owned(), false);
    }
    for (name, aggregate) in &annotations.aggregates {
        if let Some(field) = &aggregate.field {
            add(field, format!("for aggregate `{name}`"), false);
        }
    }
    if !annotations.time.is_recorded() {
        add(&annotations.time.from, "as its time".to_owned(), true);
    }
    read.into_values().collect()
}

/// What `check` compares of a field: its types, and the format of a time.
fn compared(shape: Shape, is_time: bool) -> Shape {
    Shape {
        format: shape.format.filter(|_| is_time),
        ..shape
    }
}

fn describe(shape: &Shape) -> String {
    match &shape.format {
        Some(format) => format!("{} of format `{format}`", shape.describe()),
        None => shape.describe(),
    }
}

impl Checker<'_> {
    /// Every version the base does not have, of every event a window reads, keeps each field
    /// the window reads with what the base's latest version says it is.
    pub(super) fn window_fields(&mut self) {
        for window in self.head.windows.values() {
            let read = fields_read(&window.annotations);
            for event_type in &window.annotations.reads {
                let (Some(current), Some(released)) = (
                    self.head.events.get(event_type),
                    self.base.events.get(event_type),
                ) else {
                    continue;
                };
                for field in &read {
                    self.window_field_kept(window, event_type, field, current, released);
                }
            }
        }
    }

    fn window_field_kept(
        &mut self,
        window: &Window,
        event_type: &str,
        read: &Read,
        current: &Event,
        released: &Event,
    ) {
        let latest = released.latest();
        let wanted = match lookup(self.base, latest.schema, &read.path) {
            Field::Declared { shape, .. } => compared(shape, read.is_time),
            _ => return, // the window could not have read it at the base: `validate` says so
        };
        let path = &read.path;
        for version in current
            .versions
            .iter()
            .filter(|v| v.version > latest.version)
        {
            if self.is_broken(version.schema) {
                continue;
            }
            let (what, at) = match lookup(self.head, version.schema, path) {
                Field::Missing { .. } | Field::NotObject { .. } => {
                    (format!("drops `{path}`"), String::new())
                }
                Field::Declared { node, shape, .. } => {
                    let shape = compared(shape, read.is_time);
                    if shape == wanted {
                        continue;
                    }
                    // The property itself when this file declares it, else the file.
                    let at = if node.doc == version.schema {
                        node.pointer
                    } else {
                        String::new()
                    };
                    let what = format!(
                        "turns `{path}` from {} into {}",
                        describe(&wanted),
                        describe(&shape)
                    );
                    (what, at)
                }
                Field::Unknown => continue, // it may still be there
            };
            let document = self.head.store.document(version.schema);
            self.diagnostics.push(document.diagnostic_at(
                Diagnostic::new(
                    Rule::WindowFieldBroken,
                    format!(
                        "`{event_type}` v{} {what}, which window `{}` reads {} (v{} has it as {})",
                        version.version,
                        window.name,
                        read.uses.join(" and "),
                        latest.version,
                        describe(&wanted)
                    ),
                )
                .with_label("breaks a window that reads it")
                .with_help(format!(
                    "keep `{path}` as it is in v{}, or make window `{}` read another field of every version in windows/{}.json",
                    version.version, window.name, window.name
                )),
                &at,
            ));
        }
    }
}
