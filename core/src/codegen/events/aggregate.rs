//! One aggregate's module: its version modules with their types, upcasters and `Event` impls,
//! the latest-version aliases, the decode chains and the aggregate's event enum.

use super::plan::{Aggregates, upcast_function};
use super::{
    BTreeMap, Diagnostic, Emitter, EventVersion, Ident, Literal, Planned, PlannedEvent, Project,
    Rule, Settings, TokenStream, Ty, TypeSpace, Upcasts, aggregate_enum_name, deciders, doc_attrs,
    event_tests, format_ident, format_items, ident, path, quote, unsuffixed,
};
use crate::codegen::api::{ConversionApi, ConversionsApi, path_in, type_api};
use crate::codegen::types::keyword_pointer;

/// The formatted module of one aggregate: its version modules with their types, upcasters and
/// `Event` impls, the latest aliases, decode chains, the aggregate's enum and its tests; and the
/// `Conversions` traits its `convert` rules call, for hand-written code to implement.
#[allow(clippy::too_many_arguments)]
pub(super) fn aggregate_source(
    project: &Project,
    settings: &Settings,
    emitter: &Emitter<'_, '_>,
    aggregate: &str,
    module_name: &str,
    planned: &[PlannedEvent<'_>],
    roots: &RootCounts,
    model: &deciders::PlannedModel<'_>,
) -> Result<(String, Vec<ConversionsApi>), Vec<Diagnostic>> {
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
        let alias = &p.alias;
        let alias_ident = ident(alias);
        latest_aliases.push(alias_ident.clone());
        aggregate_items.push(if *alias == latest.name {
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
    let mut conversions = Vec::new();
    for (module, upcasts) in version_upcasts {
        let module_items = items.entry(module).or_default();
        module_items.extend(upcasts.items);
        if !upcasts.conversions.is_empty() {
            let module_path = &space.modules[module];
            conversions.push(ConversionsApi {
                module: module_path.clone(),
                conversions: path_in(space, module, "Conversions"),
                upcasters: vec!["Upcasters".to_owned()],
                methods: upcasts
                    .conversions
                    .iter()
                    .map(|c| ConversionApi {
                        name: c.name.to_string(),
                        input: type_api(space, &c.input_ty),
                        output: type_api(space, &c.output_ty),
                        uses: c.uses.clone(),
                    })
                    .collect(),
            });
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
    let source = format_items(
        quote! {
            #doc
            #[allow(dead_code, deprecated)]
            pub mod #module_ident {
                #(#version_modules)*
                #(#aggregate_items)*
            }
        },
        settings.format,
    );
    Ok((source, conversions))
}

/// How many event versions have each named type as their root: a root shared by several gets no
/// `Event` impl and no `From` conversion (they would conflict).
pub(super) struct RootCounts(std::collections::HashMap<usize, usize>);

impl RootCounts {
    pub(super) fn new(aggregates: &Aggregates<'_>) -> Self {
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
    pub(super) fn count(&self, ty: &Ty) -> usize {
        match ty {
            Ty::Named(id) => self.0.get(id).copied().unwrap_or(0),
            _ => usize::MAX,
        }
    }
}

/// The upcaster from the previous version into `planned`: generated from the rules, or a call
/// into the custom trait the user implements.
#[allow(clippy::too_many_arguments)]
pub(super) fn upcaster(
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
    if let Some(trait_name) = planned.upcaster.as_deref().filter(|_| upcast.custom) {
        let old = upcasts.type_tokens(&previous.ty);
        let new = ident(&planned.name);
        let trait_name = ident(trait_name);
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
    upcasts.upcasting(&event_type, from, version.version);
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

/// `decode_<event>(version, payload)`: decodes any stored version and upcasts it to the latest.
pub(super) fn decode_function(
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
        let decode = match &planned.schema {
            None => {
                quote! { ::eventsmith::__private::codec::decode::<#ty>(#event_type, #number, payload) }
            }
            Some((text, why)) => {
                let doc = format!(
                    " Version {} is also checked against its schema: its type does not express `{}` at `{}`.",
                    version.version,
                    why.keyword,
                    keyword_pointer(why)
                );
                quote! {
                    {
                        #[doc = #doc]
                        static SCHEMA: ::eventsmith::__private::Schema = ::eventsmith::__private::Schema::new(#text);
                        ::eventsmith::__private::codec::decode_checked::<#ty>(#event_type, #number, payload, &SCHEMA)
                    }
                }
            }
        };
        if steps.is_empty() {
            quote! { #number => #decode, }
        } else {
            quote! {
                #number => {
                    let event = #decode?;
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
pub(super) fn aggregate_enum(
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
            const LATEST: &'static [(&'static str, u32)] = &[#((#event_types, #versions),)*];
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
