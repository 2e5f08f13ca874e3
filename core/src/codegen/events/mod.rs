//! The module tree of a project's events: versioned modules with their types and upcasters, one
//! module per aggregate with latest-version aliases, decode chains and the aggregate's event enum,
//! `DomainEvent` at the root, and the generated tests. [`render`] plans every event version and
//! hands each aggregate to [`aggregate`], the whole domain to [`domain`] and the tests to [`tests`].

mod aggregate;
mod domain;
mod tests;

use super::api::api_of;
use super::parallel::parallel_map;
use aggregate::{RootCounts, aggregate_source, deprecation, upcast_function, version_name};
use domain::DomainEnum;
use tests::event_tests;

use super::Settings;
use super::api::Api;
use super::deciders;
use super::emit::{Emitter, doc_attrs, format_items, ident, path};
use super::names::{Scope, field_name, type_name};
use super::projections;
use super::types::{Ty, TypeSpace};
use super::upcast::Upcasts;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::project::model::{Event, EventVersion, Project, rust_type_name};
use crate::project::upcast::payload::apply_to_value;
use crate::schema::store::NodeRef;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
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
}

/// The formatted source of the whole tree (without the header), and warnings.
pub fn render(
    project: &Project,
    settings: &Settings,
) -> Result<(String, Vec<Diagnostic>, Api), Vec<Diagnostic>> {
    let mut space = TypeSpace::new(&project.store);
    let mut root_names = Scope::new();
    for reserved in [super::types::SHARED_MODULE, "tests"] {
        root_names.claim(reserved.to_owned());
    }
    if !project.projections.is_empty() {
        root_names.claim(projections::MODULE.to_owned());
    }
    // Aggregates with events, each a module.
    let mut aggregates: BTreeMap<&str, (String, Vec<PlannedEvent<'_>>)> = BTreeMap::new();
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
    // Each aggregate's commands and state, after every event so events keep their names.
    let mut models = BTreeMap::new();
    for (aggregate, (module_name, planned)) in &aggregates {
        let module = space.module(std::slice::from_ref(module_name));
        for p in planned {
            let latest = p.versions.last().expect("an event has a version");
            space.claim(module, &latest.name);
        }
        space.claim(module, &aggregate_enum_name(aggregate).to_string());
        models.insert(
            *aggregate,
            deciders::plan(project, &mut space, aggregate, module_name),
        );
    }
    let projection_plan =
        (!project.projections.is_empty()).then(|| projections::plan(project, &mut space));
    let api = api_of(
        project,
        &space,
        &aggregates,
        &models,
        projection_plan.as_ref(),
    );
    let emitter = Emitter::new(&space);
    let roots = RootCounts::new(&aggregates);
    let mut domain = DomainEnum::default();
    for (aggregate, (module_name, planned)) in &aggregates {
        domain.add(
            &aggregate_enum_name(aggregate),
            module_name,
            planned,
            &space,
            &roots,
        );
    }
    // Each aggregate's module is planned into tokens and formatted on its own, on every core;
    // concatenating formatted items gives the bytes formatting the whole file would.
    let jobs: Vec<(&&str, &(String, Vec<PlannedEvent<'_>>))> = aggregates.iter().collect();
    let results = parallel_map(&jobs, |(aggregate, (module_name, planned))| {
        aggregate_source(
            project,
            settings,
            &emitter,
            aggregate,
            module_name,
            planned,
            &roots,
            &models[**aggregate],
        )
    });
    let mut errors = Vec::new();
    let mut sources = Vec::new();
    if let Some(shared) = space
        .modules
        .iter()
        .position(|m| m.len() == 1 && m[0] == super::types::SHARED_MODULE)
    {
        let body = emitter.module_items(shared);
        sources.push(format_items(
            quote! {
                /// Types shared between events: the schemas their `$ref`s point to outside the event files.
                #[allow(dead_code, deprecated)]
                pub mod types { #(#body)* }
            },
            settings.format,
        ));
    }
    for result in results {
        match result {
            Ok(source) => sources.push(source),
            Err(mut found) => errors.append(&mut found),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if let Some((module, planned)) = &projection_plan {
        let here = [projections::MODULE.to_owned()];
        let subscribed = |event_type: &str| {
            let index = domain.event_types.iter().position(|t| t == event_type)?;
            let (module, name) = &domain.targets[index];
            Some(projections::Subscribed {
                variant: domain.variants[index].clone(),
                ty: path(&here, &space.modules[*module], name),
            })
        };
        let items = projections::tokens(
            *module,
            planned,
            &emitter,
            &subscribed,
            domain.variants.len(),
        );
        sources.push(format_items(
            quote! {
                /// The read models: each projection's row type and table, the handler trait its
                /// logic implements, and the projection the runner runs.
                #[allow(dead_code, deprecated)]
                pub mod projections { #(#items)* }
            },
            settings.format,
        ));
    }
    let domain = domain.tokens();
    sources.push(format_items(
        quote! {
            #domain
            /// The type custom upcasters and named conversions are implemented for: implement each
            /// generated `…FromV<N>` and `Conversions` trait for it in your crate.
            #[derive(Debug, Clone, Copy, Default)]
            #[allow(dead_code)]
            pub struct Upcasters;
        },
        settings.format,
    ));
    let warnings = space.diagnostics.clone();
    Ok((sources.concat(), warnings, api))
}

/// `<Aggregate>Event`.
pub(crate) fn aggregate_enum_name(aggregate: &str) -> Ident {
    ident(&format!("{}Event", type_name(aggregate, "Aggregate")))
}

/// A number literal without a type suffix.
pub(super) fn unsuffixed(n: u32) -> Literal {
    Literal::u32_unsuffixed(n)
}
