//! `#[derive(eventsmith::Event)]`'s engine half: the macro reads a struct's serde shape with syn
//! and asks here whether it matches its schema file, and which event type and version it is.

use crate::codegen::shape;
pub use crate::codegen::shape::{Mismatch, RustField, RustKind};
use crate::diagnostic::Failure;
use crate::io::fs::RealFs;
use crate::project::loader::load_file;
use crate::report;
use crate::schema::draft::Draft;
use crate::schema::store::NodeRef;
use std::path::Path;

/// Which event a struct is: from the attribute, else from the schema file's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// The schema version.
    pub version: u32,
}

/// Why a struct is not the event its attribute names.
#[derive(Debug)]
pub enum NotTheEvent {
    /// The schema file cannot be used, or the event cannot be named: said at the attribute.
    Schema(Failure),
    /// Fields that do not match the schema, each said at its field.
    Fields(Vec<Mismatch>),
}

/// Checks `fields` (a struct's serde shape) against the schema at `path`. `event_type` and
/// `version` come from the attribute when given, else from a path of the form
/// `…/events/<aggregate>/<name>.v<N>.json`.
pub fn check(
    path: &Path,
    event_type: Option<String>,
    version: Option<u32>,
    fields: &[RustField],
) -> Result<Identity, NotTheEvent> {
    if !path.is_file() {
        return Err(NotTheEvent::Schema(Failure::new(format!(
            "no schema file at {}: the path is relative to the crate's Cargo.toml",
            path.display()
        ))));
    }
    let loaded = load_file(&RealFs, path, None, Draft::Draft202012);
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(report::one_line)
        .collect();
    let Some(doc) = loaded.doc.filter(|_| errors.is_empty()) else {
        return Err(NotTheEvent::Schema(Failure::new(format!(
            "cannot read the schema {}:\n{}",
            path.display(),
            errors.join("\n")
        ))));
    };
    let identity = match (event_type, version, shape::event_of_path(path)) {
        (Some(event_type), Some(version), _) => Identity {
            event_type,
            version,
        },
        (event_type, version, Some((path_type, path_version))) => Identity {
            event_type: event_type.unwrap_or(path_type),
            version: version.unwrap_or(path_version),
        },
        _ => {
            return Err(NotTheEvent::Schema(Failure::new(
                "the path is not `…/events/<aggregate>/<name>.v<N>.json`: add `event_type = \"…\"` and `version = N`",
            )));
        }
    };
    let root = NodeRef {
        doc,
        pointer: String::new(),
    };
    let mismatches = shape::check(&loaded.store, &root, fields);
    if mismatches.is_empty() {
        Ok(identity)
    } else {
        Err(NotTheEvent::Fields(mismatches))
    }
}
