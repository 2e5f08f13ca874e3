//! The one diagnostic type: every finding, from a JSON syntax error to a broken rule, is a
//! [`Diagnostic`] with a rule code, a file, a source span, a message, a label and a help text.

use serde::Serialize;
use std::path::PathBuf;

/// How serious a finding is. Errors make a run fail (exit 1); warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The project is invalid.
    Error,
    /// Worth fixing, but the project still loads.
    Warning,
    /// Information, e.g. a compatible schema change.
    Note,
}

/// A region of a source file: byte offsets plus 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
    /// Line of `start`, from 1.
    pub line: u32,
    /// Column of `start` in characters, from 1.
    pub column: u32,
    /// Line of `end`, from 1.
    pub end_line: u32,
    /// Column of `end` in characters, from 1.
    pub end_column: u32,
}

/// One finding about a project, positioned in a file where it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The rule that produced it, e.g. `json-syntax`; documented in docs/schema-format.md.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// The file, as shown to the user.
    pub file: Option<PathBuf>,
    /// Where in the file.
    pub span: Option<Span>,
    /// The JSON pointer of the node concerned, when the finding is about a JSON node.
    pub pointer: Option<String>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// A short note shown under the highlighted source.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error with a rule code and a message, not yet positioned.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A new note with a rule code and a message, not yet positioned.
    pub fn note(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Note, code, message)
    }

    /// A new warning with a rule code and a message, not yet positioned.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            severity,
            file: None,
            span: None,
            pointer: None,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    /// Positions the diagnostic in a file.
    pub fn in_file(mut self, file: impl Into<PathBuf>, span: Option<Span>) -> Self {
        self.file = Some(file.into());
        self.span = span;
        self
    }

    /// Records the JSON pointer of the node concerned.
    pub fn at_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// Adds the label shown under the highlighted source.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds the fix hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` (or just `file`), the prefix editors and CI logs can jump to.
    pub fn location(&self) -> String {
        match (&self.file, &self.span) {
            (Some(file), Some(span)) => format!("{}:{}:{}", file.display(), span.line, span.column),
            (Some(file), None) => file.display().to_string(),
            _ => String::new(),
        }
    }
}

/// Sorts diagnostics by file and position so output is deterministic, and drops exact repeats.
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        (&a.file, a.span.map(|s| s.start), a.code, &a.message).cmp(&(
            &b.file,
            b.span.map(|s| s.start),
            b.code,
            &b.message,
        ))
    });
    diagnostics.dedup();
}
