//! `eventsmith diff`: two plain schema files, no project.

use super::{Change, Verdict, change_diagnostic, diff};
use crate::diagnostic::Diagnostic;
use crate::io::fs::FileSystem;
use crate::project::config::Level;
use crate::project::loader::load_file;
use crate::schema::draft::Draft;
use crate::schema::store::{NodeRef, Store};
use crate::text::source::SourceMap;
use std::path::Path;

/// The outcome of comparing two schema files.
#[derive(Debug)]
pub struct FileDiff {
    /// Findings: load errors (the comparison did not run) or one per change.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file read.
    pub sources: SourceMap,
    /// The changes with their verdicts; empty when a file did not load.
    pub changes: Vec<ChangeReport>,
    /// Whether both files loaded.
    pub loaded: bool,
    /// The verdict over all changes.
    pub verdict: Verdict,
}

/// A change with its positions resolved, for the JSON report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangeReport {
    /// The kind id.
    pub kind: &'static str,
    /// The specifics.
    pub detail: String,
    /// Backward verdict.
    pub backward: bool,
    /// Forward verdict.
    pub forward: bool,
    /// Whether it breaks the level asked for.
    pub breaking: bool,
    /// Where in the old schema.
    pub old: Position,
    /// Where in the new schema.
    pub new: Position,
}

impl ChangeReport {
    /// `change` between `old` and `new`, judged at `level`.
    pub(crate) fn of(change: &Change, old: &Store, new: &Store, level: Level) -> Self {
        ChangeReport {
            kind: change.kind.id(),
            detail: change.detail.clone(),
            backward: change.backward,
            forward: change.forward,
            breaking: super::breaks(change, level),
            old: Position::of(old, &change.old),
            new: Position::of(new, &change.new),
        }
    }
}

impl Position {
    /// Where `node` is, as shown.
    pub(crate) fn of(store: &Store, node: &NodeRef) -> Self {
        let document = store.document(node.doc);
        let span = document.span_of(&node.pointer);
        Position {
            file: document.display().display().to_string(),
            pointer: node.pointer.clone(),
            line: span.line,
            column: span.column,
        }
    }
}

/// A file, JSON pointer, line and column.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Position {
    /// The file as shown.
    pub file: String,
    /// The JSON pointer.
    pub pointer: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl FileDiff {
    /// Whether the changes pass `level`.
    pub fn passes(&self, level: Level) -> bool {
        self.verdict.passes(level)
    }
}

/// Compares two schema files at `level`; a file without `$schema` is read as `draft`.
pub fn diff_files(
    fs: &dyn FileSystem,
    old: &Path,
    new: &Path,
    level: Level,
    display_base: Option<&Path>,
    draft: Draft,
) -> FileDiff {
    let a = load_file(fs, old, display_base, draft);
    let b = load_file(fs, new, display_base, draft);
    let mut sources = a.sources.clone();
    sources.extend(&b.sources);
    let mut diagnostics: Vec<Diagnostic> = a
        .diagnostics
        .iter()
        .chain(&b.diagnostics)
        .cloned()
        .collect();
    let loaded = (a.doc, b.doc, a.has_errors() || b.has_errors());
    let (Some(da), Some(db), false) = loaded else {
        let verdict = Verdict {
            backward: false,
            forward: false,
        };
        return FileDiff {
            diagnostics,
            sources,
            changes: Vec::new(),
            loaded: false,
            verdict,
        };
    };
    let root = |doc| NodeRef {
        doc,
        pointer: String::new(),
    };
    let changes: Vec<Change> =
        crate::text::stack::with_large_stack(|| diff(&a.store, &root(da), &b.store, &root(db)))
            .unwrap_or_default();
    let fix = super::Fix {
        backward:
            "make the change compatible, or publish it as a new major version with an upcaster"
                .to_owned(),
        forward: super::FORWARD_FIX.to_owned(),
    };

    let reports = changes
        .iter()
        .map(|c| ChangeReport::of(c, &a.store, &b.store, level))
        .collect();
    diagnostics.extend(
        changes
            .iter()
            .map(|c| change_diagnostic(c, &a.store, &b.store, level, &fix)),
    );
    crate::diagnostic::sort(&mut diagnostics);
    FileDiff {
        diagnostics,
        sources,
        verdict: Verdict::of(&changes),
        changes: reports,
        loaded: true,
    }
}
