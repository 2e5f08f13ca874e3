//! The `windows` module: per window, the type of its aggregates (from the window file's
//! schema), its typed row (`start`, `end`, `key`, `closed`, `aggregates`, as
//! `GET /windows/{name}` answers) and `<Name>Window`, which hands the runtime's window runner
//! the window's definition (durations in milliseconds) and tables. A window with `custom`
//! aggregates also gets `<Name>Rules`, a trait with one fold and one merge per custom aggregate
//! whose defaults count events.

use super::emit::{Emitter, doc_attrs, ident};
use super::names::{field_name, suffix_base};
use super::types::{Ty, TypeSpace};
use crate::project::model::{Project, Window, rust_type_name};
use crate::project::saga;
use crate::project::window::{AggregateKind, WindowKind};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Value, json};

/// The module's name at the root.
pub const MODULE: &str = "windows";

/// One window as planned.
pub struct PlannedWindow<'p> {
    /// The window.
    pub window: &'p Window,
    /// Its aggregates type's name.
    pub aggregates: String,
    /// Its aggregates type.
    pub ty: Ty,
    /// `<Name>Row`.
    pub row: String,
    /// `<Name>Window`.
    pub runner: String,
    /// `<Name>Rules`, when it has custom aggregates.
    pub rules: Option<String>,
}

impl PlannedWindow<'_> {
    /// Its custom aggregates, in file order.
    pub fn custom(&self) -> Vec<&str> {
        self.window
            .annotations
            .aggregates
            .iter()
            .filter(|(_, a)| a.kind == AggregateKind::Custom)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// Plans every window's types in the `windows` module.
pub fn plan<'p>(
    project: &'p Project,
    space: &mut TypeSpace<'_>,
) -> (usize, Vec<PlannedWindow<'p>>) {
    let module = space.module(&[MODULE.to_owned()]);
    let names: Vec<(String, String, Option<String>)> = project
        .windows
        .values()
        .map(|window| {
            let base = suffix_base(&window.name, "Window");
            let custom = window
                .annotations
                .aggregates
                .values()
                .any(|a| a.kind == AggregateKind::Custom);
            (
                space.claim(module, &format!("{base}Window")),
                space.claim(module, &format!("{base}Row")),
                custom.then(|| space.claim(module, &format!("{base}Rules"))),
            )
        })
        .collect();
    let mut planned: Vec<PlannedWindow<'p>> = project
        .windows
        .values()
        .zip(names)
        .map(|(window, (runner, row, rules))| {
            space.assign(window.schema, module);
            let title = space.store().document(window.schema).value()["title"].as_str();
            let aggregates = space.claim(
                module,
                &format!("{}Aggregates", rust_type_name(title, &window.name)),
            );
            PlannedWindow {
                window,
                aggregates,
                ty: Ty::Json,
                row,
                runner,
                rules,
            }
        })
        .collect();
    for p in &mut planned {
        p.ty = space.add_root(&project.root_of(p.window.schema), &p.aggregates);
    }
    (module, planned)
}

fn millis(text: &str) -> u64 {
    saga::duration(text)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The definition the runtime runs: what the window reads (each event at its latest version),
/// groups by and computes, with durations in milliseconds.
pub fn definition(project: &Project, window: &Window) -> Value {
    let annotations = &window.annotations;
    let reads: serde_json::Map<String, Value> = annotations
        .reads
        .iter()
        .map(|event_type| {
            let latest = project
                .events
                .get(event_type)
                .map_or(1, |event| event.latest().version);
            (event_type.clone(), json!(latest))
        })
        .collect();
    let cut = match &annotations.window {
        WindowKind::Tumbling { size } => json!({"kind": "tumbling", "size": millis(size)}),
        WindowKind::Hopping { size, hop } => {
            json!({"kind": "hopping", "size": millis(size), "hop": millis(hop)})
        }
        WindowKind::Session { gap } => json!({"kind": "session", "gap": millis(gap)}),
    };
    let aggregates: Vec<Value> = annotations
        .aggregates
        .iter()
        .map(|(name, aggregate)| {
            // The property's own type, through `$ref`s to shared types.
            let property = crate::schema::store::NodeRef {
                doc: window.schema,
                pointer: crate::text::pointer::push(
                    &crate::text::pointer::push("", "properties"),
                    name,
                ),
            };
            let integer = project
                .store
                .follow(&property)
                .and_then(|node| project.store.value(&node))
                .is_some_and(|schema| schema["type"] == "integer");
            let mut spec = json!({"name": name, "kind": aggregate.kind.name(), "integer": integer});
            if let Some(field) = &aggregate.field {
                spec["field"] = json!(field);
            }
            spec
        })
        .collect();
    let time = &annotations.time;
    let mut definition = json!({
        "name": window.name,
        "reads": reads,
        "key": annotations.key,
        "window": cut,
        "lateness": time.lateness.as_deref().map_or(0, millis),
        "idle": millis(time.idle_or_default()),
        "late": time.late_policy().name(),
        "aggregates": aggregates,
        "gauges": annotations.gauges,
        "emit": annotations.emit,
    });
    if !time.is_recorded() {
        definition["time"] = json!(time.from);
    }
    if let Some(retain) = &annotations.retain {
        definition["retain"] = json!(millis(retain));
    }
    definition
}

/// The module's items.
pub fn tokens(
    project: &Project,
    module: usize,
    planned: &[PlannedWindow<'_>],
    emitter: &Emitter<'_, '_>,
) -> Vec<TokenStream> {
    let mut items = emitter.module_items(module);
    for p in planned {
        let name = &p.window.name;
        let runner = ident(&p.runner);
        let row = ident(&p.row);
        let aggregates = ident(&p.aggregates);
        let definition = serde_json::to_string(&definition(project, p.window)).unwrap_or_default();
        items.extend(super::deciders::root_alias(
            emitter,
            module,
            &p.aggregates,
            &p.ty,
            &format!(" The aggregates of a `{name}` window."),
        ));
        let row_doc = doc_attrs(Some(&format!(
            "One window of `{name}`, as `GET /windows/{name}` answers it."
        )));
        items.push(quote! {
            #row_doc
            #[derive(Debug, Clone, PartialEq, ::eventsmith::serde::Serialize, ::eventsmith::serde::Deserialize)]
            #[serde(crate = "::eventsmith::serde")]
            pub struct #row {
                /// Its first instant (RFC 3339, UTC).
                pub start: ::std::string::String,
                /// The instant after its last (RFC 3339, UTC).
                pub end: ::std::string::String,
                /// What it groups: the key's fields and their values.
                pub key: ::eventsmith::serde_json::Map<::std::string::String, ::eventsmith::serde_json::Value>,
                /// Whether the watermark has passed its end.
                pub closed: bool,
                /// Its aggregates.
                pub aggregates: #aggregates,
            }
        });
        let custom = p.custom();
        let (generics, bound, fold) = match &p.rules {
            None => (quote! {}, quote! {}, quote! {}),
            Some(rules) => {
                let rules = ident(rules);
                let methods = custom.iter().map(|aggregate| {
                    let fold = ident(&field_name(aggregate));
                    let merge = ident(&format!("{}_merge", field_name(aggregate)));
                    let fold_doc = doc_attrs(Some(&format!(
                        "The value of `{aggregate}` after `input` (`current`: its value so far, `None` for a window's first event). By default, how many events."
                    )));
                    let merge_doc = doc_attrs(Some(&format!(
                        "The value of `{aggregate}` for two sessions merged into one. By default, the sum of both."
                    )));
                    quote! {
                        #fold_doc
                        fn #fold(&self, current: ::std::option::Option<&::eventsmith::serde_json::Value>, input: &::eventsmith::window::Input) -> ::eventsmith::serde_json::Value {
                            let _ = input;
                            ::eventsmith::serde_json::Value::from(current.and_then(::eventsmith::serde_json::Value::as_u64).unwrap_or(0) + 1)
                        }
                        #merge_doc
                        fn #merge(&self, earlier: &::eventsmith::serde_json::Value, later: &::eventsmith::serde_json::Value) -> ::eventsmith::serde_json::Value {
                            ::eventsmith::serde_json::Value::from(earlier.as_u64().unwrap_or(0) + later.as_u64().unwrap_or(0))
                        }
                    }
                });
                let fold_arms = custom.iter().map(|aggregate| {
                    let method = ident(&field_name(aggregate));
                    quote! { #aggregate => self.0.#method(current, input), }
                });
                let merge_arms = custom.iter().map(|aggregate| {
                    let method = ident(&format!("{}_merge", field_name(aggregate)));
                    quote! { #aggregate => self.0.#method(earlier, later), }
                });
                let rules_doc = doc_attrs(Some(&format!(
                    "How the `{name}` window computes its custom aggregates. Implement it for a type of yours (the defaults count events) and run `{}<YourType>`.",
                    p.runner
                )));
                items.push(quote! {
                    #rules_doc
                    pub trait #rules: ::std::marker::Send + ::std::marker::Sync + 'static {
                        #(#methods)*
                    }
                });
                (
                    quote! { <R> },
                    quote! { <R: #rules + ::std::default::Default> },
                    quote! {
                        fn fold(&self, aggregate: &str, current: ::std::option::Option<&::eventsmith::serde_json::Value>, input: &::eventsmith::window::Input) -> ::eventsmith::serde_json::Value {
                            match aggregate {
                                #(#fold_arms)*
                                _ => current.cloned().unwrap_or(::eventsmith::serde_json::Value::Null),
                            }
                        }
                        fn merge(&self, aggregate: &str, earlier: &::eventsmith::serde_json::Value, later: &::eventsmith::serde_json::Value) -> ::eventsmith::serde_json::Value {
                            match aggregate {
                                #(#merge_arms)*
                                _ => later.clone(),
                            }
                        }
                    },
                )
            }
        };
        let doc = doc_attrs(Some(&format!(
            "The `{name}` window for the service (`App::window::<{}>()`): its definition and tables.",
            if p.rules.is_some() {
                format!("{}<YourRules>", p.runner)
            } else {
                p.runner.clone()
            }
        )));
        let (fields, impl_generics) = match &p.rules {
            None => (quote! { ; }, quote! {}),
            Some(_) => (quote! { (pub R); }, bound.clone()),
        };
        items.push(quote! {
            #doc
            #[derive(Debug, Clone, Copy, Default)]
            pub struct #runner #generics #fields

            impl #impl_generics ::eventsmith::window::Window for #runner #generics {
                type Event = super::DomainEvent;
                const NAME: &'static str = #name;
                const DEFINITION: &'static str = #definition;
                const TABLES: &'static [::eventsmith::read_model::TableSpec] = ::eventsmith::window_tables!(#name);
                #fold
            }
        });
    }
    items
}
