//! The commands: one function per command of the CLI, each taking a [`Context`] and its own
//! arguments and returning an [`Outcome`] (what to print, how the run ends) or a [`Failure`]. The
//! CLI parses arguments and prints outcomes; the macro and build.rs call [`generate::code`] and
//! [`derive::check`]. Nothing here prints or exits.

pub mod catalog;
pub mod compare;
pub mod derive;
pub mod generate;
pub mod scaffold;
pub mod service;
pub mod validate;

use crate::diagnostic::{Diagnostic, Failure};
use crate::io::fs::RealFs;
use crate::project::config::{FILE_NAME, find_project_root};
use crate::project::loader::{LoadOptions, load};
use crate::project::model::Project;
use crate::templates::{Family, Templates};
use crate::text::source::SourceMap;
use std::path::{Path, PathBuf};

/// How much a command says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Errors, warnings and what was done.
    #[default]
    Normal,
    /// Also notes and details.
    Verbose,
}

/// Where a command runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The working directory: relative paths in arguments start here.
    pub cwd: PathBuf,
    /// `--project DIR`, when given (else the nearest `eventsmith.toml` upward from `cwd`).
    pub project: Option<PathBuf>,
    /// How much to say.
    pub verbosity: Verbosity,
}

impl Context {
    /// A context in `cwd` with the nearest project and normal verbosity.
    pub fn new(cwd: impl Into<PathBuf>) -> Self {
        Self {
            cwd: cwd.into(),
            project: None,
            verbosity: Verbosity::Normal,
        }
    }

    /// The project's root directory.
    pub fn project_root(&self) -> Result<PathBuf, Failure> {
        match &self.project {
            Some(dir) => Ok(self.cwd.join(dir)),
            None => find_project_root(&self.cwd).ok_or_else(|| {
                Failure::new(format!(
                    "no {FILE_NAME} in {} or any parent directory",
                    self.cwd.display()
                ))
                .with_help("run `eventsmith init` to create a project, or pass --project DIR")
            }),
        }
    }

    /// `path` from the command line, made absolute against the working directory.
    pub fn path(&self, path: &Path) -> PathBuf {
        self.cwd.join(path)
    }

    fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    fn verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }

    /// Keeps what this verbosity shows: errors only when quiet, notes only when verbose (or
    /// when `notes` says the command's notes are its answer).
    fn shown(&self, diagnostics: &mut Vec<Diagnostic>, notes: bool) {
        match self.verbosity {
            Verbosity::Quiet => diagnostics.retain(Diagnostic::is_error),
            Verbosity::Normal if !notes => {
                diagnostics.retain(|d| d.severity != crate::diagnostic::Severity::Note)
            }
            _ => {}
        }
    }
}

/// How a run ends: the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// 0: done, valid, compatible.
    #[default]
    Success,
    /// 1: findings (invalid schemas, incompatible changes, stale files).
    Findings,
    /// 2: usage, I/O or internal errors.
    Failure,
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Findings => 1,
            Status::Failure => 2,
        }
    }
}

/// What a command did, to print: its findings (rendered in the output format asked for), a
/// machine document when the command has one of its own, and lines for people.
#[derive(Debug, Default)]
pub struct Outcome {
    /// How the run ends.
    pub status: Status,
    /// Findings to show, already filtered for the verbosity.
    pub diagnostics: Vec<Diagnostic>,
    /// The files the findings point into, for snippets.
    pub sources: SourceMap,
    /// The `--format json` document, when the command's differs from the plain findings report.
    pub document: Option<String>,
    /// Whether the human report is printed even without findings (its summary line is the
    /// answer, as for `diff`).
    pub report_when_clean: bool,
    /// Lines for standard output after the report (human format only).
    pub stdout: Vec<String>,
    /// Lines for standard error (human format only).
    pub stderr: Vec<String>,
}

impl Outcome {
    /// Findings that end the run with `status`.
    fn findings(status: Status, diagnostics: Vec<Diagnostic>, sources: SourceMap) -> Self {
        Self {
            status,
            diagnostics,
            sources,
            ..Self::default()
        }
    }

    fn say(&mut self, line: impl Into<String>) {
        self.stdout.push(line.into());
    }
}

/// Why a project did not load: its errors, their sources, and whether a file could not be read
/// at all ([`Status::Failure`]) or the files have findings ([`Status::Findings`]).
struct NotLoaded {
    status: Status,
    errors: Vec<Diagnostic>,
    sources: SourceMap,
}

/// The one way every command, the macro and the build.rs API load a project: the project at
/// `root` with paths shown relative to `display_base`, examples left to `validate` (and to the
/// generated tests).
fn load_project(root: &Path, display_base: &Path) -> Result<(Project, SourceMap), NotLoaded> {
    let mut options = LoadOptions::new(root, Some(display_base.to_path_buf()));
    options.check_examples = false;
    let mut loaded = load(&RealFs, &options);
    if !loaded.has_errors()
        && let Some(project) = loaded.project.take()
    {
        return Ok((project, loaded.sources));
    }
    let status = if loaded.has_io_errors() {
        Status::Failure
    } else {
        Status::Findings
    };
    let errors = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    Err(NotLoaded {
        status,
        errors,
        sources: loaded.sources,
    })
}

/// [`load_project`] for a command, paths shown from the project root: when the project has
/// errors, the outcome that reports them.
fn load_valid(root: &Path) -> Result<(Project, SourceMap), Outcome> {
    load_project(root, root).map_err(|not| Outcome::findings(not.status, not.errors, not.sources))
}

/// A template family with the overrides in `dir` (relative to the working directory); when an
/// override is unusable, the outcome that reports why.
fn templates(context: &Context, family: Family, dir: Option<&Path>) -> Result<Templates, Outcome> {
    match dir {
        Some(dir) => Templates::with_overrides(family, &context.path(dir))
            .map_err(|errors| Outcome::findings(Status::Failure, errors, SourceMap::default())),
        None => Ok(Templates::embedded(family)),
    }
}

/// `--check`'s answer: every stale file, and exit 1 if there is one.
fn stale_report(context: &Context, dir: &Path, stale: &[PathBuf], fix: &str) -> Outcome {
    let mut outcome = Outcome::default();
    for path in stale {
        outcome.say(format!("stale: {}", dir.join(path).display()));
    }
    if stale.is_empty() {
        if !context.quiet() {
            outcome.say(format!(
                "{}: every generated file is up to date",
                dir.display()
            ));
        }
        return outcome;
    }
    outcome.status = Status::Findings;
    outcome.stderr.push(format!(
        "error: {} generated file(s) in {} are out of date",
        stale.len(),
        dir.display()
    ));
    outcome.stderr.push(format!("help: {fix}"));
    outcome
}

/// An outcome as text, for the two output streams.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    /// [`Outcome::render`] for a run in `context`: GitHub annotations and SARIF locations need
    /// paths from the repository root (the project root outside git), wherever the command ran,
    /// so file paths (shown relative to the working directory) are rewritten for those formats.
    pub fn render_in(
        &self,
        context: &Context,
        format: crate::report::Format,
        color: bool,
    ) -> Printed {
        use crate::report::Format;
        if !matches!(format, Format::Github | Format::Sarif) {
            return self.render(format, color);
        }
        let root = crate::io::git::repository_of(&context.cwd)
            .ok()
            .or_else(|| context.project_root().ok());
        let Some(root) = root.and_then(|root| std::fs::canonicalize(root).ok()) else {
            return self.render(format, color);
        };
        // A path is shown from the project root (project commands) or the working directory
        // (`diff` on plain files).
        let bases: Vec<PathBuf> = [context.project_root().ok(), Some(context.cwd.clone())]
            .into_iter()
            .flatten()
            .filter_map(|base| std::fs::canonicalize(base).ok())
            .collect();
        let mut anchored = Outcome {
            diagnostics: self.diagnostics.clone(),
            ..Outcome::default()
        };
        for diagnostic in &mut anchored.diagnostics {
            let Some(file) = &diagnostic.file else {
                continue;
            };
            // Files read from a git revision (`origin/main:…`) do not exist here: left as shown.
            let Some(absolute) = bases
                .iter()
                .find_map(|base| std::fs::canonicalize(base.join(file)).ok())
            else {
                continue;
            };
            if let Ok(relative) = absolute.strip_prefix(&root) {
                diagnostic.file = Some(relative.to_owned());
            }
        }
        anchored.render(format, color)
    }

    /// The outcome in `format`: machine formats print the findings (or the command's own JSON
    /// document) and nothing else; the human one prints the report, then the lines.
    pub fn render(&self, format: crate::report::Format, color: bool) -> Printed {
        use crate::report::{self, Format};
        let mut printed = Printed::default();
        match format {
            Format::Human => {
                if !self.diagnostics.is_empty() || self.report_when_clean {
                    printed.stdout = report::human(&self.diagnostics, &self.sources, color);
                }
                for line in &self.stdout {
                    printed.stdout.push_str(line);
                    printed.stdout.push('\n');
                }
                for line in &self.stderr {
                    printed.stderr.push_str(line);
                    printed.stderr.push('\n');
                }
            }
            Format::Json => {
                printed.stdout = self
                    .document
                    .clone()
                    .unwrap_or_else(|| report::json(&self.diagnostics));
            }
            Format::Github => printed.stdout = report::github(&self.diagnostics),
            Format::Sarif => printed.stdout = report::sarif(&self.diagnostics, report::describe),
        }
        printed
    }
}

impl Failure {
    /// `error: …` and `help: …`, for standard error.
    pub fn render(&self) -> String {
        match &self.help {
            Some(help) => format!("error: {}\nhelp: {help}\n", self.message),
            None => format!("error: {}\n", self.message),
        }
    }
}
