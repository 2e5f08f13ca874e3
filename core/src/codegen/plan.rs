//! The first pass of generation: every event version gets its module and its root type's name
//! before anything else is named, so nested types and commands never take an event's name; then
//! each event its variant in its aggregate's enum and each version its root type.

use super::emit::ident;
use super::names::{Scope, field_name, type_name};
use super::types::{Ty, TypeSpace};
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::model::{Event, EventVersion, Project, rust_type_name};
use proc_macro2::Ident;
use quote::format_ident;
use serde_json::Value;
use std::collections::BTreeMap;

/// One event version as planned.
pub(crate) struct Planned {
    /// The version module.
    pub(crate) module: usize,
    /// The root type's name in its module.
    pub(crate) name: String,
    /// The root type.
    pub(crate) ty: Ty,
}

/// One event with its planned versions.
pub(crate) struct PlannedEvent<'p> {
    pub(crate) event: &'p Event,
    pub(crate) versions: Vec<Planned>,
    /// The variant in the aggregate's enum.
    pub(crate) variant: String,
    /// The name of its decode function in the aggregate module.
    pub(crate) decode: String,
    /// The name its latest version is re-exported under in the aggregate module: its type's
    /// name, unless one of the aggregate's own items has it.
    pub(crate) alias: String,
}

/// The aggregates with events, by name: each one's module name and its planned events.
pub(crate) type Aggregates<'p> = BTreeMap<&'p str, (String, Vec<PlannedEvent<'p>>)>;

/// Plans every event of `project`: one module per aggregate (named in `root_names`), one per
/// version, and the root types.
pub(crate) fn plan_events<'p>(
    project: &'p Project,
    space: &mut TypeSpace<'p>,
    root_names: &mut Scope,
) -> Aggregates<'p> {
    // Aggregates with events, each a module.
    let mut aggregates: Aggregates<'p> = BTreeMap::new();
    for event in project.events.values() {
        aggregates
            .entry(event.aggregate.as_str())
            .or_insert_with(|| (root_names.claim(field_name(&event.aggregate)), Vec::new()));
    }
    // Names first, so nested types never take an event's name.
    for event in project.events.values() {
        let (module_name, planned) = aggregates.get_mut(event.aggregate.as_str()).expect("added");
        let mut versions = Vec::new();
        for version in &event.versions {
            let module = space.module(&[module_name.clone(), format!("v{}", version.version)]);
            space.assign(version.schema, module);
            let name = space.claim(module, &version_name(project, event, version));
            versions.push(Planned {
                module,
                name,
                ty: Ty::Json,
            });
        }
        planned.push(PlannedEvent {
            event,
            versions,
            variant: String::new(),
            decode: format!("decode_{}", field_name(&event.name).trim_end_matches('_')),
            alias: String::new(),
        });
    }
    for (_, planned) in aggregates.values_mut() {
        let mut variants = Scope::new();
        for p in planned.iter_mut() {
            p.variant = variants.claim(type_name(&p.event.name, "Event"));
            for (planned, version) in p.versions.iter_mut().zip(&p.event.versions) {
                planned.ty = space.add_root(&project.root_of(version.schema), &planned.name);
                if let (Ty::Named(id), Some(note)) = (&planned.ty, deprecation(version)) {
                    if space.defs[*id].module == planned.module {
                        space.defs[*id].deprecated = Some(note);
                    }
                }
            }
        }
    }
    // The aggregate module: its own items first, then each event's latest re-export, which
    // gives way (with a warning) where a title would take an item's name.
    for (aggregate, (module_name, planned)) in aggregates.iter_mut() {
        let module = space.module(std::slice::from_ref(module_name));
        let items = crate::project::names::aggregate_items(aggregate);
        for item in &items {
            space.claim(module, item);
        }
        for p in planned.iter_mut() {
            let latest = p.versions.last().expect("an event has a version");
            p.alias = space.claim(module, &latest.name);
            if p.alias != latest.name {
                let document = project.store.document(p.event.latest().schema);
                space.diagnostics.push(document.diagnostic_at(
                    Diagnostic::new(
                        Rule::NameGivesWay,
                        format!(
                            "`{}` is titled so that its type is `{}`, a name aggregate `{aggregate}`'s generated code already uses: module `{module_name}` re-exports it as `{}`",
                            p.event.event_type(),
                            latest.name,
                            p.alias
                        ),
                    )
                    .with_label("this title's type gives way")
                    .with_help(format!(
                        "give the event another `title`; `{}` stays the name of the aggregate's own item",
                        latest.name
                    )),
                    "/title",
                ));
            }
        }
    }
    aggregates
}

/// `<Aggregate>Event`.
pub(crate) fn aggregate_enum_name(aggregate: &str) -> Ident {
    let [event_enum, ..] = crate::project::names::aggregate_items(aggregate);
    ident(&event_enum)
}

/// `<event>_from_v<N-1>`, in version N's module.
pub(crate) fn upcast_function(p: &PlannedEvent<'_>, index: usize) -> Ident {
    let event = field_name(&p.event.name);
    format_ident!(
        "{}_from_v{}",
        event.trim_end_matches('_'),
        p.event.versions[index].version - 1
    )
}

/// The note of a version deprecated by `x-eventsmith.deprecated`.
fn deprecation(version: &EventVersion) -> Option<String> {
    use crate::project::annotations::Deprecation;
    match version.annotations.deprecated.as_ref()? {
        Deprecation::Flag(true) => Some("this event version is deprecated".to_owned()),
        Deprecation::Flag(false) => None,
        Deprecation::Details {
            reason,
            replaced_by: Some(replacement),
        } => Some(format!("{reason} (use `{replacement}`)")),
        Deprecation::Details { reason, .. } => Some(reason.clone()),
    }
}

/// The Rust name of one version's root type: its `title`, else `<aggregate>_<name>`.
fn version_name(project: &Project, event: &Event, version: &EventVersion) -> String {
    let title = project
        .store
        .document(version.schema)
        .get("/title")
        .and_then(Value::as_str);
    rust_type_name(title, &format!("{}_{}", event.aggregate, event.name))
}
