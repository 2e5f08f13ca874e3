//! What an aggregate's rules are written against: its command types and `<Aggregate>Command`
//! enum, its state type, the `<Aggregate>Rules` trait (one `decide_<command>` per command, one
//! `apply_<event>` per event), the `<Aggregate>Aggregate<R>` implementing `eventsmith::Aggregate`
//! by dispatching to the rules `R`, and a `given` entry to the given/when/then test kit.

use super::emit::{Emitter, doc_attrs, ident, path};
use super::names::{Scope, field_name, type_name};
use super::types::{Ty, TypeSpace};
use crate::project::model::{Aggregate, Command, Project, rust_type_name};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// One command as planned.
pub struct PlannedCommand<'p> {
    /// The command.
    pub command: &'p Command,
    /// Its root type's name in the `commands` module.
    pub name: String,
    /// Its root type.
    pub ty: Ty,
    /// The variant in `<Aggregate>Command`.
    pub variant: String,
    /// `decide_<command>`.
    pub method: String,
    /// Its schema, bundled with the files it references, as compact JSON.
    pub schema: String,
}

/// An aggregate's model beside its events.
pub struct PlannedModel<'p> {
    /// The `commands` module.
    pub commands_module: usize,
    /// The commands, in name order.
    pub commands: Vec<PlannedCommand<'p>>,
    /// The aggregate module, which holds the state type.
    pub module: usize,
    /// The aggregate file and its state type's name and type, when there is one.
    pub state: Option<(&'p Aggregate, String, Ty)>,
    /// The names of the command enum, the rules and the aggregate, as claimed.
    pub names: [String; 3],
    /// The fingerprint of the state schema (`project::fingerprint::state_version`; empty without
    /// a state).
    pub state_version: String,
}

/// `<Aggregate>Command`, `<Aggregate>Rules`, `<Aggregate>Aggregate`.
pub fn model_names(aggregate: &str) -> [String; 3] {
    let [_, command, rules, wrapper] = crate::project::names::aggregate_items(aggregate);
    [command, rules, wrapper]
}

/// Plans the commands and the state of `aggregate`, whose module is `module_name`. The names the
/// aggregate module already uses (event aliases, the event enum) must be claimed before.
pub fn plan<'p>(
    project: &'p Project,
    space: &mut TypeSpace<'_>,
    aggregate: &'p str,
    module_name: &str,
) -> PlannedModel<'p> {
    let module = space.module(&[module_name.to_owned()]);
    // Claimed before the events' re-exports (`plan::plan_events`): they keep their names.
    let names = model_names(aggregate);
    let commands_module = space.module(&[module_name.to_owned(), "commands".to_owned()]);
    let state = project.aggregates.get(aggregate).map(|file| {
        space.assign(file.schema, module);
        let name = crate::codegen::plan::claim_state_name(project, space, aggregate, module);
        (file, name, Ty::Json)
    });
    let mut commands: Vec<PlannedCommand<'p>> = project
        .commands_of(aggregate)
        .map(|command| {
            space.assign(command.schema, commands_module);
            let title = space.store().document(command.schema).value()["title"].as_str();
            let name = space.claim(commands_module, &rust_type_name(title, &command.name));
            let schema = crate::schema::bundle::validator_text(
                space.store(),
                command.schema,
                &project.root.join(&project.config.schema.dir),
            )
            .unwrap_or_else(|| "true".to_owned());
            PlannedCommand {
                command,
                name,
                ty: Ty::Json,
                variant: String::new(),
                method: format!("decide_{}", field_name(&command.name).trim_end_matches('_')),
                schema,
            }
        })
        .collect();
    let mut variants = Scope::new();
    for planned in &mut commands {
        planned.variant = variants.claim(type_name(&planned.command.name, "Command"));
        planned.ty = space.add_root(&project.root_of(planned.command.schema), &planned.name);
    }
    let state = state.map(|(file, name, _)| {
        let ty = space.add_root(&project.root_of(file.schema), &name);
        (file, name, ty)
    });
    let state_version = state
        .as_ref()
        .map(|(file, _, _)| crate::project::fingerprint::state_version(project, file.schema))
        .unwrap_or_default();
    PlannedModel {
        commands_module,
        commands,
        module,
        state,
        names,
        state_version,
    }
}

/// One event of the aggregate, as the rules see it.
pub struct RuleEvent {
    /// Its variant in `<Aggregate>Event`.
    pub variant: Ident,
    /// Its latest type, from the aggregate module.
    pub ty: TokenStream,
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// `apply_<event>`.
    pub method: Ident,
}

/// A planned root as seen from its module: an alias when the type lives elsewhere.
pub(super) fn root_alias(
    emitter: &Emitter<'_, '_>,
    module: usize,
    name: &str,
    ty: &Ty,
    doc: &str,
) -> Option<TokenStream> {
    let space = emitter.space;
    let owned = matches!(ty, Ty::Named(id) if space.defs[*id].module == module && space.defs[*id].name == name);
    (!owned).then(|| {
        let here = &space.modules[module];
        let target = emitter.ty(ty, here);
        let name = ident(name);
        quote! { #[doc = #doc] pub type #name = #target; }
    })
}

/// `apply_<event>` for an event called `name`, before deduplication.
pub fn apply_method(name: &str) -> String {
    format!("apply_{}", field_name(name).trim_end_matches('_'))
}

/// The rules trait's method names, unique whatever the command and event names: one per command
/// (`decide_…`), then one per event (`apply_…`, from `applies`).
pub fn method_names(
    model: &PlannedModel<'_>,
    applies: impl IntoIterator<Item = String>,
) -> (Vec<String>, Vec<String>) {
    let mut names = Scope::new();
    let decides = model
        .commands
        .iter()
        .map(|c| names.claim(c.method.clone()))
        .collect();
    let applies = applies.into_iter().map(|m| names.claim(m)).collect();
    (decides, applies)
}

/// The tokens of an aggregate's model, placed in its module (at `here`).
pub fn tokens(
    model: &PlannedModel<'_>,
    emitter: &Emitter<'_, '_>,
    aggregate: &str,
    here: &[String],
    event_enum: &Ident,
    events: &[RuleEvent],
) -> Vec<TokenStream> {
    let space = emitter.space;
    // Events alone (no aggregate file, no commands): nothing to decide.
    if model.commands.is_empty() && model.state.is_none() {
        return Vec::new();
    }
    let [command_enum, rules, wrapper] = model.names.clone().map(|n| ident(&n));
    let (decide_methods, apply_methods) =
        method_names(model, events.iter().map(|e| e.method.to_string()));
    let decide_methods: Vec<Ident> = decide_methods.iter().map(|m| ident(m)).collect();
    let apply_methods: Vec<Ident> = apply_methods.iter().map(|m| ident(m)).collect();
    let mut items = Vec::new();
    // The commands module.
    let mut command_items = emitter.module_items(model.commands_module);
    for c in &model.commands {
        let doc = format!(" The `{}` command.", c.command.name);
        command_items.extend(root_alias(
            emitter,
            model.commands_module,
            &c.name,
            &c.ty,
            &doc,
        ));
    }
    let doc = format!(" The `{aggregate}` aggregate's commands.");
    items.push(quote! { #[doc = #doc] pub mod commands { #(#command_items)* } });
    // The command enum.
    let variants: Vec<Ident> = model.commands.iter().map(|c| ident(&c.variant)).collect();
    let types: Vec<TokenStream> = model
        .commands
        .iter()
        .map(|c| path(here, &space.modules[model.commands_module], &c.name))
        .collect();
    let names: Vec<&str> = model
        .commands
        .iter()
        .map(|c| c.command.name.as_str())
        .collect();
    let schemas = model.commands.iter().map(|c| c.schema.as_str());
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let docs = model.commands.iter().map(|c| {
        let doc = format!(" `{}`", c.command.name);
        quote! { #[doc = #doc] }
    });
    let froms = model.commands.iter().zip(&types).filter_map(|(c, ty)| {
        let unique = model.commands.iter().filter(|d| d.ty == c.ty).count() == 1;
        let variant = ident(&c.variant);
        unique.then(|| {
            quote! {
                impl ::std::convert::From<#ty> for #command_enum {
                    fn from(command: #ty) -> Self { Self::#variant(command) }
                }
            }
        })
    });
    let doc = format!(" Every command of the `{aggregate}` aggregate.");
    let unknown =
        quote! { ::std::result::Result::Err(::eventsmith::CommandError::Unknown(name.to_owned())) };
    let (match_self, decode_body) = if model.commands.is_empty() {
        (
            quote! { match *self {} },
            quote! { let _ = payload; #unknown },
        )
    } else {
        (
            quote! { match self { #(Self::#variants(_) => #names,)* } },
            quote! {
                match name {
                    #(#names => {
                        static SCHEMA: ::eventsmith::__private::Schema = ::eventsmith::__private::Schema::new(#schemas);
                        ::eventsmith::__private::command::decode::<#types>(#names, payload, &SCHEMA).map(Self::#variants)
                    })*
                    _ => #unknown,
                }
            },
        )
    };
    items.push(quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
        pub enum #command_enum { #(#docs #variants(#types),)* }

        impl ::eventsmith::CommandSet for #command_enum {
            const NAMES: &'static [&'static str] = &[#(#sorted),*];
            fn decode(name: &str, payload: &[u8]) -> ::std::result::Result<Self, ::eventsmith::CommandError> {
                #decode_body
            }
            fn name(&self) -> &'static str { #match_self }
        }
        #(#froms)*
    });
    // The state, the rules and the aggregate, for aggregates with a file.
    let Some((file, state_name, state_ty)) = &model.state else {
        return items;
    };
    items.extend(emitter.module_items(model.module));
    let doc = format!(" The `{aggregate}` aggregate's state.");
    items.extend(root_alias(
        emitter,
        model.module,
        state_name,
        state_ty,
        &doc,
    ));
    let state = ident(state_name);
    let decides = model.commands.iter().zip(&types).zip(&decide_methods).map(|((c, ty), method)| {
        let doc = doc_attrs(Some(&format!(
            "Decides `{}`: the events it causes from `state` (`None` before the aggregate's first event), or why it is refused.",
            c.command.name
        )));
        quote! {
            #doc
            fn #method(state: ::std::option::Option<&#state>, command: &#ty) -> ::std::result::Result<::std::vec::Vec<#event_enum>, ::eventsmith::Rejection>;
        }
    });
    let applies = events.iter().zip(&apply_methods).map(|(e, method)| {
        let ty = &e.ty;
        let doc = doc_attrs(Some(&format!(
            "Applies `{}` to `state` (`None` before the aggregate's first event).",
            e.event_type
        )));
        quote! {
            #doc
            fn #method(state: &mut ::std::option::Option<#state>, event: &#ty);
        }
    });
    let rules_doc = doc_attrs(Some(&format!(
        "The `{aggregate}` aggregate's business rules: one `decide_` per command, one `apply_` per event. Implement it for a type of yours and run `{wrapper}<YourType>`; a new command or event in the schemas is a new method the compiler asks for."
    )));
    let command_arms = model
        .commands
        .iter()
        .zip(&decide_methods)
        .map(|(c, method)| {
            let variant = ident(&c.variant);
            quote! { #command_enum::#variant(command) => R::#method(state, command), }
        });
    let decide_body = if model.commands.is_empty() {
        quote! { let _ = state; match *command {} }
    } else {
        quote! { match command { #(#command_arms)* } }
    };
    let event_arms = events.iter().zip(&apply_methods).map(|(e, method)| {
        let variant = &e.variant;
        quote! { #event_enum::#variant(event) => R::#method(state, event), }
    });
    let category = file.stream_category();
    let state_version = &model.state_version;
    let wrapper_doc = format!(
        " The `{aggregate}` aggregate as the repository runs it: its commands and events dispatched to the rules `R`, over its state (`None` before its first event)."
    );
    let given_doc = " A given/when/then test of rules `R`: `given::<R>(events).when(command).then(events)` or `.then_rejected(reason)`.";
    items.push(quote! {
        #rules_doc
        pub trait #rules {
            #(#decides)*
            #(#applies)*
        }

        #[doc = #wrapper_doc]
        pub struct #wrapper<R>(::std::marker::PhantomData<fn() -> R>);

        #[allow(deprecated)]
        impl<R: #rules> ::eventsmith::Aggregate for #wrapper<R> {
            type State = #state;
            type Event = #event_enum;
            type Command = #command_enum;
            const CATEGORY: &'static str = #category;
            const STATE_VERSION: &'static str = #state_version;
            fn apply(state: &mut ::std::option::Option<#state>, event: &#event_enum) {
                match event { #(#event_arms)* }
            }
            fn decide(state: ::std::option::Option<&#state>, command: &#command_enum) -> ::std::result::Result<::std::vec::Vec<#event_enum>, ::eventsmith::Rejection> {
                #decide_body
            }
        }

        #[doc = #given_doc]
        pub fn given<R: #rules>(
            events: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<#event_enum>>,
        ) -> ::eventsmith::testing::Given<#wrapper<R>> {
            ::eventsmith::testing::given(events)
        }
    });
    items
}
