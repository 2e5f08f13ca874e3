//! The one diagnostic type: every finding, from a JSON syntax error to a broken rule, is a
//! [`Diagnostic`] with a rule code, a file, a source span, a message, a label and a help text.

mod rule;

pub use rule::Rule;
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
    /// The id of the rule (or schema change kind) that produced it, e.g. `json-syntax`.
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

/// A kind of schema change, as the compatibility engine's table names it: the id its
/// diagnostics carry. (Defined here, implemented there, so this bottom layer names no kind.)
pub(crate) trait ChangeCode {
    /// The stable id.
    fn code(&self) -> &'static str;
}

impl Diagnostic {
    /// A new finding of `rule`, at the rule's severity, not yet positioned.
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Self::with_severity(rule.id(), rule.severity(), message)
    }

    /// A schema change found by `diff` or `check` (of a kind from `compat::ChangeKind`, whose
    /// table describes it), at the severity the compatibility level gives it.
    pub(crate) fn change(
        kind: impl ChangeCode,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Self::with_severity(kind.code(), severity, message)
    }

    /// The same finding as a warning (where it cannot make the command fail).
    pub(crate) fn into_warning(mut self) -> Self {
        if self.severity == Severity::Error {
            self.severity = Severity::Warning;
        }
        self
    }

    fn with_severity(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
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

/// A failure that ends a command before it can report findings (a missing project, an
/// argument that cannot work, a file in the way): what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Failure {
    /// A failure without advice.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
        }
    }

    /// Adds how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
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
