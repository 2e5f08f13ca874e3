//! Renders diagnostics for people (source snippets), for programs (JSON) and for GitHub Actions
//! (workflow-command annotations).

use crate::diagnostic::{Diagnostic, Severity};
use crate::text::source::SourceMap;
use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Config, termcolor::Buffer};
use serde::Serialize;
use std::collections::HashMap;

/// Output formats of commands that report findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Source snippets with `file:line:col`, labels and help.
    #[default]
    Human,
    /// One stable JSON document (documented in docs/schema-format.md).
    Json,
    /// GitHub Actions `::error file=..,line=..::message` lines.
    Github,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// Human rendering: a snippet per diagnostic, then a summary line.
pub fn human(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut files = SimpleFiles::new();
    let mut ids = HashMap::new();
    for (path, text) in sources.iter() {
        ids.insert(
            path.clone(),
            files.add(path.display().to_string(), text.clone()),
        );
    }
    let mut buffer = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let config = Config::default();
    for diagnostic in diagnostics {
        let mut report = match diagnostic.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
            Severity::Note => Report::note(),
        }
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message);
        let file = diagnostic
            .file
            .as_ref()
            .and_then(|f| ids.get(f).map(|id| (f, *id)));
        match (file, diagnostic.span) {
            (Some((_, id)), Some(span)) => {
                let label = Label::primary(id, span.start..span.end.max(span.start));
                report = report.with_labels(vec![match &diagnostic.label {
                    Some(text) => label.with_message(text),
                    None => label,
                }]);
            }
            _ => {
                if let Some(file) = &diagnostic.file {
                    report = report.with_notes(vec![format!("in {}", file.display())]);
                }
            }
        }
        if let Some(help) = &diagnostic.help {
            report.notes.push(format!("help: {help}"));
        }
        if term::emit_to_write_style(&mut buffer, &config, &files, &report).is_err() {
            // A span outside its file cannot be drawn; fall back to the one-line form.
            buffer_line(&mut buffer, &one_line(diagnostic));
        }
    }
    let mut out = String::from_utf8_lossy(buffer.as_slice()).into_owned();
    out.push_str(&summary(diagnostics));
    out.push('\n');
    out
}

fn buffer_line(buffer: &mut Buffer, line: &str) {
    use std::io::Write;
    let _ = writeln!(buffer, "{line}");
}

/// `file:line:col: severity[code]: message`, the greppable form.
pub fn one_line(diagnostic: &Diagnostic) -> String {
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let location = diagnostic.location();
    let prefix = if location.is_empty() {
        String::new()
    } else {
        format!("{location}: ")
    };
    format!(
        "{prefix}{severity}[{}]: {}",
        diagnostic.code, diagnostic.message
    )
}

/// `2 errors, 1 warning`, or `no problems found`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => "no problems found".to_owned(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    pointer: Option<&'a str>,
    message: &'a str,
    label: Option<&'a str>,
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
}

/// The JSON report (format version 1).
pub fn json(diagnostics: &[Diagnostic]) -> String {
    let mut out = serde_json::to_string_pretty(&json_value(diagnostics)).unwrap_or_default();
    out.push('\n');
    out
}

/// The JSON report as a value, for commands whose documents add fields to it.
pub fn json_value(diagnostics: &[Diagnostic]) -> serde_json::Value {
    let report = JsonReport {
        version: 1,
        diagnostics: diagnostics
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code,
                severity: d.severity,
                file: d
                    .file
                    .as_ref()
                    .map(|f| f.display().to_string().replace('\\', "/")),
                line: d.span.map(|s| s.line),
                column: d.span.map(|s| s.column),
                end_line: d.span.map(|s| s.end_line),
                end_column: d.span.map(|s| s.end_column),
                pointer: d.pointer.as_deref(),
                message: &d.message,
                label: d.label.as_deref(),
                help: d.help.as_deref(),
            })
            .collect(),
        summary: JsonSummary {
            errors: diagnostics.iter().filter(|d| d.is_error()).count(),
            warnings: diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count(),
        },
    };
    serde_json::to_value(&report).unwrap_or_default()
}

/// GitHub Actions workflow commands, one line per diagnostic.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut properties = Vec::new();
        if let Some(file) = &d.file {
            properties.push(format!(
                "file={}",
                escape_property(&file.display().to_string())
            ));
        }
        if let Some(span) = d.span {
            properties.push(format!("line={}", span.line));
            properties.push(format!("col={}", span.column));
            properties.push(format!("endLine={}", span.end_line));
            properties.push(format!("endColumn={}", span.end_column));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("eventsmith {}", d.code))
        ));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

/// What SARIF says of a rule: a summary, the docs page that explains it and, for a rule of fixed
/// severity, its default level.
pub struct Described {
    /// What it finds, in a line.
    pub summary: String,
    /// The docs page, relative to `docs/`, with an anchor (none for a code eventsmith does not
    /// know).
    pub doc: Option<String>,
    /// The severity every finding of the rule has, if it is fixed.
    pub severity: Option<Severity>,
}

/// Where the docs live, for SARIF's `helpUri`.
const DOCS: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/");

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A SARIF 2.1.0 log with one run: each diagnostic a result, each rule code a rule described by
/// `describe_rule` (summary, `helpUri`, default level).
pub fn sarif(diagnostics: &[Diagnostic], describe_rule: impl Fn(&str) -> Described) -> String {
    let mut rules: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    rules.sort_unstable();
    rules.dedup();
    let results: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let level = level(d.severity);
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let mut result = serde_json::json!({
                "ruleId": d.code,
                "ruleIndex": rules.iter().position(|r| *r == d.code).unwrap_or(0),
                "level": level,
                "message": {"text": text},
            });
            if let Some(file) = &d.file {
                let mut location = serde_json::json!({
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.display().to_string().replace('\\', "/")}
                    }
                });
                if let Some(span) = d.span {
                    location["physicalLocation"]["region"] = serde_json::json!({
                        "startLine": span.line,
                        "startColumn": span.column,
                        "endLine": span.end_line,
                        "endColumn": span.end_column.max(if span.end_line == span.line { span.column } else { 1 }),
                    });
                }
                result["locations"] = serde_json::json!([location]);
            }
            result
        })
        .collect();
    let log = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "eventsmith",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules.iter().map(|id| {
                    let described = describe_rule(id);
                    let mut rule = serde_json::json!({
                        "id": id,
                        "shortDescription": {"text": described.summary},
                    });
                    if let Some(doc) = described.doc {
                        rule["helpUri"] = serde_json::json!(format!("{DOCS}{doc}"));
                    }
                    if let Some(severity) = described.severity {
                        rule["defaultConfiguration"] = serde_json::json!({"level": level(severity)});
                    }
                    rule
                }).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// What a rule or change kind checks, for SARIF rule metadata. A change kind's severity depends
/// on the compatibility level, so it has no default level.
pub fn describe(code: &str) -> Described {
    if let Some(kind) = crate::compat::kind::ChangeKind::from_id(code) {
        return Described {
            summary: format!("schema change: {}", kind.summary()),
            doc: Some("compatibility.md#change-kinds".to_owned()),
            severity: None,
        };
    }
    match crate::diagnostic::Rule::from_id(code) {
        Some(rule) => Described {
            summary: rule.summary().to_owned(),
            doc: Some(rule.doc()),
            severity: Some(rule.severity()),
        },
        None => Described {
            summary: code.to_owned(),
            doc: None,
            severity: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Rule;
    use crate::text::source::SourceFile;

    fn sample() -> (Vec<Diagnostic>, SourceMap) {
        let file = SourceFile::new("a.json", "{\n  \"type\": \"strin\"\n}\n");
        let mut sources = SourceMap::default();
        sources.insert(&file);
        let diagnostic = Diagnostic::new(Rule::MetaSchema, "bad type")
            .in_file("a.json", Some(file.span(12..19)))
            .with_label("not a type")
            .with_help("use string");
        (vec![diagnostic], sources)
    }

    #[test]
    fn human_has_location_snippet_and_help() {
        let (diagnostics, sources) = sample();
        let out = human(&diagnostics, &sources, false);
        assert!(out.contains("error[meta-schema]: bad type"), "{out}");
        assert!(out.contains("a.json:2:11"), "{out}");
        assert!(out.contains("\"type\": \"strin\""), "{out}");
        assert!(out.contains("help: use string"), "{out}");
        assert!(out.ends_with("1 error\n"), "{out}");
    }

    #[test]
    fn github_escapes() {
        let (mut diagnostics, _) = sample();
        diagnostics[0].message = "a, b: 50%\nnext".into();
        let out = github(&diagnostics);
        assert_eq!(
            out,
            "::error file=a.json,line=2,col=11,endLine=2,endColumn=18,title=eventsmith meta-schema::a, b: 50%25%0Anext%0Ahelp: use string\n"
        );
    }

    #[test]
    fn json_is_stable() {
        let (diagnostics, _) = sample();
        let value: serde_json::Value = serde_json::from_str(&json(&diagnostics)).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["diagnostics"][0]["line"], 2);
        assert_eq!(value["summary"]["errors"], 1);
    }

    #[test]
    fn sarif_describes_every_rule_and_change_kind_with_a_summary() {
        let mut diagnostics: Vec<Diagnostic> = Rule::ALL
            .iter()
            .map(|rule| Diagnostic::new(*rule, "m"))
            .collect();
        diagnostics.extend(
            crate::compat::kind::ChangeKind::ALL
                .iter()
                .map(|kind| Diagnostic::change(*kind, crate::diagnostic::Severity::Error, "m")),
        );
        let log: serde_json::Value = serde_json::from_str(&sarif(&diagnostics, describe)).unwrap();
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        assert_eq!(rules.len(), diagnostics.len());
        for rule in rules {
            let id = rule["id"].as_str().unwrap();
            let text = rule["shortDescription"]["text"].as_str().unwrap();
            assert!(!text.is_empty() && text != id, "{id}: {text}");
            let help = rule["helpUri"].as_str().unwrap();
            assert!(
                help.starts_with(DOCS) && help.contains(".md#"),
                "{id}: {help}"
            );
        }
        for rule in Rule::ALL {
            let described = describe(rule.id());
            assert_eq!(described.severity, Some(rule.severity()));
        }
    }
}
