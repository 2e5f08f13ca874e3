//! The contracts beside events: commands (the service's HTTP API), aggregate states (what
//! snapshots hold) and projection rows (what read models hold), compared with the base, and
//! their deletions.

use super::{CheckedChange, Checker, Subject, root};
use crate::compat::files::ChangeReport;
use crate::compat::{Change, FORWARD_FIX, Fix, diff};
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::fingerprint::state_version;
use crate::schema::store::DocId;

impl Checker<'_> {
    /// A released command must keep accepting what clients send: its changes are judged at
    /// the project's level, as an event's are.
    pub(super) fn released_commands(&mut self) {
        for (name, released) in &self.base.commands {
            let Some(current) = self.head.commands.get(name) else {
                if !self.still_there(released.schema) {
                    let diagnostic = Diagnostic::new(
                        Rule::CommandDeleted,
                        format!(
                            "released command `{name}` ({}) was deleted or renamed",
                            self.base_display(released.schema).display()
                        ),
                    )
                    .with_label(format!("`{name}` belonged to this aggregate and is gone"))
                    .with_help("clients still send it and now get 404: restore it; to retire it, deprecate it (`x-eventsmith.deprecated`) and remove it in a release your clients have moved past");
                    self.at_aggregate(&released.aggregate, released.schema, diagnostic);
                }
                continue;
            };
            if self.is_broken(current.schema) {
                continue;
            }
            let changes = self.compare(released.schema, current.schema);
            let fix = Fix {
                backward: format!(
                    "commands are the service's HTTP API, and clients send what the released schema allowed: revert this change, or add a new command beside `{name}` and deprecate it"
                ),
                forward: FORWARD_FIX.to_owned(),
            };
            self.report(
                &changes,
                &self.base.store,
                &Subject::of("command", name),
                &fix,
                false,
            );
        }
    }

    /// An aggregate's state schema may change at will, but snapshots taken under a schema the
    /// new one cannot read are set aside by the runtime: say so.
    pub(super) fn aggregate_states(&mut self) {
        let pairs: Vec<(String, DocId, Option<DocId>)> = self
            .base
            .aggregates
            .iter()
            .map(|(name, a)| {
                (
                    name.clone(),
                    a.schema,
                    self.head.aggregates.get(name).map(|h| h.schema),
                )
            })
            .collect();
        for (name, released, current) in pairs {
            let Some(current) = current else {
                self.deleted(
                    Rule::AggregateDeleted,
                    &format!("released aggregate `{name}`"),
                    released,
                    "its stored streams have no aggregate any more",
                    "restore it: its streams and snapshots stay in the store; to retire it, deprecate its commands",
                );
                continue;
            };
            let subject = Subject::of("aggregate", &name);
            let breaking = self.incompatible(&subject, released, current);
            // The runtime sets a snapshot aside whenever the fingerprint differs, compatible
            // change or not: warn exactly then.
            let before = state_version(self.base, released);
            let after = state_version(self.head, current);
            if before == after || self.is_broken(current) {
                continue;
            }
            let (why, at) = match breaking {
                Some((summary, at)) => (
                    format!("it cannot read what the released one allowed ({summary})"),
                    at,
                ),
                None => ("it changed (compatibly)".to_owned(), String::new()),
            };
            let diagnostic = Diagnostic::new(
                Rule::SnapshotsDiscarded,
                format!(
                    "aggregate `{name}`: the state schema's fingerprint changed ({before} → {after}) because {why}: snapshots taken before are set aside, and each state is rebuilt from its events on first load"
                ),
            )
            .with_label("snapshots of the previous shape are not read")
            .with_help("nothing is lost (events are the record), but first loads replay whole streams until new snapshots are taken; only annotations (`title`, `description`, `examples`, …) change without this");
            self.at_head(current, diagnostic, &at);
        }
    }

    /// A projection's rows may change; one its read model cannot take in place means a replay.
    pub(super) fn projection_rows(&mut self) {
        let pairs: Vec<(String, DocId, Option<DocId>)> = self
            .base
            .projections
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    p.schema,
                    self.head.projections.get(name).map(|h| h.schema),
                )
            })
            .collect();
        for (name, released, current) in pairs {
            let Some(current) = current else {
                self.deleted(
                    Rule::ProjectionDeleted,
                    &format!("released projection `{name}`"),
                    released,
                    "its read model is no longer served",
                    "clients of `GET /projections/<name>` get 404; its tables stay in the read-model database until you drop them",
                );
                continue;
            };
            let subject = Subject::of("projection", &name);
            if let Some((summary, at)) = self.incompatible(&subject, released, current) {
                let diagnostic = Diagnostic::new(
                    Rule::ProjectionReplay,
                    format!(
                        "projection `{name}` is rebuilt from every event when the service starts: its rows cannot keep their released shape ({summary})"
                    ),
                )
                .with_label("the read model is replayed")
                .with_help("queries answer from an empty, growing table until the replay catches up; adding an optional property is migrated in place instead");
                self.at_head(current, diagnostic, &at);
            }
        }
    }

    /// Reports a released file that is gone from the working tree (one that is there but did
    /// not load has its own errors).
    fn deleted(&mut self, rule: Rule, what: &str, released: DocId, label: &str, help: &str) {
        if self.still_there(released) {
            return;
        }
        let shown = self.base_display(released);
        let diagnostic = Diagnostic::new(
            rule,
            format!("{what} ({}) was deleted or renamed", shown.display()),
        )
        .with_label(label)
        .with_help(help)
        .in_file(shown, None);
        self.diagnostics.push(diagnostic);
    }

    /// When the head file is usable and cannot read what the released one allowed: the
    /// breaking changes in words, and where the first one is. Every change is recorded for the
    /// JSON report, none as breaking the check (the runtime copes: it replays).
    fn incompatible(
        &mut self,
        subject: &Subject,
        released: DocId,
        current: DocId,
    ) -> Option<(String, String)> {
        if self.is_broken(current) {
            return None;
        }
        let changes = self.compare(released, current);
        for change in &changes {
            let mut report =
                ChangeReport::of(change, &self.base.store, &self.head.store, self.level);
            report.breaking = false;
            self.changes.push(CheckedChange {
                contract: subject.contract,
                name: subject.name.clone(),
                version: None,
                against: None,
                change: report,
            });
        }
        let breaking: Vec<&Change> = changes.iter().filter(|c| !c.backward).collect();
        let first = breaking.first()?;
        Some((summary(&breaking, first), first.new.pointer.clone()))
    }

    fn at_head(&mut self, doc: DocId, diagnostic: Diagnostic, pointer: &str) {
        let diagnostic = self
            .head
            .store
            .document(doc)
            .diagnostic_at(diagnostic, pointer);
        self.diagnostics.push(diagnostic);
    }

    fn compare(&self, base: DocId, head: DocId) -> Vec<Change> {
        diff(&self.base.store, &root(base), &self.head.store, &root(head))
    }

    fn base_display(&self, doc: DocId) -> std::path::PathBuf {
        self.base.store.document(doc).display().to_owned()
    }

    /// Reports `diagnostic` at the aggregate's file when it still exists (so CI can annotate
    /// it), else at the base file.
    fn at_aggregate(&mut self, aggregate: &str, base_doc: DocId, diagnostic: Diagnostic) {
        let diagnostic = match self.head.aggregates.get(aggregate) {
            Some(file) => self
                .head
                .store
                .document(file.schema)
                .diagnostic_at(diagnostic, ""),
            None => diagnostic.in_file(self.base_display(base_doc), None),
        };
        self.diagnostics.push(diagnostic);
    }
}

/// `3 changes, e.g. the type changed: string → integer`.
fn summary(all: &[&Change], first: &Change) -> String {
    let detail = if first.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", first.detail)
    };
    match all.len() {
        1 => format!("{}{detail}", first.kind.summary()),
        n => format!("{n} changes, e.g. {}{detail}", first.kind.summary()),
    }
}
