//! The names generated code gives events, computed once in the order the generator claims them:
//! each version's type and traits in its version module, each event's re-export in its
//! aggregate's module, and its `DomainEvent` variant. `generate` names its items from here and
//! `validate` warns from here (`name-gives-way`), so a warning gives the names generated.

use crate::diagnostic::{Diagnostic, Rule};
use crate::project::model::{Event, Project, rust_type_name};
use crate::project::names::{Scope, aggregate_items};
use crate::schema::store::DocId;
use heck::ToSnakeCase;
use serde_json::Value;
use std::collections::BTreeMap;

/// One event version's items in its version module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNames {
    /// The root type's name.
    pub name: String,
    /// The custom upcaster trait's name (`<Name>FromV<N>`), when the version has one.
    pub upcaster: Option<String>,
}

/// Every event's names, and a warning for each title that gave way.
#[derive(Debug, Default)]
pub struct Naming {
    /// By event type, one per version, oldest first.
    pub versions: BTreeMap<String, Vec<VersionNames>>,
    /// By event type: the name its latest version is re-exported under in its aggregate's module.
    pub aliases: BTreeMap<String, String>,
    /// By event type: its variant of `DomainEvent`.
    pub variants: BTreeMap<String, String>,
    /// `name-gives-way` warnings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Who took a name first, to say so when a title gives way.
#[derive(Clone)]
enum Claimer {
    /// An item generated code declares, described.
    Item(String),
    /// An event version's type, with its file and whether it is the event's latest version.
    Event(String, DocId, bool),
}

/// One module's names and who claimed each.
#[derive(Default)]
struct Claims {
    scope: Scope,
    by: BTreeMap<String, Claimer>,
}

impl Claims {
    fn claim(&mut self, name: String, claimer: Claimer) -> String {
        let claimed = self.scope.claim(name);
        self.by.insert(claimed.clone(), claimer);
        claimed
    }
}

impl Naming {
    /// Names every event of `project`.
    pub fn of(project: &Project) -> Self {
        let mut naming = Naming::default();
        naming.version_modules(project);
        naming.aggregate_modules(project);
        naming.domain_event(project);
        naming
    }

    /// Version modules: the traits hand-written code implements first, then the types.
    fn version_modules(&mut self, project: &Project) {
        let store = &project.store;
        let mut modules: BTreeMap<(&str, u32), Claims> = BTreeMap::new();
        let mut upcasters: BTreeMap<(String, u32), String> = BTreeMap::new();
        for event in project.events.values() {
            for version in &event.versions {
                let claims = modules
                    .entry((&event.aggregate, version.version))
                    .or_default();
                for name in event.version_traits(version, store) {
                    let file = store
                        .document(version.schema)
                        .display()
                        .display()
                        .to_string();
                    if name == "Conversions" {
                        if !claims.by.contains_key(&name) {
                            let what = format!(
                                "the `Conversions` trait of the `convert` rules of `{}` ({file})",
                                event.event_type()
                            );
                            claims.claim(name, Claimer::Item(what));
                        }
                    } else {
                        let what = format!(
                            "the custom upcaster trait of `{}` v{} ({file})",
                            event.event_type(),
                            version.version
                        );
                        let claimed = claims.claim(name, Claimer::Item(what));
                        upcasters.insert((event.event_type(), version.version), claimed);
                    }
                }
            }
        }
        for event in project.events.values() {
            let mut names = Vec::new();
            for version in &event.versions {
                let claims = modules
                    .get_mut(&(event.aggregate.as_str(), version.version))
                    .expect("claimed above");
                let wanted = event.version_rust_name(version, &project.store);
                let latest = version.version == event.latest().version;
                let claimer = Claimer::Event(
                    format!("`{}` v{}", event.event_type(), version.version),
                    version.schema,
                    latest,
                );
                let taken = claims.by.get(&wanted).cloned();
                let name = claims.claim(wanted.clone(), claimer);
                // Two latest versions with one type name are a `name-collision` error.
                let collision = latest && matches!(taken, Some(Claimer::Event(_, _, true)));
                if let Some(taken) = taken.filter(|_| name != wanted && !collision) {
                    self.give_way(
                        project,
                        version.schema,
                        format!(
                            "the type of `{}` v{} would be `{wanted}`, which {} has in the version's module: it is `{name}` there",
                            event.event_type(),
                            version.version,
                            describe(project, &taken)
                        ),
                    );
                }
                names.push(VersionNames {
                    name,
                    upcaster: upcasters.remove(&(event.event_type(), version.version)),
                });
            }
            self.versions.insert(event.event_type(), names);
        }
    }

    /// Aggregate modules: the aggregate's own items and state type first, then each event's
    /// latest version's re-export.
    fn aggregate_modules(&mut self, project: &Project) {
        let mut modules: BTreeMap<&str, Claims> = BTreeMap::new();
        for event in project.events.values() {
            let claims = modules.entry(&event.aggregate).or_insert_with(|| {
                let mut claims = Claims::default();
                let what = format!("aggregate `{}`'s generated code", event.aggregate);
                for item in aggregate_items(&event.aggregate) {
                    claims.claim(item, Claimer::Item(what.clone()));
                }
                if let Some(name) = state_name(project, &event.aggregate) {
                    let what = format!("aggregate `{}`'s state type", event.aggregate);
                    claims.claim(name, Claimer::Item(what));
                }
                claims
            });
            let latest = self.latest_name(event);
            let schema = event.latest().schema;
            let taken = claims.by.get(&latest).cloned();
            let alias = claims.claim(
                latest.clone(),
                Claimer::Event(format!("`{}`", event.event_type()), schema, true),
            );
            // Two events of one aggregate with one type name are a `name-collision` error.
            if let Some(taken @ Claimer::Item(_)) = taken.filter(|_| alias != latest) {
                self.give_way(
                    project,
                    schema,
                    format!(
                        "the type of `{}` is `{latest}`, a name {} already uses: its module re-exports it as `{alias}`",
                        event.event_type(),
                        describe(project, &taken)
                    ),
                );
            }
            self.aliases.insert(event.event_type(), alias);
        }
    }

    /// `DomainEvent`: one variant per event, aggregate by aggregate.
    fn domain_event(&mut self, project: &Project) {
        let mut events: Vec<&Event> = project.events.values().collect();
        events.sort_by(|a, b| (&a.aggregate, &a.name).cmp(&(&b.aggregate, &b.name)));
        let mut claims = Claims::default();
        let mut aggregate_of: BTreeMap<String, String> = BTreeMap::new();
        for event in events {
            let latest = self.latest_name(event);
            let schema = event.latest().schema;
            let taken = claims.by.get(&latest).cloned();
            let variant = claims.claim(
                latest.clone(),
                Claimer::Event(format!("`{}`", event.event_type()), schema, true),
            );
            let aggregate = event.aggregate.to_snake_case();
            // Aggregates whose names collide (`Order`, `order`) are a `name-collision` error.
            let same_aggregate = aggregate_of.get(&latest) == Some(&aggregate);
            aggregate_of.entry(latest.clone()).or_insert(aggregate);
            if let Some(Claimer::Event(first, first_schema, _)) =
                taken.filter(|_| variant != latest && !same_aggregate)
            {
                let first_file = project
                    .store
                    .document(first_schema)
                    .display()
                    .display()
                    .to_string();
                self.give_way(
                    project,
                    schema,
                    format!(
                        "`{}` and {first} ({first_file}) both have the type name `{latest}`: `DomainEvent`'s variant for `{}` is `{variant}`",
                        event.event_type(),
                        event.event_type()
                    ),
                );
            }
            self.variants.insert(event.event_type(), variant);
        }
    }

    fn latest_name(&self, event: &Event) -> String {
        self.versions[&event.event_type()]
            .last()
            .expect("an event has a version")
            .name
            .clone()
    }

    fn give_way(&mut self, project: &Project, schema: DocId, message: String) {
        let document = project.store.document(schema);
        let titled = document.get("/title").is_some();
        let (label, help, at) = if titled {
            (
                "this title's type gives way",
                "give the event another `title` to keep its name",
                "/title",
            )
        } else {
            (
                "this event's type gives way",
                "give the event a `title` to name its type",
                "",
            )
        };
        let diagnostic = Diagnostic::new(Rule::NameGivesWay, message)
            .with_label(label)
            .with_help(help);
        self.diagnostics
            .push(document.diagnostic_at(diagnostic, at));
    }
}

/// `aggregate`'s state type name: its file's `title`, else the aggregate's name; `None` without
/// an aggregate file.
pub fn state_name(project: &Project, aggregate: &str) -> Option<String> {
    let file = project.aggregates.get(aggregate)?;
    let title = project
        .store
        .document(file.schema)
        .get("/title")
        .and_then(Value::as_str);
    Some(rust_type_name(title, aggregate))
}

fn describe(project: &Project, claimer: &Claimer) -> String {
    match claimer {
        Claimer::Item(what) => what.clone(),
        Claimer::Event(what, schema, _) => format!(
            "{what} ({})",
            project.store.document(*schema).display().display()
        ),
    }
}
