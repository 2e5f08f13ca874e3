//! The module tree of a project's events: versioned modules with their types and upcasters, one
//! module per aggregate with latest-version aliases, decode chains and the aggregate's event enum,
//! `DomainEvent` at the root, and the generated tests.

use super::Settings;
use super::api::{
    AggregateApi, Api, Apply, Decide, EventApi, ProjectionApi, fields_of, path_in, required_of,
};
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
struct Planned {
    /// The version module.
    module: usize,
    /// The root type's name in its module.
    name: String,
    /// The root type.
    ty: Ty,
}

/// One event with its planned versions.
struct PlannedEvent<'p> {
    event: &'p Event,
    versions: Vec<Planned>,
    /// The variant in the aggregate's enum.
    variant: String,
    /// The name of its decode function in the aggregate module.
    decode: String,
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

/// What the generated code offers hand-written code, named exactly as generated.
fn api_of(
    project: &Project,
    space: &TypeSpace<'_>,
    aggregates: &BTreeMap<&str, (String, Vec<PlannedEvent<'_>>)>,
    models: &BTreeMap<&str, deciders::PlannedModel<'_>>,
    projection_plan: Option<&(usize, Vec<projections::PlannedProjection<'_>>)>,
) -> Api {
    let category = |aggregate: &str| {
        project
            .aggregates
            .get(aggregate)
            .map_or(aggregate, |a| a.stream_category())
            .to_owned()
    };
    let event_api = |p: &PlannedEvent<'_>| {
        let latest = p.versions.last().expect("an event has a version");
        EventApi {
            event_type: p.event.event_type(),
            ty: path_in(space, latest.module, &latest.name),
            variant: p.variant.clone(),
            fields: fields_of(space, &latest.ty),
            category: category(&p.event.aggregate),
        }
    };
    let mut api = Api::default();
    for (aggregate, (module_name, planned)) in aggregates {
        let model = &models[aggregate];
        let Some((file, state_name, state_ty)) = &model.state else {
            continue;
        };
        let (decides, applies) = deciders::method_names(
            model,
            planned
                .iter()
                .map(|p| deciders::apply_method(&p.event.name)),
        );
        let in_module = |name: &str| vec![module_name.clone(), name.to_owned()];
        api.aggregates.push(AggregateApi {
            name: (*aggregate).to_owned(),
            module: module_name.clone(),
            rules: in_module(&model.names[1]),
            aggregate: in_module(&model.names[2]),
            event_enum: in_module(&aggregate_enum_name(aggregate).to_string()),
            state: in_module(state_name),
            state_fields: fields_of(space, state_ty),
            snapshot_every: file.annotations.snapshot.as_ref().map(|s| s.every),
            decides: model
                .commands
                .iter()
                .zip(decides)
                .map(|(c, method)| Decide {
                    method,
                    command: c.command.name.clone(),
                    command_type: path_in(space, model.commands_module, &c.name),
                    command_fields: fields_of(space, &c.ty),
                    command_required: required_of(space, &c.ty),
                    emits: c
                        .command
                        .annotations
                        .emits
                        .iter()
                        .filter_map(|event_type| {
                            planned
                                .iter()
                                .find(|p| &p.event.event_type() == event_type)
                                .map(event_api)
                        })
                        .collect(),
                })
                .collect(),
            applies: planned
                .iter()
                .zip(applies)
                .map(|(p, method)| Apply {
                    method,
                    event: event_api(p),
                })
                .collect(),
        });
    }
    if let Some((module, planned)) = projection_plan {
        let find = |event_type: &str| {
            aggregates
                .values()
                .flat_map(|(_, planned)| planned)
                .find(|p| p.event.event_type() == event_type)
        };
        for p in planned
            .iter()
            .filter(|p| projections::has_handler(p, space, *module))
        {
            api.projections.push(ProjectionApi {
                name: p.projection.name.clone(),
                handler: path_in(space, *module, &p.handler),
                projection: path_in(space, *module, &p.runner),
                row: path_in(space, *module, &p.row),
                key: p.projection.annotations.key.clone(),
                row_fields: fields_of(space, &p.ty),
                handles: projections::handler_methods(p, &|t| find(t).is_some())
                    .into_iter()
                    .filter_map(|(event_type, method)| {
                        Some(Apply {
                            method,
                            event: event_api(find(&event_type)?),
                        })
                    })
                    .collect(),
            });
        }
    }
    api
}

/// `<Aggregate>Event`.
fn aggregate_enum_name(aggregate: &str) -> Ident {
    ident(&format!("{}Event", type_name(aggregate, "Aggregate")))
}

/// `f` over `items` on every available core, results in input order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    if workers == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// The formatted module of one aggregate: its version modules with their types, upcasters and
/// `Event` impls, the latest aliases, decode chains, the aggregate's enum and its tests.
#[allow(clippy::too_many_arguments)]
fn aggregate_source(
    project: &Project,
    settings: &Settings,
    emitter: &Emitter<'_, '_>,
    aggregate: &str,
    module_name: &str,
    planned: &[PlannedEvent<'_>],
    roots: &RootCounts,
    model: &deciders::PlannedModel<'_>,
) -> Result<String, Vec<Diagnostic>> {
    let space = emitter.space;
    let aggregate_path = vec![module_name.to_owned()];
    let mut versions: BTreeMap<u32, usize> = BTreeMap::new();
    for p in planned {
        for (planned, version) in p.versions.iter().zip(&p.event.versions) {
            versions.insert(version.version, planned.module);
        }
    }
    let mut items: BTreeMap<usize, Vec<TokenStream>> = versions
        .values()
        .map(|&module| (module, emitter.module_items(module)))
        .collect();
    let mut errors = Vec::new();
    let mut aggregate_items = Vec::new();
    let mut aliases = Scope::new();
    let mut version_upcasts: BTreeMap<usize, Upcasts<'_, '_, '_>> = BTreeMap::new();
    let mut tests = Vec::new();
    let mut latest_aliases = Vec::new();
    for p in planned {
        let event_type = p.event.event_type();
        // Each version: the root alias where needed, the Event impl, the upcaster from the
        // previous version.
        for (index, (planned, version)) in p.versions.iter().zip(&p.event.versions).enumerate() {
            let module_path = space.modules[planned.module].clone();
            let owned = matches!(planned.ty, Ty::Named(id) if space.defs[id].module == planned.module && space.defs[id].name == planned.name);
            let name = ident(&planned.name);
            let module_items = items.entry(planned.module).or_default();
            if !owned {
                let ty = emitter.ty(&planned.ty, &module_path);
                let doc = format!(" `{event_type}` v{}.", version.version);
                module_items.push(quote! { #[doc = #doc] pub type #name = #ty; });
            } else if roots.count(&planned.ty) == 1 {
                let number = unsuffixed(version.version);
                module_items.push(quote! {
                    impl ::eventsmith::Event for #name {
                        const EVENT_TYPE: &'static str = #event_type;
                        const VERSION: u32 = #number;
                    }
                });
            }
            if index == 0 {
                continue;
            }
            let previous = &p.versions[index - 1];
            let upcasts = version_upcasts
                .entry(planned.module)
                .or_insert_with(|| Upcasts::new(emitter, &module_path));
            let upcasters = path(&module_path, &[], "Upcasters");
            match upcaster(
                project, p, index, previous, planned, version, upcasts, &upcasters,
            ) {
                Ok(function) => module_items.push(function),
                Err(error) => errors.push(error),
            }
        }
        // The latest alias and the decode chain.
        let latest = p.versions.last().expect("an event has a version");
        let latest_path = path(&aggregate_path, &space.modules[latest.module], &latest.name);
        let alias = aliases.claim(latest.name.clone());
        let alias_ident = ident(&alias);
        latest_aliases.push(alias_ident.clone());
        aggregate_items.push(if alias == latest.name {
            quote! { #[allow(deprecated)] pub use #latest_path; }
        } else {
            quote! { #[allow(deprecated)] pub use #latest_path as #alias_ident; }
        });
        aggregate_items.push(decode_function(p, space, &aggregate_path, &alias_ident));
        if settings.tests {
            tests.extend(event_tests(project, p, space, &aggregate_path));
        }
    }
    // Helper conversions, and the traits of named conversions, module by module.
    for (module, upcasts) in version_upcasts {
        let module_items = items.entry(module).or_default();
        module_items.extend(upcasts.items);
        if !upcasts.conversions.is_empty() {
            let module_path = &space.modules[module];
            let methods = upcasts.conversions.iter().map(|c| {
                let (name, input, output) = (&c.name, &c.input, &c.output);
                quote! { fn #name(value: #input) -> ::std::result::Result<#output, ::eventsmith::UpcastError>; }
            });
            let upcasters = path(module_path, &[], "Upcasters");
            let message = format!(
                "the conversions named by `convert` rules of {} are not implemented",
                module_path.join("::")
            );
            let note = format!(
                "implement `{}::Conversions` for `Upcasters`",
                module_path.join("::")
            );
            module_items.push(quote! {
                /// The named conversions `convert` upcast rules of this version use. Implement
                /// it for the generated `Upcasters`.
                #[diagnostic::on_unimplemented(message = #message, note = #note)]
                pub trait Conversions { #(#methods)* }
                const _: () = {
                    fn implemented<T: Conversions>() {}
                    let _ = implemented::<#upcasters>;
                };
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let enum_name = aggregate_enum_name(aggregate);
    aggregate_items.push(aggregate_enum(&enum_name, planned, &aggregate_path, space));
    let rule_events: Vec<deciders::RuleEvent> = planned
        .iter()
        .zip(&latest_aliases)
        .map(|(p, alias)| deciders::RuleEvent {
            variant: ident(&p.variant),
            ty: quote! { #alias },
            event_type: p.event.event_type(),
            method: ident(&deciders::apply_method(&p.event.name)),
        })
        .collect();
    aggregate_items.extend(deciders::tokens(
        model,
        emitter,
        aggregate,
        &aggregate_path,
        &enum_name,
        &rule_events,
    ));
    if !tests.is_empty() {
        aggregate_items.push(quote! {
            #[cfg(test)]
            mod tests {
                #(#tests)*
            }
        });
    }
    let version_modules = versions.iter().map(|(number, module)| {
        let body = items.remove(module).unwrap_or_default();
        let module_name = format_ident!("v{}", number);
        let doc = format!(" Version {number} of the `{aggregate}` events.");
        quote! { #[doc = #doc] pub mod #module_name { #(#body)* } }
    });
    let module_ident = ident(module_name);
    let doc = doc_attrs(Some(&format!(
        "The `{aggregate}` aggregate's events: every version, the latest aliased here."
    )));
    Ok(format_items(
        quote! {
            #doc
            #[allow(dead_code, deprecated)]
            pub mod #module_ident {
                #(#version_modules)*
                #(#aggregate_items)*
            }
        },
        settings.format,
    ))
}

/// How many event versions have each named type as their root: a root shared by several gets no
/// `Event` impl and no `From` conversion (they would conflict).
struct RootCounts(std::collections::HashMap<usize, usize>);

impl RootCounts {
    fn new(aggregates: &BTreeMap<&str, (String, Vec<PlannedEvent<'_>>)>) -> Self {
        let mut counts = std::collections::HashMap::new();
        for (_, planned) in aggregates.values() {
            for version in planned.iter().flat_map(|p| &p.versions) {
                if let Ty::Named(id) = version.ty {
                    *counts.entry(id).or_insert(0) += 1;
                }
            }
        }
        Self(counts)
    }

    /// Roots of other shapes (`serde_json::Value`, a vector, …) count as shared.
    fn count(&self, ty: &Ty) -> usize {
        match ty {
            Ty::Named(id) => self.0.get(id).copied().unwrap_or(0),
            _ => usize::MAX,
        }
    }
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

/// The upcaster from the previous version into `planned`: generated from the rules, or a call
/// into the custom trait the user implements.
#[allow(clippy::too_many_arguments)]
fn upcaster(
    project: &Project,
    p: &PlannedEvent<'_>,
    index: usize,
    previous: &Planned,
    planned: &Planned,
    version: &EventVersion,
    upcasts: &mut Upcasts<'_, '_, '_>,
    upcasters: &TokenStream,
) -> Result<TokenStream, Diagnostic> {
    let event_type = p.event.event_type();
    let from = version.version - 1;
    let function = upcast_function(p, index);
    let doc = format!("Upcasts `{event_type}` v{from} to v{}.", version.version);
    let upcast = version.annotations.upcast.clone().unwrap_or_default();
    let module_path = upcasts.module().to_vec();
    if upcast.custom {
        let old = upcasts.type_tokens(&previous.ty);
        let new = ident(&planned.name);
        let trait_name = format_ident!("{}FromV{}", planned.name, from);
        let message = format!(
            "the custom upcaster of `{event_type}` v{from} → v{} is not implemented",
            version.version
        );
        let note = format!(
            "implement `{}::{trait_name}` for `Upcasters`: its `upcast` turns a v{from} event into v{}",
            module_path.join("::"),
            version.version
        );
        let doc_fn = format!(" {doc} Calls the custom upcaster [`{trait_name}`].");
        let doc = format!(" {doc}");
        return Ok(quote! {
            #[doc = #doc]
            #[doc = ""]
            #[doc = " Implement it for the generated `Upcasters` in your crate; the build fails until you do."]
            #[diagnostic::on_unimplemented(message = #message, note = #note)]
            pub trait #trait_name {
                /// Turns an event of the previous version into this one.
                fn upcast(prev: #old) -> ::std::result::Result<#new, ::eventsmith::UpcastError>;
            }
            #[doc = #doc_fn]
            pub fn #function(prev: #old) -> ::std::result::Result<#new, ::eventsmith::UpcastError> {
                <#upcasters as #trait_name>::upcast(prev)
            }
        });
    }
    upcasts
        .function(&function, &doc, &previous.ty, &planned.ty, &upcast.rules)
        .map_err(|message| {
            let document = project.store.document(version.schema);
            let at = if document.get("/x-eventsmith/upcast").is_some() {
                "/x-eventsmith/upcast"
            } else {
                ""
            };
            document.diagnostic_at(
                Diagnostic::new(
                    Rule::UpcastNotGenerated,
                    format!("cannot generate the upcaster of `{event_type}` v{from} → v{}: {message}", version.version),
                )
                .with_help("fix the rule, or declare `\"custom\": true` and implement the upcaster by hand"),
                at,
            )
        })
}

/// `<event>_from_v<N-1>`, in version N's module.
fn upcast_function(p: &PlannedEvent<'_>, index: usize) -> Ident {
    let event = field_name(&p.event.name);
    format_ident!(
        "{}_from_v{}",
        event.trim_end_matches('_'),
        p.event.versions[index].version - 1
    )
}

/// `decode_<event>(version, payload)`: decodes any stored version and upcasts it to the latest.
fn decode_function(
    p: &PlannedEvent<'_>,
    space: &TypeSpace<'_>,
    here: &[String],
    latest: &Ident,
) -> TokenStream {
    let event_type = p.event.event_type();
    let arms = p.event.versions.iter().enumerate().map(|(index, version)| {
        let number = unsuffixed(version.version);
        let planned = &p.versions[index];
        let ty = path(here, &space.modules[planned.module], &planned.name);
        let mut steps = Vec::new();
        for later in index + 1..p.versions.len() {
            let module = path(
                here,
                &space.modules[p.versions[later].module],
                &upcast_function(p, later).to_string(),
            );
            let from = unsuffixed(p.event.versions[later].version - 1);
            steps.push(
                quote! { let event = #module(event).map_err(|e| e.at(#event_type, #from))?; },
            );
        }
        if steps.is_empty() {
            quote! { #number => ::eventsmith::__private::codec::decode::<#ty>(#event_type, #number, payload), }
        } else {
            quote! {
                #number => {
                    let event = ::eventsmith::__private::codec::decode::<#ty>(#event_type, #number, payload)?;
                    #(#steps)*
                    ::std::result::Result::Ok(event)
                }
            }
        }
    });
    let decode = ident(&p.decode);
    let doc = format!(
        " Decodes a stored `{event_type}` payload of any version into the latest, upcasting older ones."
    );
    quote! {
        #[doc = #doc]
        #[allow(deprecated)]
        pub fn #decode(version: u32, payload: &[u8]) -> ::std::result::Result<#latest, ::eventsmith::DecodeError> {
            match version {
                #(#arms)*
                _ => ::std::result::Result::Err(::eventsmith::__private::codec::unknown_version(#event_type, version)),
            }
        }
    }
}

/// The aggregate's event enum over its events' latest versions, implementing `EventSet`.
fn aggregate_enum(
    name: &Ident,
    planned: &[PlannedEvent<'_>],
    here: &[String],
    space: &TypeSpace<'_>,
) -> TokenStream {
    let variants: Vec<Ident> = planned.iter().map(|p| ident(&p.variant)).collect();
    let types: Vec<TokenStream> = planned
        .iter()
        .map(|p| {
            let latest = p.versions.last().expect("a version");
            path(here, &space.modules[latest.module], &latest.name)
        })
        .collect();
    let event_types: Vec<String> = planned.iter().map(|p| p.event.event_type()).collect();
    let versions: Vec<Literal> = planned
        .iter()
        .map(|p| unsuffixed(p.event.latest().version))
        .collect();
    let decodes: Vec<Ident> = planned.iter().map(|p| ident(&p.decode)).collect();
    let docs = planned.iter().map(|p| {
        let doc = format!(
            " `{}` (v{})",
            p.event.event_type(),
            p.event.latest().version
        );
        quote! { #[doc = #doc] }
    });
    let aggregate = planned
        .first()
        .map(|p| p.event.aggregate.clone())
        .unwrap_or_default();
    let doc = format!(" Every event of the `{aggregate}` aggregate, at its latest version.");
    let unique: Vec<bool> = planned
        .iter()
        .map(|p| {
            planned
                .iter()
                .filter(|q| q.versions.last().map(|v| &v.ty) == p.versions.last().map(|v| &v.ty))
                .count()
                == 1
        })
        .collect();
    let froms = planned
        .iter()
        .zip(&types)
        .zip(&unique)
        .filter(|(_, u)| **u)
        .map(|((p, ty), _)| {
            let variant = ident(&p.variant);
            quote! {
                #[allow(deprecated)]
                impl ::std::convert::From<#ty> for #name {
                    fn from(event: #ty) -> Self { Self::#variant(event) }
                }
            }
        });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant, clippy::enum_variant_names, deprecated)]
        pub enum #name { #(#docs #variants(#types),)* }

        #[allow(deprecated)]
        impl ::eventsmith::EventSet for #name {
            fn decode(event_type: &str, version: u32, payload: &[u8]) -> ::std::result::Result<Self, ::eventsmith::DecodeError> {
                match event_type {
                    #(#event_types => #decodes(version, payload).map(Self::#variants),)*
                    _ => ::std::result::Result::Err(::eventsmith::__private::codec::unknown_event_type(event_type)),
                }
            }
            fn encode(&self) -> ::std::result::Result<::std::vec::Vec<u8>, ::eventsmith::EncodeError> {
                match self { #(Self::#variants(event) => ::eventsmith::__private::codec::encode(#event_types, event),)* }
            }
            fn event_type(&self) -> &'static str {
                match self { #(Self::#variants(_) => #event_types,)* }
            }
            fn version(&self) -> u32 {
                match self { #(Self::#variants(_) => #versions,)* }
            }
        }
        #(#froms)*
    }
}

/// `DomainEvent`: every event of every aggregate, flat.
#[derive(Default)]
struct DomainEnum {
    names: Scope,
    /// Each variant's type: its module and name.
    targets: Vec<(usize, String)>,
    variants: Vec<Ident>,
    types: Vec<TokenStream>,
    event_types: Vec<String>,
    versions: Vec<Literal>,
    decodes: Vec<TokenStream>,
    docs: Vec<String>,
    froms: Vec<TokenStream>,
}

impl DomainEnum {
    fn add(
        &mut self,
        aggregate_enum: &Ident,
        module: &str,
        planned: &[PlannedEvent<'_>],
        space: &TypeSpace<'_>,
        roots: &RootCounts,
    ) {
        let module_ident = ident(module);
        let mut arms = Vec::new();
        for p in planned {
            let latest = p.versions.last().expect("a version");
            let variant = ident(&self.names.claim(latest.name.clone()));
            let ty = path(&[], &space.modules[latest.module], &latest.name);
            let decode = ident(&p.decode);
            let aggregate_variant = ident(&p.variant);
            arms.push(quote! { #module_ident::#aggregate_enum::#aggregate_variant(event) => Self::#variant(event), });
            if roots.count(&latest.ty) == 1 {
                self.froms.push(quote! {
                    #[allow(deprecated)]
                    impl ::std::convert::From<#ty> for DomainEvent {
                        fn from(event: #ty) -> Self { Self::#variant(event) }
                    }
                });
            }
            self.variants.push(variant);
            self.targets.push((latest.module, latest.name.clone()));
            self.types.push(ty);
            self.event_types.push(p.event.event_type());
            self.versions.push(unsuffixed(p.event.latest().version));
            self.decodes.push(quote! { #module_ident::#decode });
            self.docs.push(format!(
                " `{}` (v{})",
                p.event.event_type(),
                p.event.latest().version
            ));
        }
        self.froms.push(quote! {
            #[allow(deprecated)]
            impl ::std::convert::From<#module_ident::#aggregate_enum> for DomainEvent {
                fn from(event: #module_ident::#aggregate_enum) -> Self {
                    match event { #(#arms)* }
                }
            }
        });
    }

    fn tokens(&self) -> TokenStream {
        let (variants, types, event_types) = (&self.variants, &self.types, &self.event_types);
        let (versions, decodes, froms) = (&self.versions, &self.decodes, &self.froms);
        let docs = self.docs.iter().map(|d| quote! { #[doc = #d] });
        quote! {
            /// Every event of the domain, at its latest version: what a store decodes into.
            #[derive(Debug, Clone, PartialEq)]
            #[allow(dead_code, clippy::large_enum_variant, clippy::enum_variant_names, deprecated)]
            pub enum DomainEvent { #(#docs #variants(#types),)* }

            #[allow(deprecated)]
            impl ::eventsmith::EventSet for DomainEvent {
                #[allow(unused_variables)]
                fn decode(event_type: &str, version: u32, payload: &[u8]) -> ::std::result::Result<Self, ::eventsmith::DecodeError> {
                    match event_type {
                        #(#event_types => #decodes(version, payload).map(Self::#variants),)*
                        _ => ::std::result::Result::Err(::eventsmith::__private::codec::unknown_event_type(event_type)),
                    }
                }
                fn encode(&self) -> ::std::result::Result<::std::vec::Vec<u8>, ::eventsmith::EncodeError> {
                    match *self { #(Self::#variants(ref event) => ::eventsmith::__private::codec::encode(#event_types, event),)* }
                }
                fn event_type(&self) -> &'static str {
                    match *self { #(Self::#variants(_) => #event_types,)* }
                }
                fn version(&self) -> u32 {
                    match *self { #(Self::#variants(_) => #versions,)* }
                }
            }
            #(#froms)*
        }
    }
}

/// The generated tests of one event: every example of every version round-trips and decodes
/// through the event set; every example of version N-1 upcasts to a valid version N.
fn event_tests(
    project: &Project,
    p: &PlannedEvent<'_>,
    space: &TypeSpace<'_>,
    here: &[String],
) -> Vec<TokenStream> {
    let test_path = {
        let mut path = here.to_vec();
        path.push("tests".to_owned());
        path
    };
    let event_type = p.event.event_type();
    let event = field_name(&p.event.name);
    let event = event.trim_end_matches('_');
    let mut tests = Vec::new();
    for (index, version) in p.event.versions.iter().enumerate() {
        let texts = example_texts(project, version);
        let examples: Vec<Literal> = texts.iter().map(|t| raw_string(t)).collect();
        if examples.is_empty() {
            continue;
        }
        let number = unsuffixed(version.version);
        let planned = &p.versions[index];
        let ty = path(&test_path, &space.modules[planned.module], &planned.name);
        let decode = path(&test_path, here, &p.decode);
        let name = format_ident!("{}_v{}_examples_round_trip", event, version.version);
        tests.push(quote! {
            #[test]
            #[allow(deprecated)]
            fn #name() {
                ::eventsmith::__private::testing::assert_examples::<#ty, _>(#event_type, #number, &[#(#examples),*], #decode);
            }
        });
        let Some(next) = p.versions.get(index + 1) else {
            continue;
        };
        let next_version = &p.event.versions[index + 1];
        let rules = next_version.annotations.upcast.clone().unwrap_or_default();
        let upcast_fn = path(
            &test_path,
            &space.modules[next.module],
            &upcast_function(p, index + 1).to_string(),
        );
        let cases = examples.iter().zip(&texts).map(|(example, text)| {
            let expected = (!rules.custom)
                .then(|| serde_json::from_str::<Value>(text).ok())
                .flatten()
                .and_then(|value| apply_to_value(&value, &rules.rules))
                .map(|value| raw_string(&value.to_string()));
            match expected {
                Some(text) => quote! { (#example, ::std::option::Option::Some(#text)) },
                None => quote! { (#example, ::std::option::Option::None) },
            }
        });
        let name = format_ident!(
            "{}_v{}_examples_upcast_to_v{}",
            event,
            version.version,
            next_version.version
        );
        tests.push(quote! {
            #[test]
            #[allow(deprecated)]
            fn #name() {
                ::eventsmith::__private::testing::assert_upcasts(#event_type, #number, &[#(#cases),*], #upcast_fn);
            }
        });
    }
    tests
}

/// The examples' JSON texts.
fn example_texts(project: &Project, version: &EventVersion) -> Vec<String> {
    let root = NodeRef {
        doc: version.schema,
        pointer: String::new(),
    };
    match project.value(&root).and_then(|v| v.get("examples")) {
        Some(Value::Array(examples)) => examples.iter().map(Value::to_string).collect(),
        _ => Vec::new(),
    }
}

/// `text` as a raw string literal (`r#"…"#`), readable in the generated file.
fn raw_string(text: &str) -> Literal {
    let hashes = "#".repeat(
        (0..)
            .find(|n| !text.contains(&format!("\"{}", "#".repeat(*n))))
            .unwrap_or(0)
            .max(1),
    );
    format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .unwrap_or_else(|_| Literal::string(text))
}

/// A number literal without a type suffix.
fn unsuffixed(n: u32) -> Literal {
    Literal::u32_unsuffixed(n)
}
