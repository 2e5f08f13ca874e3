//! Compatibility: a structural diff of two schemas into typed changes, each with a verdict for
//! backward and forward compatibility, and the levels (Confluent Schema Registry's meanings) that
//! judge a set of changes.

pub mod check;
mod diff;
pub mod files;
pub mod kind;

pub use diff::Change;
pub use kind::ChangeKind;

use crate::diagnostic::{Diagnostic, Severity};
use crate::project::config::Level;
use crate::schema::store::{NodeRef, Store};
use crate::schema::view::View;

/// Every change from the schema at `old_root` (in `old`) to the one at `new_root` (in `new`), in
/// the order the walk met them.
pub fn diff(old: &Store, old_root: &NodeRef, new: &Store, new_root: &NodeRef) -> Vec<Change> {
    let mut differ = diff::Differ::new(old, new);
    differ.compare(&View::resolve(old, old_root), &View::resolve(new, new_root));
    // A definition reached through several references reports its changes once.
    let mut seen = std::collections::HashSet::new();
    differ
        .changes
        .into_iter()
        .filter(|c| seen.insert((c.kind, c.old.clone(), c.new.clone(), c.detail.clone())))
        .collect()
}

/// Loads two schema files from `fs` (a file without `$schema` read as `draft`) and diffs them;
/// the load errors when either does not load.
pub fn diff_files_in(
    fs: &dyn crate::io::fs::FileSystem,
    old: &std::path::Path,
    new: &std::path::Path,
    draft: crate::schema::draft::Draft,
) -> Result<Vec<Change>, Vec<Diagnostic>> {
    let a = crate::project::loader::load_file(fs, old, None, draft);
    let b = crate::project::loader::load_file(fs, new, None, draft);
    match (a.doc, b.doc) {
        (Some(da), Some(db)) if !a.has_errors() && !b.has_errors() => {
            let root = |doc| NodeRef {
                doc,
                pointer: String::new(),
            };
            Ok(diff(&a.store, &root(da), &b.store, &root(db)))
        }
        _ => Err(a.diagnostics.into_iter().chain(b.diagnostics).collect()),
    }
}

/// Whether a set of changes keeps each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Every document valid under the old schema is valid under the new one.
    pub backward: bool,
    /// Every document valid under the new schema is valid under the old one.
    pub forward: bool,
}

impl Verdict {
    /// The verdict of a set of changes.
    pub fn of(changes: &[Change]) -> Verdict {
        Verdict {
            backward: changes.iter().all(|c| c.backward),
            forward: changes.iter().all(|c| c.forward),
        }
    }

    /// Whether it passes `level` for one pair of schemas (transitive levels are applied by the
    /// caller to every earlier schema).
    pub fn passes(self, level: Level) -> bool {
        match level {
            Level::None => true,
            Level::Backward | Level::BackwardTransitive => self.backward,
            Level::Forward | Level::ForwardTransitive => self.forward,
            Level::Full | Level::FullTransitive => self.backward && self.forward,
        }
    }
}

/// How to fix a breaking change, by what it breaks: a new version with an upcaster helps new
/// readers read old data (backward); it does nothing for old readers of new data (forward).
#[derive(Debug, Clone)]
pub struct Fix {
    /// When the change breaks backward compatibility at the level.
    pub backward: String,
    /// When it breaks only forward compatibility at the level.
    pub forward: String,
}

/// The forward advice every kind of contract shares.
pub const FORWARD_FIX: &str = "readers still on the old schema reject what the new one allows: revert the change, or make it one the old schema accepts (loosen nothing the old readers check), or upgrade every reader before writers and lower the level for this release";

/// A change as a diagnostic at its place in the new schema: an error when it breaks `level`,
/// a note otherwise. `fix` says what to do about a breaking change in this context.
pub fn change_diagnostic(
    change: &Change,
    old: &Store,
    new: &Store,
    level: Level,
    fix: &Fix,
) -> Diagnostic {
    let breaking = breaks(change, level);
    let message = if change.detail.is_empty() {
        change.kind.summary().to_owned()
    } else {
        format!("{}: {}", change.kind.summary(), change.detail)
    };
    let diagnostic = if breaking {
        Diagnostic::change(change.kind, Severity::Error, message)
    } else {
        Diagnostic::change(change.kind, Severity::Note, message)
    };
    let verdicts = match (change.backward, change.forward) {
        (true, true) => "compatible both ways",
        (true, false) => "backward compatible, breaks forward",
        (false, true) => "breaks backward, forward compatible",
        (false, false) => "breaks backward and forward",
    };
    let was = old.document(change.old.doc);
    let span = was.span_of(&change.old.pointer);
    let before = format!("{}:{}:{}", was.display().display(), span.line, span.column);
    let help = if breaking {
        let mut why = Vec::new();
        if !change.backward {
            why.push("a document valid under the old schema can be rejected by the new one, so new readers cannot read data already written");
        }
        if !change.forward {
            why.push("a document valid under the new schema can be rejected by the old one, so readers still on the old schema cannot read new data");
        }
        let backward_breaks = !change.backward
            && !Verdict {
                backward: false,
                forward: true,
            }
            .passes(level);
        let fix = if backward_breaks {
            &fix.backward
        } else {
            &fix.forward
        };
        format!("{}; {fix} (before: {before})", why.join("; and "))
    } else {
        format!("compatible at `{}` (before: {before})", level.name())
    };
    let diagnostic = diagnostic
        .with_label(if breaking {
            format!("{verdicts}: not allowed at `{}`", level.name())
        } else {
            verdicts.to_owned()
        })
        .with_help(help);
    new.document(change.new.doc)
        .diagnostic_at(diagnostic, &change.new.pointer)
}

/// Whether one change breaks `level`.
pub fn breaks(change: &Change, level: Level) -> bool {
    !Verdict {
        backward: change.backward,
        forward: change.forward,
    }
    .passes(level)
}

impl Level {
    /// Every level, in the order they are documented.
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Backward,
        Level::BackwardTransitive,
        Level::Forward,
        Level::ForwardTransitive,
        Level::Full,
        Level::FullTransitive,
    ];

    /// The level with this name (as in eventsmith.toml).
    pub fn from_name(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.name() == name)
    }

    /// The level's name as written in eventsmith.toml and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Backward => "backward",
            Level::BackwardTransitive => "backward-transitive",
            Level::Forward => "forward",
            Level::ForwardTransitive => "forward-transitive",
            Level::Full => "full",
            Level::FullTransitive => "full-transitive",
        }
    }

    /// Whether the level compares against every earlier schema, not just the previous one.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::fs::MemoryFs;
    use serde_json::{Value, json};
    use std::path::Path;

    /// Every change from `old` to `new`, both loaded from memory.
    fn changes_of(old: &Value, new: &Value) -> Vec<Change> {
        let mut fs = MemoryFs::new();
        fs.insert("/a/old.json", serde_json::to_vec(old).unwrap());
        fs.insert("/b/new.json", serde_json::to_vec(new).unwrap());
        diff_files_in(
            &fs,
            Path::new("/a/old.json"),
            Path::new("/b/new.json"),
            crate::schema::draft::Draft::Draft202012,
        )
        .unwrap()
    }

    /// (kind id, backward, forward) of every change from `old` to `new`.
    fn changes(old: Value, new: Value) -> Vec<(&'static str, bool, bool)> {
        changes_of(&old, &new)
            .into_iter()
            .map(|c| (c.kind.id(), c.backward, c.forward))
            .collect()
    }

    #[test]
    fn identical_schemas_have_no_changes() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}, "required": ["a"]});
        assert_eq!(changes(schema.clone(), schema), vec![]);
    }

    #[test]
    fn content_models_decide_added_properties() {
        let open = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let mut added = open.clone();
        added["properties"]["b"] = json!({"type": "integer"});
        assert_eq!(
            changes(open.clone(), added.clone()),
            vec![("property-added-to-open-content-model", false, true)]
        );
        let mut closed = open.clone();
        closed["additionalProperties"] = json!(false);
        let mut closed_added = added.clone();
        closed_added["additionalProperties"] = json!(false);
        assert_eq!(
            changes(closed.clone(), closed_added.clone()),
            vec![(
                "optional-property-added-to-closed-content-model",
                true,
                false
            )]
        );
        closed_added["required"] = json!(["b"]);
        assert_eq!(
            changes(closed, closed_added),
            vec![(
                "required-property-added-to-closed-content-model",
                false,
                false
            )]
        );
        let partial = json!({"type": "object", "additionalProperties": {"type": "integer"}});
        let partial_added = json!({"type": "object", "properties": {"b": {"type": "integer", "minimum": 0}}, "additionalProperties": {"type": "integer"}});
        assert_eq!(
            changes(partial, partial_added),
            vec![(
                "property-added-to-partially-open-content-model",
                false,
                true
            )]
        );
    }

    #[test]
    fn types_widen_and_narrow() {
        assert_eq!(
            changes(json!({"type": "integer"}), json!({"type": "number"})),
            vec![("type-extended", true, false)]
        );
        assert_eq!(
            changes(
                json!({"type": ["string", "null"]}),
                json!({"type": "string"})
            ),
            vec![("type-narrowed", false, true)]
        );
        assert_eq!(
            changes(json!({"type": "string"}), json!({"type": "integer"})),
            vec![("type-changed", false, false)]
        );
    }

    #[test]
    fn refs_across_files_and_cycles_are_followed() {
        let tree = json!({"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}, "name": {"type": "string", "maxLength": 10}}}}, "$ref": "#/$defs/node"});
        let mut shorter = tree.clone();
        shorter["$defs"]["node"]["properties"]["name"]["maxLength"] = json!(5);
        assert_eq!(
            changes(tree, shorter),
            vec![("max-length-decreased", false, true)]
        );
    }

    #[test]
    fn alternatives_are_matched() {
        let old = json!({"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]});
        let new = json!({"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}, {"type": "null"}]});
        assert_eq!(
            changes(old, new),
            vec![
                ("minimum-increased", false, true),
                ("alternative-added", true, false)
            ]
        );
        assert_eq!(
            changes(
                json!({"type": "string"}),
                json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
            ),
            // An `anyOf` of plain types is a type list.
            vec![("type-extended", true, false)]
        );
    }

    #[test]
    fn verdicts_through_a_one_of_cover_are_flagged_as_confluent_exceptions() {
        // `{"a": 0}` matches both alternatives of the new `oneOf`, so the removal only passes
        // under Confluent's reading of `oneOf` as `anyOf`.
        let old = json!({"type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 0}},
            "additionalProperties": {"oneOf": [{}, {"type": "integer", "minimum": 0, "maximum": 0}]}});
        let new = json!({"type": "object", "additionalProperties": {"oneOf": [{}, {"type": "integer", "minimum": 0, "maximum": 0}]}});
        let found = changes_of(&old, &new);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].kind,
            ChangeKind::PropertyRemovedFromPartiallyOpenContentModel
        );
        assert!(found[0].backward && found[0].confluent_exception);
    }

    #[test]
    fn not_flips_verdicts() {
        assert_eq!(
            changes(
                json!({"not": {"type": "string", "maxLength": 5}}),
                json!({"not": {"type": "string", "maxLength": 3}})
            ),
            vec![("max-length-decreased", true, false)]
        );
    }
}
