//! The module tree of a project's events: versioned modules with their types and upcasters, one
//! module per aggregate with latest-version aliases, decode chains and the aggregate's event enum,
//! `DomainEvent` at the root, and the generated tests. [`render`] plans every event version and
//! hands each aggregate to [`aggregate`], the whole domain to [`domain`] and the tests to [`tests`].

mod aggregate;
mod domain;
mod tests;

use super::api::api_of;
use super::parallel::parallel_map;
use super::plan::{self, Planned, PlannedEvent, aggregate_enum_name};
use aggregate::{RootCounts, aggregate_source};
use domain::DomainEnum;
use tests::event_tests;

use super::Settings;
use super::api::Api;
use super::deciders;
use super::emit::{Emitter, doc_attrs, format_items, ident, path};
use super::names::{Scope, field_name};
use super::projections;
use super::sagas;
use super::types::{Ty, TypeSpace};
use super::upcast::Upcasts;
use super::windows;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::project::model::{EventVersion, Project};
use crate::project::upcast::payload::apply_to_value;
use crate::schema::store::NodeRef;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;
use std::collections::BTreeMap;

/// The formatted source of the whole tree (without the header), and warnings.
pub fn render(
    project: &Project,
    settings: &Settings,
) -> Result<(String, Vec<Diagnostic>, Api), Vec<Diagnostic>> {
    let mut space = TypeSpace::new(&project.store);
    space.check_subschemas();
    let mut root_names = Scope::new();
    for reserved in [super::types::SHARED_MODULE, "tests"] {
        root_names.claim(reserved.to_owned());
    }
    if !project.projections.is_empty() {
        root_names.claim(projections::MODULE.to_owned());
    }
    if !project.sagas.is_empty() {
        root_names.claim(sagas::MODULE.to_owned());
    }
    if !project.windows.is_empty() {
        root_names.claim(windows::MODULE.to_owned());
    }
    let aggregates = plan::plan_events(project, &mut space, &mut root_names);
    // Each aggregate's commands and state, after every event so events keep their names.
    let mut models = BTreeMap::new();
    for (aggregate, (module_name, _)) in &aggregates {
        models.insert(
            *aggregate,
            deciders::plan(project, &mut space, aggregate, module_name),
        );
    }
    let projection_plan =
        (!project.projections.is_empty()).then(|| projections::plan(project, &mut space));
    let saga_plan = (!project.sagas.is_empty()).then(|| sagas::plan(project, &mut space));
    let window_plan = (!project.windows.is_empty()).then(|| windows::plan(project, &mut space));
    let mut api = api_of(
        project,
        &space,
        &aggregates,
        &models,
        projection_plan.as_ref(),
    );
    if let Some((module, planned)) = &saga_plan {
        for p in planned {
            api.sagas.push(super::api::SagaApi {
                name: p.saga.name.clone(),
                saga: super::api::path_in(&space, *module, &p.runner),
                state: super::api::path_in(&space, *module, &p.state),
                rules: super::api::path_in(&space, *module, &p.rules),
                methods: p.methods(),
            });
        }
    }
    if let Some((module, planned)) = &window_plan {
        for p in planned {
            api.windows.push(super::api::WindowApi {
                name: p.window.name.clone(),
                window: super::api::path_in(&space, *module, &p.runner),
                row: super::api::path_in(&space, *module, &p.row),
                rules: p
                    .rules
                    .as_ref()
                    .map(|rules| super::api::path_in(&space, *module, rules)),
                custom: p.custom().into_iter().map(str::to_owned).collect(),
            });
        }
    }
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
            Ok((source, mut conversions)) => {
                sources.push(source);
                api.conversions.append(&mut conversions);
            }
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
    if let Some((module, planned)) = &saga_plan {
        let items = sagas::tokens(project, *module, planned, &emitter, settings.tests);
        sources.push(format_items(
            quote! {
                /// The sagas: each one's state type and what the saga runner runs.
                #[allow(dead_code, deprecated)]
                pub mod sagas { #(#items)* }
            },
            settings.format,
        ));
    }
    if let Some((module, planned)) = &window_plan {
        let items = windows::tokens(project, *module, planned, &emitter);
        sources.push(format_items(
            quote! {
                /// The windows: each one's aggregates and row types and what the window runner runs.
                #[allow(dead_code, deprecated)]
                pub mod windows { #(#items)* }
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

/// A number literal without a type suffix.
pub(super) fn unsuffixed(n: u32) -> Literal {
    Literal::u32_unsuffixed(n)
}
