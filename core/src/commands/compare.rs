//! `eventsmith diff` (two plain schema files) and `eventsmith check` (the project against a
//! base), with their JSON documents.

use super::{Context, Outcome, Status};
pub use crate::compat::check::Base;
use crate::compat::check::{CheckReport, check as check_project};
use crate::compat::files::{FileDiff, diff_files};
use crate::diagnostic::{Diagnostic, Failure};
use crate::io::fs::RealFs;
use crate::project::config::Level;
use crate::report;
use crate::schema::draft::Draft;
use serde_json::{Value, json};
use std::path::Path;

/// Compares two schema files at `level` (default backward).
///
/// A file without `$schema` is read as `draft`, by default draft-07 as schema registries do.
pub fn diff(
    context: &Context,
    old: &Path,
    new: &Path,
    level: Option<Level>,
    draft: Option<Draft>,
) -> Result<Outcome, Failure> {
    for path in [old, new] {
        if !context.path(path).is_file() {
            return Err(Failure::new(format!("{} is not a file", path.display()))
                .with_help("pass two JSON Schema files: eventsmith diff OLD.json NEW.json"));
        }
    }
    let level = level.unwrap_or(Level::Backward);
    let result = diff_files(
        &RealFs,
        &context.path(old),
        &context.path(new),
        level,
        Some(&context.cwd),
        draft.unwrap_or(Draft::Draft7),
    );
    let mut diagnostics = result.diagnostics.clone();
    context.shown(&mut diagnostics, true);
    let compatible = result.passes(level);
    let status = if !result.loaded {
        Status::Failure
    } else if compatible {
        Status::Success
    } else {
        Status::Findings
    };
    let mut outcome = Outcome::findings(status, diagnostics, result.sources.clone());
    outcome.document = Some(diff_document(&result, level, &outcome.diagnostics));
    outcome.report_when_clean = true;
    if result.loaded && !context.quiet() {
        let breaking = result.changes.iter().filter(|c| c.breaking).count();
        outcome.say(format!(
            "{} at `{}`: {} change{}, {breaking} breaking",
            if compatible {
                "compatible"
            } else {
                "incompatible"
            },
            level.name(),
            result.changes.len(),
            if result.changes.len() == 1 { "" } else { "s" },
        ));
    }
    Ok(outcome)
}

/// `diff`'s JSON document (format version 1): the level, the verdict, every change with its
/// positions, and the findings shown.
fn diff_document(result: &FileDiff, level: Level, shown: &[Diagnostic]) -> String {
    pretty(&json!({
        "version": 1,
        "level": level.name(),
        "compatible": result.loaded && result.passes(level),
        "verdict": {"backward": result.verdict.backward, "forward": result.verdict.forward},
        "changes": result.changes,
        "diagnostics": report::json_value(shown)["diagnostics"].clone(),
    }))
}

/// Checks the project against `base` (default: `HEAD`) at `level` (default: the project's).
pub fn check(context: &Context, base: &Base, level: Option<Level>) -> Result<Outcome, Failure> {
    let root = context.project_root()?;
    // Paths are shown from the project root, wherever the command runs.
    let result = check_project(&root, base, level, Some(&root));
    let mut diagnostics = result.diagnostics.clone();
    context.shown(&mut diagnostics, false);
    let status = if result.io_error {
        Status::Failure
    } else if result.has_errors() {
        Status::Findings
    } else {
        Status::Success
    };
    let document = check_document(&result, &diagnostics);
    let clean = diagnostics.is_empty();
    let mut outcome = Outcome::findings(status, diagnostics, result.sources.clone());
    outcome.document = Some(document);
    if clean && !context.quiet() {
        outcome.say(format!("compatible at `{}`", result.level.name()));
    }
    Ok(outcome)
}

/// `check`'s JSON document (format version 1): the findings shown, the level, whether the
/// project passes, and every change compared with the contract it belongs to.
fn check_document(result: &CheckReport, shown: &[Diagnostic]) -> String {
    let mut document = report::json_value(shown);
    document["level"] = Value::String(result.level.name().to_owned());
    document["compatible"] = Value::Bool(!result.has_errors() && !result.io_error);
    document["changes"] = serde_json::to_value(&result.changes).unwrap_or_default();
    pretty(&document)
}

fn pretty(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}
