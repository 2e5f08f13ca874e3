//! The user-owned Rust files of a service, written once: per aggregate its rules, per projection
//! its handler, each with working default logic from `eventsmith::defaults` (a command emits its
//! declared event with the fields they share, an event sets the state fields it shares, a
//! projection upserts the row fields it shares with an event). Owners replace the bodies with
//! their rules; regenerating never touches these files, and a new command, event or subscription
//! is a method the compiler asks them for.

use crate::codegen::api::{AggregateApi, ProjectionApi, RustPath};
use crate::codegen::emit::{format_items, ident};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::BTreeMap;

/// Names the generated types a file uses: by their own name where it is unique in the file
/// (imported with `use`), by their full path otherwise.
pub(super) struct Imports {
    used: Vec<RustPath>,
    /// Names the file declares itself (`Rules`, `Handler`): generated types so named keep
    /// their full path.
    reserved: &'static [&'static str],
}

impl Imports {
    pub(super) fn new(reserved: &'static [&'static str]) -> Self {
        Self {
            used: Vec::new(),
            reserved,
        }
    }

    pub(super) fn name(&mut self, path: &RustPath) -> TokenStream {
        let last = path.last().expect("a path names an item");
        if self.reserved.contains(&last.as_str()) {
            return full(path);
        }
        if !self.used.contains(path) {
            self.used.push(path.clone());
        }
        // The first path with a name takes it.
        let first = self
            .used
            .iter()
            .find(|other| other.last() == Some(last))
            .expect("just added");
        if first != path {
            full(path)
        } else {
            let name = ident(last);
            quote! { #name }
        }
    }

    /// The `use` items, for the paths named by their own name (the first of each name), one
    /// per module, sorted.
    pub(super) fn items(&self) -> TokenStream {
        let mut by_name: BTreeMap<&str, &RustPath> = BTreeMap::new();
        for path in &self.used {
            by_name.entry(path.last().expect("a path")).or_insert(path);
        }
        let mut by_module: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
        for path in by_name.values() {
            let (name, module) = path.split_last().expect("a path");
            by_module.entry(module).or_default().push(name);
        }
        let uses = by_module.iter().map(|(module, names)| {
            let module = module.iter().map(|m| ident(m));
            let names = names.iter().map(|n| ident(n));
            quote! { use crate::generated #(::#module)* ::{#(#names),*}; }
        });
        quote! { #(#uses)* }
    }
}

fn full(path: &RustPath) -> TokenStream {
    let segments = path.iter().map(|s| ident(s));
    quote! { crate::generated #(::#segments)* }
}

fn list(fields: &[&str]) -> String {
    if fields.is_empty() {
        return "none".to_owned();
    }
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shared<'a>(fields: &'a [String], with: &[String]) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|f| with.contains(f))
        .map(String::as_str)
        .collect()
}

pub(super) fn file(docs: &str, uses: TokenStream, body: TokenStream) -> String {
    let docs = docs.lines().map(|line| {
        let line = format!(" {line}");
        let line = line.trim_end();
        quote! { #![doc = #line] }
    });
    spaced(&format_items(quote! { #(#docs)* #uses #body }, true))
}

/// `#[doc]` attributes for `text`, wrapped at 92 columns.
pub(super) fn doc(text: &str) -> TokenStream {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("a line");
        if !line.is_empty() && line.len() + word.len() > 92 {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    let lines = lines.iter().map(|line| format!(" {line}"));
    quote! { #(#[doc = #lines])* }
}

/// prettyplease's output with a blank line between items, as people write Rust (runs of `use`
/// and of `mod x;` stay together).
pub fn spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut previous = "";
    // The kind of the one-line item (`use`, `mod`) the previous line ended, if it did.
    let mut run: Option<&str> = None;
    let mut in_use = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let prev = previous.trim_start();
        let kind = ["use ", "pub mod ", "mod "]
            .into_iter()
            .find(|k| trimmed.starts_with(k));
        let starts_item = kind.is_some()
            || ["///", "#[", "pub ", "impl ", "fn ", "const "]
                .iter()
                .any(|p| trimmed.starts_with(p));
        let continues = prev.is_empty()
            || prev.starts_with("///")
            || prev.starts_with("#[")
            || prev.ends_with('{')
            || (kind.is_some() && kind == run);
        let after_inner_docs = prev.starts_with("//!") && !trimmed.starts_with("//!");
        if (starts_item && !continues) || after_inner_docs {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        if kind == Some("use ") {
            in_use = true;
        }
        run = if in_use && trimmed.ends_with(';') {
            in_use = false;
            Some("use ")
        } else if kind.is_some() && trimmed.ends_with(';') {
            kind
        } else if in_use {
            run
        } else {
            None
        };
        previous = line;
    }
    out
}

/// `src/domain/<aggregate>.rs`.
pub fn rules_file(aggregate: &AggregateApi) -> String {
    let mut imports = Imports::new(&["Rules"]);
    let rules_trait = imports.name(&aggregate.rules);
    let mut methods = Vec::new();
    for decide in &aggregate.decides {
        let state = imports.name(&aggregate.state);
        let event_enum = imports.name(&aggregate.event_enum);
        let method = ident(&decide.method);
        let command = imports.name(&decide.command_type);
        let (doc, body) = match decide.emits.first() {
            Some(event) => {
                let fields = shared(&event.fields, &decide.command_fields);
                let names = fields.iter();
                let ty = imports.name(&event.ty);
                let variant = ident(&event.variant);
                let mut doc = format!(
                    "Default rule: `{}` emits `{}` with the fields they share ({}), whatever the state.",
                    decide.command,
                    event.event_type,
                    list(&fields)
                );
                if decide.emits.len() > 1 {
                    let others: Vec<String> = decide.emits[1..]
                        .iter()
                        .map(|e| format!("`{}`", e.event_type))
                        .collect();
                    doc.push_str(&format!(" It may also emit {}.", others.join(", ")));
                }
                let event_type = &event.event_type;
                (
                    doc,
                    quote! {
                        let _ = state;
                        let event = ::eventsmith::defaults::emit::<#ty>(command, #event_type, &[#(#names),*])?;
                        Ok(vec![#event_enum::#variant(event)])
                    },
                )
            }
            None => (
                format!(
                    "Default rule: `{}` declares no event, so it emits none.",
                    decide.command
                ),
                quote! {
                    let _ = (state, command);
                    Ok(Vec::new())
                },
            ),
        };
        let doc = self::doc(&doc);
        methods.push(quote! {
            #doc
            fn #method(state: Option<&#state>, command: &#command) -> Result<Vec<#event_enum>, ::eventsmith::Rejection> {
                #body
            }
        });
    }
    for apply in &aggregate.applies {
        let state = imports.name(&aggregate.state);
        let method = ident(&apply.method);
        let event = &apply.event;
        let ty = imports.name(&event.ty);
        let fields = shared(&event.fields, &aggregate.state_fields);
        let (doc, body) = if fields.is_empty() {
            (
                format!(
                    "Default: `{}` shares no field with the state, so it changes nothing.",
                    event.event_type
                ),
                quote! { let _ = (state, event); },
            )
        } else {
            let names = fields.iter();
            (
                format!(
                    "Default: `{}` sets the state fields it carries ({}); before the first event, the state is made from it when they are enough.",
                    event.event_type,
                    list(&fields)
                ),
                quote! { ::eventsmith::defaults::apply(state, event, &[#(#names),*]); },
            )
        };
        let doc = self::doc(&doc);
        methods.push(quote! {
            #doc
            fn #method(state: &mut Option<#state>, event: &#ty) {
                #body
            }
        });
    }
    let uses = imports.items();
    let trait_name = aggregate.rules.last().expect("a path");
    let wrapper = aggregate.aggregate.last().expect("a path");
    let doc = doc(&format!(
        "The `{}` aggregate's rules: the service runs `{wrapper}<Rules>`.",
        aggregate.name
    ));
    let body = quote! {
        #doc
        pub struct Rules;

        impl #rules_trait for Rules {
            #(#methods)*
        }
    };
    let docs = format!(
        "The `{name}` aggregate's business rules.\n\nThis file is yours: `eventsmith service new` wrote it once, with default rules, and never\noverwrites it. Each `decide_` method takes the state (`None` before the aggregate's first\nevent) and a command, and returns the events it causes or a `Rejection` (HTTP 409); each\n`apply_` method folds an event into the state. When the schemas gain a command or an event,\nthe compiler names the method to add to `{trait_name}` here.",
        name = aggregate.name,
    );
    file(&docs, uses, body)
}

/// `src/projections/<projection>.rs`.
pub fn handler_file(projection: &ProjectionApi) -> String {
    let mut imports = Imports::new(&["Handler"]);
    let handler_trait = imports.name(&projection.handler);
    let mut methods = Vec::new();
    for handle in &projection.handles {
        let row = imports.name(&projection.row);
        let method = ident(&handle.method);
        let event = &handle.event;
        let ty = imports.name(&event.ty);
        let fields = shared(&event.fields, &projection.row_fields);
        let names = fields.iter();
        let category = &event.category;
        let key_from = if event.fields.contains(&projection.key) {
            format!("the event's `{}`", projection.key)
        } else {
            format!("the id of the event's `{category}-<id>` stream")
        };
        let doc = format!(
            "Default: upserts the row keyed by {key_from} with the fields it shares with `{}` ({}); a row this event cannot complete is left alone.",
            event.event_type,
            list(&fields)
        );
        let doc = self::doc(&doc);
        methods.push(quote! {
            #doc
            fn #method(
                rows: &::eventsmith::read_model::Table<'_, #row>,
                event: &#ty,
                envelope: &::eventsmith::store::Envelope,
            ) -> Result<(), ::eventsmith::projection::HandlerError> {
                ::eventsmith::defaults::upsert(rows, event, envelope, #category, &[#(#names),*])
            }
        });
    }
    let uses = imports.items();
    let trait_name = projection.handler.last().expect("a path");
    let runner = projection.projection.last().expect("a path");
    let doc = doc(&format!(
        "How `{}` takes events into account: the service runs `{runner}<Handler>`.",
        projection.name
    ));
    let body = quote! {
        #doc
        pub struct Handler;

        impl #handler_trait for Handler {
            #(#methods)*
        }
    };
    let docs = format!(
        "The `{name}` projection's logic.\n\nThis file is yours: `eventsmith service new` wrote it once, with default logic, and never\noverwrites it. Each `on_` method takes one event into account in `rows` (the `{name}`\ntable), inside the runner's transaction with its checkpoint; an `Err` is retried, then\ndead-lettered (a transient one, such as a busy database, is retried until it passes). When the\nprojection subscribes to a new event, the compiler names the method to add to `{trait_name}`\nhere.",
        name = projection.name,
    );
    file(&docs, uses, body)
}

/// A saga's rules file: one method per `rules` its steps name, each deciding nothing beyond the
/// file (the steps run as declared) until its owner writes otherwise.
pub fn saga_file(saga: &crate::codegen::api::SagaApi) -> String {
    let mut imports = Imports::new(&["Rules"]);
    let rules_trait = imports.name(&saga.rules);
    let mut methods = Vec::new();
    for (method, places) in &saga.methods {
        let state = imports.name(&saga.state);
        let doc = doc(&format!(
            "Called by {} after the declared `record`. Default: the step as declared.",
            places
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let method = ident(method);
        methods.push(quote! {
            #doc
            fn #method(
                &self,
                decision: &mut ::eventsmith::saga::Decision<'_, #state>,
            ) -> Result<(), String> {
                let _ = decision;
                Ok(())
            }
        });
    }
    let uses = imports.items();
    let runner = saga.saga.last().expect("a path");
    let doc = doc(&format!(
        "What `{}` decides beyond its file: the service runs `{runner}<Rules>`.",
        saga.name
    ));
    let body = quote! {
        #doc
        #[derive(Debug, Default)]
        pub struct Rules;

        impl #rules_trait for Rules {
            #(#methods)*
        }
    };
    let docs = format!(
        "The `{name}` saga's rules: what its file (`schema/sagas/{name}.json`) cannot declare.\n\nThis file is yours: `eventsmith service new` wrote it once and never overwrites it. A step\nthat names `rules` calls the method of that name with the step's decision: the event, the\nsaga's state after `record` (change it at will; it must stay valid under the file's\nschema), commands to `send` besides the declared ones, and the state to go to (`then`). An\n`Err` is retried, then dead-lettered. When a step names a new method, the compiler names it\nhere.",
        name = saga.name,
    );
    file(&docs, uses, body)
}

/// A window's rules file: its custom aggregates computed by the trait's defaults (each counts
/// events) until its owner writes otherwise.
pub fn window_file(window: &crate::codegen::api::WindowApi) -> String {
    let mut imports = Imports::new(&["Rules"]);
    let Some(rules) = &window.rules else {
        return String::new();
    };
    let rules_trait = imports.name(rules);
    let uses = imports.items();
    let runner = window.window.last().expect("a path");
    let doc = doc(&format!(
        "How `{}` computes its custom aggregates: the service runs `{runner}<Rules>`.",
        window.name
    ));
    let body = quote! {
        #doc
        #[derive(Debug, Default)]
        pub struct Rules;

        impl #rules_trait for Rules {}
    };
    let docs = format!(
        "The `{name}` window's rules: how its custom aggregates ({aggregates}) are computed.\n\nThis file is yours: `eventsmith service new` wrote it once and never overwrites it. Each\ncustom aggregate has two methods: one folds an event into the window's value so far\n(`current` is `None` for the window's first event), the other merges two sessions' values\nwhen an event bridges them. Their defaults count events; override them here.",
        name = window.name,
        aggregates = window
            .custom
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    file(&docs, uses, body)
}
