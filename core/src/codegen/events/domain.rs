//! `DomainEvent`: the enum over every event of the project at its latest version, and its
//! `EventSet` implementation.

use super::{
    Ident, Literal, PlannedEvent, RootCounts, Scope, TokenStream, TypeSpace, ident, path, quote,
    unsuffixed,
};

/// `DomainEvent`: every event of every aggregate, flat.
#[derive(Default)]
pub(super) struct DomainEnum {
    pub(super) names: Scope,
    /// Each variant's type: its module and name.
    pub(super) targets: Vec<(usize, String)>,
    pub(super) variants: Vec<Ident>,
    pub(super) types: Vec<TokenStream>,
    pub(super) event_types: Vec<String>,
    pub(super) versions: Vec<Literal>,
    pub(super) decodes: Vec<TokenStream>,
    pub(super) docs: Vec<String>,
    pub(super) froms: Vec<TokenStream>,
}

impl DomainEnum {
    pub(super) fn add(
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

    pub(super) fn tokens(&self) -> TokenStream {
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
                const LATEST: &'static [(&'static str, u32)] = &[#((#event_types, #versions),)*];
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
