//! `eventsmith check`: the project against a base (a git revision or a directory). Released
//! versions may change only compatibly; deleting a released version or event type is an error; a
//! new version that breaks the previous one needs a sound upcast rule.

use super::files::ChangeReport;
use super::{Change, FORWARD_FIX, Fix, change_diagnostic, diff};
use crate::diagnostic::Rule;
use crate::diagnostic::{self, Diagnostic};
use crate::io::fs::{FileSystem, MemoryFs, OverlayFs, RealFs};
use crate::io::git::GitTree;
use crate::project::annotations::{KEYWORD, UpcastRule};
use crate::project::config::Level;
use crate::project::loader::{LoadOptions, load, load_file, load_file_as};
use crate::project::model::{Event, Project};
use crate::project::upcast::schema as upcast;
use crate::schema::draft::Draft;
use crate::schema::store::{NodeRef, Store};
use crate::text::pointer;
use crate::text::source::SourceMap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What to compare against.
#[derive(Debug, Clone)]
pub enum Base {
    /// A git revision of the repository holding the project.
    Git(String),
    /// A directory holding the base project (its `eventsmith.toml`).
    Dir(PathBuf),
}

/// The outcome of a check.
#[derive(Debug)]
pub struct CheckReport {
    /// Every finding: the head project's own errors, breaking changes, deletions, upcast problems,
    /// and (as notes) compatible changes.
    pub diagnostics: Vec<Diagnostic>,
    /// The head project's sources, for snippets.
    pub sources: SourceMap,
    /// The level applied.
    pub level: Level,
    /// Whether a file or the base could not be read (exit code 2).
    pub io_error: bool,
    /// Every change compared, with what it belongs to, for the JSON report.
    pub changes: Vec<CheckedChange>,
}

/// A change `check` found, with the contract it belongs to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedChange {
    /// `event`, `command`, `aggregate` (its state) or `projection` (its rows).
    pub contract: &'static str,
    /// The event type, command (`<aggregate>.<name>`), aggregate or projection.
    pub name: String,
    /// The event version compared, for an event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The commit of the file's history compared against (transitive levels), when not the base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// The change: kind, verdicts, whether it breaks the level, old and new positions.
    #[serde(flatten)]
    pub change: ChangeReport,
}

/// What compared schemas belong to.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    contract: &'static str,
    name: String,
    version: Option<u32>,
    against: Option<String>,
}

impl Subject {
    fn event(name: &str, version: u32) -> Self {
        Subject {
            contract: "event",
            name: name.to_owned(),
            version: Some(version),
            against: None,
        }
    }

    fn of(contract: &'static str, name: &str) -> Self {
        Subject {
            contract,
            name: name.to_owned(),
            version: None,
            against: None,
        }
    }

    /// How messages name it: `` `order.placed` v1 ``, ``command `order.place` ``.
    fn context(&self) -> String {
        let mut text = match (self.contract, self.version) {
            ("event", Some(version)) => format!("`{}` v{version}", self.name),
            (contract, _) => format!("{contract} `{}`", self.name),
        };
        if let Some(commit) = &self.against {
            text.push_str(&format!(" (against its state in {commit} of its history)"));
        }
        text
    }
}

impl CheckReport {
    /// Whether anything breaks.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks the project at `root` against `base`, at `level` or the project's level. Runs on a large
/// stack: deeply nested schemas are walked recursively.
pub fn check(
    root: &Path,
    base: &Base,
    level: Option<Level>,
    display_base: Option<&Path>,
) -> CheckReport {
    crate::text::stack::with_large_stack(|| check_here(root, base, level, display_base))
        .unwrap_or_else(|err| CheckReport {
            diagnostics: vec![Diagnostic::new(
                Rule::Io,
                format!("cannot start the checker thread: {err}"),
            )],
            sources: SourceMap::default(),
            level: level.unwrap_or_default(),
            io_error: true,
            changes: Vec::new(),
        })
}

fn check_here(
    root: &Path,
    base: &Base,
    level: Option<Level>,
    display_base: Option<&Path>,
) -> CheckReport {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let mut options = LoadOptions::new(&root, display_base.map(Path::to_owned));
    options.check_examples = false;
    // The working tree and the base load side by side.
    let (head, base_side) = std::thread::scope(|scope| {
        let head = scope.spawn(|| load(&RealFs, &options));
        let base_side = open_base(&root, base, display_base);
        let head = head
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (head, base_side)
    });
    let mut report = CheckReport {
        diagnostics: head.diagnostics.clone(),
        sources: head.sources.clone(),
        level: level.unwrap_or_default(),
        io_error: head.has_io_errors(),
        changes: Vec::new(),
    };
    // Files with errors are reported and left out; every valid one is still compared.
    let Some(head_project) = head.project.as_ref() else {
        return report;
    };
    report.level = level.unwrap_or(head_project.config.compatibility.level);
    let (base_fs, base_loaded) = match base_side {
        Ok(side) => side,
        Err(diagnostic) => {
            report.io_error = true;
            report.diagnostics.push(diagnostic);
            return report;
        }
    };
    // A base whose eventsmith.toml is there but does not load cannot be compared: say so.
    if let Some(config) = base_loaded
        .diagnostics
        .iter()
        .find(|d| d.code == Rule::Config.id())
    {
        report.io_error = true;
        report.diagnostics.push(
            Diagnostic::new(
                Rule::Io,
                format!(
                    "the base project does not load, so nothing was compared: {}",
                    config.message
                ),
            )
            .with_help("the base's eventsmith.toml must be valid; compare against a revision where it is, or fix it there first"),
        );
        return report;
    }
    let Some(base_project) = base_loaded.project.as_ref() else {
        // No project at the base: everything is new.
        report.diagnostics.push(Diagnostic::new(
            Rule::Check,
            "the base holds no eventsmith project; nothing was released yet",
        ));
        return report;
    };
    let mut checker = Checker {
        head: head_project,
        base: base_project,
        level: report.level,
        diagnostics: Vec::new(),
        changes: Vec::new(),
        broken: head
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .filter_map(|d| d.file.clone())
            .collect(),
        base_fs: base_fs.as_ref(),
        base_tree_rev: match base {
            Base::Git(rev) => Some(rev.clone()),
            Base::Dir(_) => None,
        },
    };
    // Released files that do not load at the base are not compared: say which.
    let mut unloadable: Vec<&Diagnostic> = base_loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && d.file.is_some())
        .collect();
    unloadable.dedup_by(|a, b| a.file == b.file);
    for error in unloadable {
        let file = error.file.clone().unwrap_or_default();
        checker.diagnostics.push(
            Diagnostic::new(
                Rule::BaseNotCompared,
                format!(
                    "{} does not load at the base ({}), so it was not compared",
                    file.display(),
                    error.message
                ),
            )
            .with_help("what the base released in this file cannot be checked; fix it at the base, or review the change by hand"),
        );
    }
    checker.released_events();
    checker.new_versions();
    checker.released_commands();
    checker.aggregate_states();
    checker.projection_rows();
    checker.saga_correlations();
    checker.window_fields();
    report.diagnostics.extend(checker.diagnostics);
    report.changes = checker.changes;
    diagnostic::sort(&mut report.diagnostics);
    report
}

/// Reads the base: its file tree and the project loaded from it.
fn open_base(
    root: &Path,
    base: &Base,
    display_base: Option<&Path>,
) -> Result<(Box<dyn FileSystem>, crate::project::loader::Loaded), Diagnostic> {
    // Base files are shown as `<rev>:<path from the repository root>`, which `git show`
    // resolves from any directory.
    let mut shown_from = display_base.map(Path::to_owned);
    let (base_fs, base_root, prefix): (Box<dyn FileSystem>, PathBuf, Option<String>) = match base {
        Base::Git(rev) => match GitTree::open(root, rev) {
            Ok(tree) => {
                if let Ok(repo) = crate::io::git::repository_of(root) {
                    shown_from = Some(repo);
                }
                (Box::new(tree), root.to_owned(), Some(format!("{rev}:")))
            }
            Err(err) => return Err(missing_revision(root, rev, &err)),
        },
        Base::Dir(dir) => {
            if !dir.join(crate::project::config::FILE_NAME).is_file() {
                return Err(Diagnostic::new(
                    Rule::Io,
                    format!(
                        "{} holds no {}",
                        dir.display(),
                        crate::project::config::FILE_NAME
                    ),
                )
                .with_help(
                    "pass the directory of the base project (where its eventsmith.toml is)",
                ));
            }
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
            (Box::new(RealFs), dir, None)
        }
    };
    let mut options = LoadOptions::new(&base_root, shown_from);
    options.check_examples = false;
    options.display_prefix = prefix;
    let loaded = load(base_fs.as_ref(), &options);
    Ok((base_fs, loaded))
}

/// Why the base revision cannot be read, and how to get it: a remote branch a shallow CI
/// checkout lacks is fetched, a typo is not.
fn missing_revision(root: &Path, rev: &str, err: &std::io::Error) -> Diagnostic {
    let in_repo = crate::io::git::repository_of(root).is_ok();
    let help = if !in_repo {
        "`--against` reads a git revision: run eventsmith inside the repository's work tree, or pass the released project's directory with --against-dir".to_owned()
    } else if let Some((remote, branch)) = rev.split_once('/') {
        format!(
            "fetch it first: `git fetch {remote} {branch}` (in GitHub Actions, check out with `fetch-depth: 0`, or run `git fetch --depth=1 {remote} {branch}`); `git branch -a` lists what is there"
        )
    } else {
        format!(
            "`{rev}` is not a branch, tag or commit here: `git branch -a` and `git tag` list them; a branch of a remote is fetched with `git fetch origin {rev}` and named `origin/{rev}`"
        )
    };
    Diagnostic::new(Rule::Io, format!("cannot read `{rev}` from git: {err}")).with_help(help)
}

struct Checker<'a> {
    head: &'a Project,
    base: &'a Project,
    level: Level,
    diagnostics: Vec<Diagnostic>,
    changes: Vec<CheckedChange>,
    /// Head files with errors: not compared (their errors are reported).
    broken: HashSet<PathBuf>,
    base_fs: &'a dyn FileSystem,
    base_tree_rev: Option<String>,
}

impl Checker<'_> {
    /// Whether a head file has errors (reported by the load; left out of the comparison).
    fn is_broken(&self, head_doc: crate::schema::store::DocId) -> bool {
        self.broken
            .contains(self.head.store.document(head_doc).display())
    }

    /// Whether the working tree still has the file of base document `base_doc` (it may not
    /// have loaded: its own errors say why), so a missing model entry is no deletion.
    fn still_there(&self, base_doc: crate::schema::store::DocId) -> bool {
        let path = self.base.store.document(base_doc).path();
        path.strip_prefix(&self.base.root)
            .is_ok_and(|relative| self.head.root.join(relative).is_file())
    }
}

fn root(doc: crate::schema::store::DocId) -> NodeRef {
    NodeRef {
        doc,
        pointer: String::new(),
    }
}

impl Checker<'_> {
    /// Released versions must still exist and change only compatibly.
    fn released_events(&mut self) {
        for (event_type, released) in &self.base.events {
            let Some(current) = self.head.events.get(event_type) else {
                if !self.still_there(released.latest().schema) {
                    self.deleted_event(event_type, released);
                }
                continue;
            };
            for version in &released.versions {
                let Some(now) = current
                    .versions
                    .iter()
                    .find(|v| v.version == version.version)
                else {
                    let display = self
                        .base
                        .store
                        .document(version.schema)
                        .display()
                        .to_owned();
                    // Point at a file that still exists, so CI can annotate it.
                    let here = self.head.store.document(current.latest().schema);
                    self.diagnostics.push(here.diagnostic_at(
                        Diagnostic::new(Rule::VersionDeleted, format!("released version v{} of `{event_type}` ({}) was deleted or renamed", version.version, display.display()))
                            .with_label(format!("v{} of this event is gone", version.version))
                            .with_help("stored events of this version must stay readable: restore the file; to retire it, deprecate it in x-eventsmith.deprecated"),
                        "",
                    ));
                    continue;
                };
                if self.is_broken(now.schema) {
                    continue;
                }
                let subject = Subject::event(event_type, version.version);
                let fix = Fix {
                    backward: format!(
                        "released versions must stay {} compatible: revert this change, or add v{} with an upcast rule in x-eventsmith.upcast",
                        self.level.name(),
                        current.latest().version.max(version.version) + 1
                    ),
                    forward: FORWARD_FIX.to_owned(),
                };
                let changes = diff(
                    &self.base.store,
                    &root(version.schema),
                    &self.head.store,
                    &root(now.schema),
                );
                self.report(&changes, &self.base.store, &subject, &fix, false);
                if self.level.is_transitive() {
                    self.history(version.schema, now.schema, &subject, &fix);
                }
            }
        }
    }

    /// Transitive levels: every committed state of the file in the base's history.
    fn history(
        &mut self,
        base_doc: crate::schema::store::DocId,
        head_doc: crate::schema::store::DocId,
        subject: &Subject,
        fix: &Fix,
    ) {
        let Some(rev) = self.base_tree_rev.clone() else {
            return;
        };
        let path = self.base.store.document(base_doc).path().to_owned();
        let Ok(repo) = crate::io::git::repository_of(&self.head.root) else {
            return;
        };
        let Ok(commits) = GitTree::history_of(&repo, &rev, &path) else {
            return;
        };
        let mut seen: Vec<Vec<u8>> = vec![self.base_fs.read(&path).unwrap_or_default()];
        for commit in commits {
            let tree = GitTree::lazy(&repo, &commit);
            let Ok(bytes) = tree.read(&path) else {
                continue;
            };
            if seen.contains(&bytes) {
                continue;
            }
            seen.push(bytes);
            let short: String = commit.chars().take(10).collect();
            let old = load_file_as(
                &tree,
                &path,
                Some(&repo),
                Some(format!("{short}:")),
                self.base.config.schema.draft,
            );
            let (Some(doc), false) = (old.doc, old.has_errors()) else {
                continue;
            };
            let changes = diff(&old.store, &root(doc), &self.head.store, &root(head_doc));
            let subject = Subject {
                against: Some(short),
                ..subject.clone()
            };
            self.report(&changes, &old.store, &subject, fix, true);
        }
    }

    fn report(
        &mut self,
        changes: &[Change],
        old: &Store,
        subject: &Subject,
        fix: &Fix,
        // Against an older state only breaking changes are worth showing.
        history: bool,
    ) {
        let context = subject.context();
        for change in changes {
            let mut diagnostic = change_diagnostic(change, old, &self.head.store, self.level, fix);
            if !diagnostic.is_error() && history {
                continue;
            }
            diagnostic.message = format!("{context}: {}", diagnostic.message);
            self.diagnostics.push(diagnostic);
            self.changes.push(CheckedChange {
                contract: subject.contract,
                name: subject.name.clone(),
                version: subject.version,
                against: subject.against.clone(),
                change: ChangeReport::of(change, old, &self.head.store, self.level),
            });
        }
    }

    fn deleted_event(&mut self, event_type: &str, released: &Event) {
        let latest = self.base.store.document(released.latest().schema);
        let renamed = self.head.events.iter().find(|(name, event)| {
            !self.base.events.contains_key(*name)
                && self
                    .head
                    .store
                    .document(event.versions[0].schema)
                    .value()
                    .get("properties")
                    == latest.value().get("properties")
        });
        let help = match renamed {
            Some((name, _)) => format!(
                "was it renamed to `{name}`? event types are permanent: keep `{event_type}` (deprecate it) and add `{name}` beside it"
            ),
            None => format!(
                "stored `{event_type}` events must stay readable: restore it; to retire it, deprecate it in x-eventsmith.deprecated"
            ),
        };
        let diagnostic = Diagnostic::new(
            Rule::EventDeleted,
            format!(
                "released event type `{event_type}` ({}) was deleted or renamed",
                latest.display().display()
            ),
        )
        .with_label(format!(
            "`{event_type}` belonged to this aggregate and is gone"
        ))
        .with_help(help);
        // Point at a file that still exists (the aggregate's), so CI can annotate it.
        let diagnostic = match self.head.aggregates.get(&released.aggregate) {
            Some(aggregate) => self
                .head
                .store
                .document(aggregate.schema)
                .diagnostic_at(diagnostic, ""),
            None => diagnostic.in_file(latest.display(), None),
        };
        self.diagnostics.push(diagnostic);
    }

    /// Every version that the base does not have: when it breaks the previous version, it needs
    /// an upcast, and a declarative upcast must be sound.
    fn new_versions(&mut self) {
        for (event_type, event) in &self.head.events {
            let released = self.base.events.get(event_type);
            for pair in event.versions.windows(2) {
                let (previous, next) = (&pair[0], &pair[1]);
                if released.is_some_and(|r| r.versions.iter().any(|v| v.version == next.version)) {
                    continue;
                }
                if self.level == Level::None {
                    continue; // `none` accepts everything, upcasts included
                }
                if self.is_broken(previous.schema) || self.is_broken(next.schema) {
                    continue;
                }
                let store = &self.head.store;
                let changes = diff(store, &root(previous.schema), store, &root(next.schema));
                let breaking: Vec<&Change> = changes.iter().filter(|c| !c.backward).collect();
                if breaking.is_empty() {
                    continue;
                }
                let document = store.document(next.schema);
                let context = format!("`{event_type}` v{}", next.version);
                match &next.annotations.upcast {
                    None => {
                        let first = &breaking[0];
                        self.diagnostics.push(document.diagnostic_at(
                            Diagnostic::new(
                                Rule::UpcastRequired,
                                format!(
                                    "{context} cannot read v{} events as they are ({} breaking change{}, e.g. {}{}) and declares no upcast",
                                    previous.version,
                                    breaking.len(),
                                    if breaking.len() == 1 { "" } else { "s" },
                                    first.kind.summary(),
                                    if first.detail.is_empty() { String::new() } else { format!(": {}", first.detail) }
                                ),
                            )
                            .with_label("add `x-eventsmith.upcast` here")
                            .with_help("describe how a v(N-1) event becomes vN with `\"upcast\": {\"rules\": [...]}` (rename, default, drop, move, convert), or `\"custom\": true` for a hand-written upcaster"),
                            "",
                        ));
                    }
                    Some(upcast) if upcast.custom => {}
                    Some(upcast) => {
                        self.soundness(previous.schema, next.schema, &upcast.rules, &context)
                    }
                }
            }
        }
    }

    /// Applies the rules to the previous version's schema and checks the result is backward
    /// compatible with the next version.
    fn soundness(
        &mut self,
        previous: crate::schema::store::DocId,
        next: crate::schema::store::DocId,
        rules: &[UpcastRule],
        context: &str,
    ) {
        let store = &self.head.store;
        let next_document = store.document(next);
        let upcast_at = pointer::push(&pointer::push("", KEYWORD), "upcast");
        let next_uri = store.uri(next).clone();
        let derived = upcast::apply(store.document(previous).value(), rules, |path| {
            let mut target = next_uri.clone();
            target.set_fragment(Some(&upcast::schema_pointer(path)));
            serde_json::json!({ "$ref": target.to_string() })
        });
        let derived = match derived {
            Ok(derived) => derived,
            Err(why) => {
                self.diagnostics.push(next_document.diagnostic_at(
                    Diagnostic::new(Rule::UnsoundUpcast, format!("{context}: an upcast rule does not apply to the previous version: {why}"))
                        .with_label("this upcast does not fit the previous version")
                        .with_help("rule paths name properties of the previous version (`from`, `field`) and of this version (`to`)"),
                    &upcast_at,
                ));
                return;
            }
        };
        // Every path the rules write must be a field of the new version.
        for written in rules.iter().filter_map(UpcastRule::written) {
            if next_document
                .get(&upcast::schema_pointer(written.pointer()))
                .is_none()
            {
                self.diagnostics.push(next_document.diagnostic_at(
                    Diagnostic::new(Rule::UnsoundUpcast, format!("{context}: an upcast rule writes `{}`, which is not a property of this version", written.pointer()))
                        .with_label("this upcast does not fit this version")
                        .with_help("`to` and `field` name properties of the version the rules produce"),
                    &upcast_at,
                ));
                return;
            }
        }
        // Default values must be valid in the new version, where the derived schema relies on them.
        let validators =
            crate::project::examples::Validators::new(store, &store.fully_resolvable());
        for rule in rules {
            let UpcastRule::Default { field, value } = rule else {
                continue;
            };
            let at = upcast::schema_pointer(field.pointer());
            if next_document.get(&at).is_none() {
                continue; // reported by the diff below as a missing property
            }
            let Ok(validator) = validators.build(store, next, &at) else {
                continue;
            };
            if let Some(error) = validator.iter_errors(value).next() {
                self.diagnostics.push(next_document.diagnostic_at(
                    Diagnostic::new(Rule::UnsoundUpcast, format!("{context}: the default for `{}` is not valid in this version: {error}", field.pointer()))
                        .with_label("this default would produce an invalid event")
                        .with_help("give a default that the field's schema accepts"),
                    &upcast_at,
                ));
            }
        }
        let previous_path = store.document(previous).path();
        let derived_path = previous_path.with_extension("upcast.json");
        let mut top = MemoryFs::new();
        top.insert(
            &derived_path,
            serde_json::to_vec(&derived).unwrap_or_default(),
        );
        let fs = OverlayFs { base: &RealFs, top };
        // The derived schema is the previous version's document, rewritten: the same draft.
        let draft = store.draft(previous).unwrap_or(Draft::Draft202012);
        let loaded = load_file(&fs, &derived_path, None, draft);
        let Some(doc) = loaded.doc.filter(|_| !loaded.has_errors()) else {
            let why: Vec<String> = loaded
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.message.clone())
                .collect();
            self.diagnostics.push(
                next_document.diagnostic_at(
                    Diagnostic::new(
                        Rule::UnsoundUpcast,
                        format!(
                            "{context}: the upcast rules give no usable schema: {}",
                            why.join("; ")
                        ),
                    )
                    .with_label("these rules could not be checked")
                    .with_help(
                        "simplify the rules, or declare `\"custom\": true` and write the upcaster",
                    ),
                    &upcast_at,
                ),
            );
            return;
        };
        let changes = diff(&loaded.store, &root(doc), store, &root(next));
        for change in changes.iter().filter(|c| !c.backward) {
            let detail = if change.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", change.detail)
            };
            let change_at = next_document.span_of(&change.new.pointer);
            self.diagnostics.push(next_document.diagnostic_at(
                Diagnostic::new(
                    Rule::UnsoundUpcast,
                    format!("{context}: after the upcast rules, a previous-version event can still be rejected: {}{detail} (at line {})", change.kind.summary(), change_at.line),
                )
                .with_label("these rules do not bridge the versions")
                .with_help("add or fix a rule (rename, default, drop, move, convert), or declare `\"custom\": true` and write the upcaster"),
                &upcast_at,
            ));
        }
    }
}

mod contracts;
mod sagas;
mod windows;
