//! The `projections` module: per projection, its row type (from the row schema) implementing
//! `eventsmith::read_model::Row` (the table, its key and columns), a `<Name>Handler` trait with
//! one `on_<aggregate>_<event>` method per subscribed event, and the `<Name>Projection<H>` the
//! runner runs, which declares its table and dispatches events to the handler `H`. No backend
//! is named: the runner's backend keeps the table.

use super::emit::{Emitter, doc_attrs, ident};
use super::names::{Scope, field_name, suffix_base};
use super::types::{Item, Ty, TypeSpace};
use crate::project::model::{Project, Projection, rust_type_name};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// The module's name at the root.
pub const MODULE: &str = "projections";

/// One projection as planned.
pub struct PlannedProjection<'p> {
    /// The projection.
    pub projection: &'p Projection,
    /// Its row type's name.
    pub row: String,
    /// Its row type.
    pub ty: Ty,
    /// `<Name>Handler`.
    pub handler: String,
    /// `<Name>Projection`.
    pub runner: String,
}

/// Plans every projection's row type in the `projections` module (`module`).
pub fn plan<'p>(
    project: &'p Project,
    space: &mut TypeSpace<'_>,
) -> (usize, Vec<PlannedProjection<'p>>) {
    let module = space.module(&[MODULE.to_owned()]);
    // Every projection's traits first, so no row's title takes one.
    let traits: Vec<(String, String)> = project
        .projections
        .values()
        .map(|projection| {
            let base = suffix_base(&projection.name, "Projection");
            (
                space.claim(module, &format!("{base}Handler")),
                space.claim(module, &format!("{base}Projection")),
            )
        })
        .collect();
    let mut planned: Vec<PlannedProjection<'p>> = project
        .projections
        .values()
        .zip(traits)
        .map(|(projection, (handler, runner))| {
            space.assign(projection.schema, module);
            let title = space.store().document(projection.schema).value()["title"].as_str();
            let row = space.claim(module, &rust_type_name(title, &projection.name));
            PlannedProjection {
                projection,
                row,
                ty: Ty::Json,
                handler,
                runner,
            }
        })
        .collect();
    for p in &mut planned {
        p.ty = space.add_root(&project.root_of(p.projection.schema), &p.row);
    }
    (module, planned)
}

/// How an event reaches a handler: its `DomainEvent` variant and its type, from the
/// `projections` module.
pub struct Subscribed {
    /// The variant of `DomainEvent`.
    pub variant: Ident,
    /// The event's latest type.
    pub ty: TokenStream,
}

/// The `eventsmith::read_model::ColumnKind` of a property of type `ty`.
fn column_kind(space: &TypeSpace<'_>, ty: &Ty) -> (TokenStream, bool) {
    let (kind, nullable) = match ty {
        Ty::Checked(inner, _) | Ty::Boxed(inner) => return column_kind(space, inner),
        Ty::Nullable(inner) => return (column_kind(space, inner).0, true),
        Ty::Bool => ("Boolean", false),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => ("Integer", false),
        Ty::Number => ("Real", false),
        Ty::String | Ty::Format(_) => ("Text", false),
        Ty::Named(id) if matches!(space.defs[*id].item, Item::Enum { .. }) => ("Text", false),
        _ => ("Json", false),
    };
    let kind = ident(kind);
    (
        quote! { ::eventsmith::read_model::ColumnKind::#kind },
        nullable,
    )
}

/// The handler's methods: each subscribed event that `exists` once, with its
/// `on_<aggregate>_<event>` method, unique whatever the event names.
pub fn handler_methods(
    p: &PlannedProjection<'_>,
    exists: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    let mut names = Scope::new();
    p.projection
        .annotations
        .subscribes
        .iter()
        .filter(|event_type| seen.insert(event_type.as_str()) && exists(event_type))
        .map(|event_type| {
            let method = names.claim(format!(
                "on_{}",
                field_name(&event_type.replace('.', "_")).trim_end_matches('_')
            ));
            (event_type.clone(), method)
        })
        .collect()
}

/// Whether a projection gets a handler: its row is a struct of its own with the key among its
/// properties.
pub fn has_handler(p: &PlannedProjection<'_>, space: &TypeSpace<'_>, module: usize) -> bool {
    let Ty::Named(id) = &p.ty else { return false };
    let Item::Struct { fields, .. } = &space.defs[*id].item else {
        return false;
    };
    space.defs[*id].module == module
        && fields
            .iter()
            .any(|f| f.json == p.projection.annotations.key)
}

/// The module's items. `subscribed` finds an event type's variant and type.
pub fn tokens(
    module: usize,
    planned: &[PlannedProjection<'_>],
    emitter: &Emitter<'_, '_>,
    subscribed: &dyn Fn(&str) -> Option<Subscribed>,
    domain_size: usize,
) -> Vec<TokenStream> {
    let space = emitter.space;
    let mut items = emitter.module_items(module);
    for p in planned {
        let name = &p.projection.name;
        let key = &p.projection.annotations.key;
        // A row is a struct with the key among its properties (what `validate` checks).
        let Ty::Named(id) = &p.ty else { continue };
        let Item::Struct { fields, .. } = &space.defs[*id].item else {
            continue;
        };
        if space.defs[*id].module != module || !fields.iter().any(|f| &f.json == key) {
            continue;
        }
        let row = ident(&p.row);
        let columns = fields.iter().map(|field| {
            let (kind, nullable) = column_kind(space, &field.ty);
            let json = &field.json;
            let required = field.required && !nullable;
            quote! { ::eventsmith::read_model::Column { name: #json, kind: #kind, required: #required }, }
        });
        items.push(quote! {
            impl ::eventsmith::read_model::Row for #row {
                const TABLE: &'static str = #name;
                const KEY: &'static str = #key;
                const COLUMNS: &'static [::eventsmith::read_model::Column] = &[#(#columns)*];
            }
        });
        let events: Vec<(String, Ident, Subscribed)> =
            handler_methods(p, &|event_type| subscribed(event_type).is_some())
                .into_iter()
                .filter_map(|(event_type, method)| {
                    let found = subscribed(&event_type)?;
                    Some((event_type, ident(&method), found))
                })
                .collect();
        let event_types: Vec<&str> = events.iter().map(|(t, _, _)| t.as_str()).collect();
        let handles = if event_types.is_empty() {
            quote! { let _ = event_type; false }
        } else {
            quote! { matches!(event_type, #(#event_types)|*) }
        };
        let (handler, runner) = (ident(&p.handler), ident(&p.runner));
        let methods = events.iter().map(|(event_type, method, found)| {
            let ty = &found.ty;
            let doc = doc_attrs(Some(&format!(
                "Takes `{event_type}` into account in `rows` (inside the runner's transaction, with the checkpoint)."
            )));
            quote! {
                #doc
                fn #method(
                    rows: &::eventsmith::read_model::Table<'_, #row>,
                    event: &#ty,
                    envelope: &::eventsmith::store::Envelope,
                ) -> ::std::result::Result<(), ::eventsmith::projection::HandlerError>;
            }
        });
        let arms = events.iter().map(|(_, method, found)| {
            let variant = &found.variant;
            quote! { super::DomainEvent::#variant(event) => H::#method(&rows, event, envelope), }
        });
        let rest =
            (events.len() < domain_size).then(|| quote! { _ => ::std::result::Result::Ok(()), });
        let body = if events.is_empty() {
            quote! { let _ = (rows, event, envelope); ::std::result::Result::Ok(()) }
        } else {
            quote! { match event { #(#arms)* #rest } }
        };
        let handler_doc = doc_attrs(Some(&format!(
            "How the `{name}` projection takes each event it subscribes to into account. Implement it for a type of yours and run `{runner}<YourType>`."
        )));
        let runner_doc = format!(
            " The `{name}` projection for the runner: its table follows the row schema, and events go to the handler `H`."
        );
        items.push(quote! {
            #handler_doc
            pub trait #handler { #(#methods)* }

            #[doc = #runner_doc]
            pub struct #runner<H>(::std::marker::PhantomData<fn() -> H>);

            impl<H> ::std::default::Default for #runner<H> {
                fn default() -> Self { Self(::std::marker::PhantomData) }
            }

            impl<H> ::eventsmith::read_model::Tabled for #runner<H> {
                type Row = #row;
            }

            #[allow(deprecated)]
            impl<H: #handler> ::eventsmith::projection::Projection for #runner<H> {
                type Event = super::DomainEvent;
                const NAME: &'static str = #name;
                const TABLES: &'static [::eventsmith::read_model::TableSpec] = &[::eventsmith::read_model::TableSpec::of::<#row>()];
                fn handles(&self, event_type: &str) -> bool {
                    #handles
                }
                fn handle(
                    &self,
                    transaction: &dyn ::eventsmith::read_model::Transaction,
                    event: &super::DomainEvent,
                    envelope: &::eventsmith::store::Envelope,
                ) -> ::std::result::Result<(), ::eventsmith::projection::HandlerError> {
                    let rows = ::eventsmith::read_model::Table::<#row>::new(transaction);
                    #body
                }
            }
        });
    }
    items
}
