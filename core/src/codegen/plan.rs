//! The first pass of generation: every event version gets its module and its root type's name
//! before anything else is named, so nested types and commands never take an event's name; then
//! each event its variant in its aggregate's enum and each version its root type.

use super::emit::ident;
use super::names::{Scope, field_name, type_name};
use super::types::{Ty, TypeSpace, Unenforced, keyword_pointer};
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::model::{Event, EventVersion, Project, rust_type_name};
use crate::project::naming::Naming;
use crate::schema::bundle;
use proc_macro2::Ident;
use quote::format_ident;
use std::collections::BTreeMap;

/// One event version as planned.
pub(crate) struct Planned {
    /// The version module.
    pub(crate) module: usize,
    /// The root type's name in its module.
    pub(crate) name: String,
    /// The custom upcaster trait's name in its module, when the version has one.
    pub(crate) upcaster: Option<String>,
    /// The root type.
    pub(crate) ty: Ty,
    /// Where the type does not enforce the whole schema: the bundled schema decoding also
    /// checks the payload against, and the first keyword that needs it.
    pub(crate) schema: Option<(String, Unenforced)>,
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
    // Names as `Naming` gives them (validate's `name-gives-way` warnings say the same): the
    // traits hand-written code implements first, in every version module, then the types, so
    // nested types never take one.
    let naming = Naming::of(project);
    space.diagnostics.extend(naming.diagnostics.iter().cloned());
    for event in project.events.values() {
        let (module_name, _) = &aggregates[event.aggregate.as_str()];
        for (version, names) in event
            .versions
            .iter()
            .zip(&naming.versions[&event.event_type()])
        {
            let module = space.module(&[module_name.clone(), format!("v{}", version.version)]);
            if event
                .version_traits(version, &project.store)
                .iter()
                .any(|t| t == "Conversions")
            {
                space.claim_item(module, "conversions", "Conversions");
            }
            if let Some(upcaster) = &names.upcaster {
                let claimed = space.claim(module, upcaster);
                debug_assert_eq!(&claimed, upcaster, "named as Naming names it");
            }
        }
    }
    for event in project.events.values() {
        let (module_name, planned) = aggregates.get_mut(event.aggregate.as_str()).expect("added");
        let mut versions = Vec::new();
        for (version, names) in event
            .versions
            .iter()
            .zip(&naming.versions[&event.event_type()])
        {
            let module = space.module(&[module_name.clone(), format!("v{}", version.version)]);
            space.assign(version.schema, module);
            let name = space.claim(module, &names.name);
            debug_assert_eq!(name, names.name, "named as Naming names it");
            versions.push(Planned {
                module,
                name,
                upcaster: names.upcaster.clone(),
                ty: Ty::Json,
                schema: None,
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
                let root = project.root_of(version.schema);
                planned.ty = space.add_root(&root, &planned.name);
                // Where every unenforced keyword is checked on its own subschema by the types,
                // the payload needs no check against the whole schema. Only below a struct
                // root: a root of another type (a `$ref`, a map) becomes an alias of a type
                // whose checks sit where it is used, not in its `Validate`.
                let checked_below =
                    matches!(planned.ty, Ty::Named(_)) && space.checks_subschemas_of(&root);
                let whole = space.unenforced(&root).filter(|_| !checked_below);
                planned.schema = whole.and_then(|why| {
                    let base = project.root.join(&project.config.schema.dir);
                    let text = bundle::validator_text(&project.store, version.schema, &base)?;
                    if let Err((error, at)) = bundle::compiles(&text) {
                        let document = project.store.document(version.schema);
                        // The bundle's pointers are the file's own, outside its `$defs` of
                        // other files.
                        let at = Some(at).filter(|at| document.get(at).is_some()).unwrap_or_default();
                        space.diagnostics.push(document.diagnostic_at(
                            Diagnostic::new(
                                Rule::SchemaNotEnforced,
                                format!(
                                    "the schema of `{}` v{} does not compile for the validator ({error}), so decoding checks it only as far as its type goes: `{}` at `{}` is left unchecked",
                                    p.event.event_type(),
                                    version.version,
                                    why.keyword,
                                    keyword_pointer(&why)
                                ),
                            )
                            .with_help("rewrite the part the validator rejects (a `pattern` in a syntax ECMA-262 regular expressions do not have, say)"),
                            &at,
                        ));
                        return None;
                    }
                    Some((text, why))
                });
                if let (Ty::Named(id), Some(note)) = (&planned.ty, deprecation(version)) {
                    if space.defs[*id].module == planned.module {
                        space.defs[*id].deprecated = Some(note);
                    }
                }
            }
        }
    }
    // The aggregate module: its own items first, then each event's latest re-export, which
    // gives way where a title would take an item's name.
    for (aggregate, (module_name, planned)) in aggregates.iter_mut() {
        let module = space.module(std::slice::from_ref(module_name));
        let items = crate::project::names::aggregate_items(aggregate);
        for item in &items {
            space.claim(module, item);
        }
        if project.aggregates.contains_key(*aggregate) {
            claim_state_name(project, space, aggregate, module);
        }
        for p in planned.iter_mut() {
            let latest = p.versions.last().expect("an event has a version");
            p.alias = space.claim(module, &latest.name);
            debug_assert_eq!(
                Some(&p.alias),
                naming.aliases.get(&p.event.event_type()),
                "named as Naming names it"
            );
        }
    }
    aggregates
}

/// The name of `aggregate`'s state type in its module: its file's `title`, else the aggregate's
/// name. Claimed with the aggregate's own items, before any event's re-export.
pub(crate) fn claim_state_name(
    project: &Project,
    space: &mut TypeSpace<'_>,
    aggregate: &str,
    module: usize,
) -> String {
    let name = crate::project::naming::state_name(project, aggregate)
        .unwrap_or_else(|| rust_type_name(None, aggregate));
    space.claim_item(module, "state", &name)
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
