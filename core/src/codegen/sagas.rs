//! The `sagas` module: per saga, its state type (from the saga file's schema) and `<Name>Saga`,
//! which hands the runtime's saga runner the saga's definition (the file's `x-eventsmith`, its
//! durations in milliseconds), its tables and the check of its state.

use super::emit::{Emitter, doc_attrs, ident};
use super::names::suffix_base;
use super::types::{Ty, TypeSpace};
use crate::project::model::{Project, Saga, rust_type_name};
use crate::project::saga::{self, Retry, SagaAnnotations};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Map, Value, json};

/// The module's name at the root.
pub const MODULE: &str = "sagas";

/// One saga as planned.
pub struct PlannedSaga<'p> {
    /// The saga.
    pub saga: &'p Saga,
    /// Its state type's name.
    pub state: String,
    /// Its state type.
    pub ty: Ty,
    /// `<Name>Saga`.
    pub runner: String,
    /// `<Name>Rules`.
    pub rules: String,
}

impl PlannedSaga<'_> {
    /// The rules methods, in the order the file first names them, with the steps that call
    /// each (`<state>/<place>`).
    pub fn methods(&self) -> Vec<(String, Vec<String>)> {
        let mut methods: Vec<(String, Vec<String>)> = Vec::new();
        for (state, definition) in &self.saga.annotations.states {
            for (place, step) in definition.steps() {
                let Some(method) = &step.rules else { continue };
                let place = format!("{state}/{}", crate::text::pointer::unescape(&place));
                match methods.iter_mut().find(|(name, _)| name == method) {
                    Some((_, places)) => places.push(place),
                    None => methods.push((method.clone(), vec![place])),
                }
            }
        }
        methods
    }
}

/// Plans every saga's state type in the `sagas` module.
pub fn plan<'p>(project: &'p Project, space: &mut TypeSpace<'_>) -> (usize, Vec<PlannedSaga<'p>>) {
    let module = space.module(&[MODULE.to_owned()]);
    let runners: Vec<(String, String)> = project
        .sagas
        .values()
        .map(|saga| {
            let base = suffix_base(&saga.name, "Saga");
            (
                space.claim(module, &format!("{base}Saga")),
                space.claim(module, &format!("{base}Rules")),
            )
        })
        .collect();
    let mut planned: Vec<PlannedSaga<'p>> = project
        .sagas
        .values()
        .zip(runners)
        .map(|(saga, (runner, rules))| {
            space.assign(saga.schema, module);
            let title = space.store().document(saga.schema).value()["title"].as_str();
            let state = space.claim(
                module,
                &format!("{}State", rust_type_name(title, &saga.name)),
            );
            PlannedSaga {
                saga,
                state,
                ty: Ty::Json,
                runner,
                rules,
            }
        })
        .collect();
    for p in &mut planned {
        p.ty = space.add_root(&project.root_of(p.saga.schema), &p.state);
    }
    (module, planned)
}

fn millis(text: &str) -> u64 {
    saga::duration(text)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn retry(retry: &Retry) -> Value {
    json!({
        "attempts": retry.attempts,
        "interval_ms": retry.interval.as_deref().map_or(1_000, millis),
        "backoff_rate": retry.backoff_rate.unwrap_or(2.0),
        "max_interval_ms": retry.max_interval.as_deref().map_or(60_000, millis),
    })
}

/// The definition the runtime runs: the annotations with durations in milliseconds.
pub fn definition(name: &str, annotations: &SagaAnnotations) -> Value {
    let mut value = serde_json::to_value(annotations).unwrap_or_default();
    let Value::Object(object) = &mut value else {
        return value;
    };
    object.remove("owners");
    object.insert("name".into(), json!(name));
    let timeouts: Map<String, Value> = annotations
        .timeouts
        .iter()
        .map(|(k, v)| (k.clone(), json!(millis(v))))
        .collect();
    object.insert("timeouts".into(), Value::Object(timeouts));
    match &annotations.retry {
        Some(declared) => object.insert("retry".into(), retry(declared)),
        None => object.remove("retry"),
    };
    if let Some(Value::Object(states)) = object.get_mut("states") {
        for (state_name, state) in states.iter_mut() {
            let declared = &annotations.states[state_name];
            let Value::Object(state) = state else {
                continue;
            };
            // Empty and absent members are the same to the runtime: keep the text small.
            state.retain(|_, v| !(v.is_null() || v == &json!([]) || v == &json!({})));
            for (place, step) in declared.steps() {
                let member = place.split('/').next().unwrap_or_default();
                let target = match member {
                    "on" => state
                        .get_mut("on")
                        .and_then(|on| on.get_mut(crate::text::pointer::unescape(&place[3..]))),
                    other => state.get_mut(other),
                };
                let Some(Value::Object(target)) = target else {
                    continue;
                };
                target.retain(|_, v| {
                    !(v.is_null() || v == &json!([]) || v == &json!({}) || v == &json!(false))
                });
                if let Some(Value::Array(sends)) = target.get_mut("send") {
                    for (send, declared) in sends.iter_mut().zip(&step.send) {
                        let Value::Object(send) = send else { continue };
                        send.retain(|_, v| !v.is_null());
                        if let Some(declared) = &declared.retry {
                            send.insert("retry".into(), retry(declared));
                        }
                    }
                }
            }
        }
    }
    value
}

/// The first example of `doc`'s root, as JSON text.
fn example(project: &Project, doc: crate::schema::store::DocId) -> Option<String> {
    let value = project
        .store
        .document(doc)
        .value()
        .get("examples")?
        .as_array()?
        .first()?;
    serde_json::to_string(value).ok()
}

/// A test per saga: every declared step run on the schemas' examples.
fn tests(project: &Project, planned: &[PlannedSaga<'_>]) -> TokenStream {
    let tests = planned.iter().map(|p| {
        let runner = ident(&p.runner);
        let (rules, state) = (ident(&p.rules), ident(&p.state));
        let declared = ident(&format!("{}Declared", p.runner));
        let methods = p.methods().into_iter().map(|(method, _)| {
            let method = ident(&method);
            quote! {
                fn #method(&self, _: &mut ::eventsmith::saga::Decision<'_, super::#state>) -> ::std::result::Result<(), ::std::string::String> {
                    ::std::result::Result::Ok(())
                }
            }
        });
        let test = ident(&format!(
            "{}_steps_run_on_the_examples",
            p.saga.name.replace('-', "_")
        ));
        let events = p
            .saga
            .annotations
            .correlation
            .keys()
            .filter_map(|event_type| {
                let event = project.events.get(event_type)?;
                let text = example(project, event.latest().schema)?;
                Some(quote! { (#event_type, #text), })
            });
        let state_example = match example(project, p.saga.schema) {
            Some(text) => quote! { ::std::option::Option::Some(#text) },
            None => quote! { ::std::option::Option::None },
        };
        let example = state_example;
        quote! {
            /// The steps as declared: rules that change nothing.
            #[derive(Debug, Default)]
            struct #declared;

            impl super::#rules for #declared {
                #(#methods)*
            }

            #[test]
            fn #test() {
                ::eventsmith::testing::saga::check_steps::<super::#runner<#declared>>(&[#(#events)*], #example);
            }
        }
    });
    quote! {
        #[cfg(test)]
        mod tests {
            #(#tests)*
        }
    }
}

/// The module's items.
pub fn tokens(
    project: &Project,
    module: usize,
    planned: &[PlannedSaga<'_>],
    emitter: &Emitter<'_, '_>,
    with_tests: bool,
) -> Vec<TokenStream> {
    let mut items = emitter.module_items(module);
    if with_tests {
        items.push(tests(project, planned));
    }
    for p in planned {
        let name = &p.saga.name;
        let runner = ident(&p.runner);
        let state = ident(&p.state);
        let definition =
            serde_json::to_string(&definition(name, &p.saga.annotations)).unwrap_or_default();
        let doc = doc_attrs(Some(&format!(
            "The `{name}` saga for the service (`App::saga::<{}<YourRules>>()`): its definition, tables and the check of its state `{}`.",
            p.runner, p.state
        )));
        // A state schema that is a bare `$ref` gets its target's type under the state's name.
        items.extend(super::deciders::root_alias(
            emitter,
            module,
            &p.state,
            &p.ty,
            &format!(" The state of the `{name}` saga."),
        ));
        let check = match &p.ty {
            Ty::Named(_) => quote! { ::eventsmith::saga::check_state::<#state>(data) },
            _ => quote! { let _ = data; ::std::result::Result::Ok(()) },
        };
        let rules = ident(&p.rules);
        let methods = p.methods();
        let trait_methods = methods.iter().map(|(method, places)| {
            let doc = doc_attrs(Some(&format!(
                "Decides, after the declared `record`, for {}: change `decision`'s state, add commands to `send`, or choose `then`.",
                places.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            )));
            let method = ident(method);
            quote! {
                #doc
                fn #method(&self, decision: &mut ::eventsmith::saga::Decision<'_, #state>) -> ::std::result::Result<(), ::std::string::String>;
            }
        });
        let arms = methods.iter().map(|(method, _)| {
            let name = method.as_str();
            let method = ident(method);
            quote! { #name => ::eventsmith::saga::decide_typed(decision, |typed| self.0.#method(typed)), }
        });
        let decide = if methods.is_empty() {
            quote! {
                let _ = decision;
                ::std::result::Result::Err(::std::format!("the saga has no rules method `{method}`"))
            }
        } else {
            quote! {
                match method {
                    #(#arms)*
                    other => ::std::result::Result::Err(::std::format!("the saga has no rules method `{other}`")),
                }
            }
        };
        let rules_doc = doc_attrs(Some(&format!(
            "What the `{name}` saga decides beyond its file: one method per `rules` its steps name. Implement it for a type of yours and run `{}<YourType>`.",
            p.runner
        )));
        items.push(quote! {
            #rules_doc
            pub trait #rules: ::std::marker::Send + ::std::marker::Sync + 'static {
                #(#trait_methods)*
            }

            #doc
            #[derive(Debug, Clone, Copy, Default)]
            pub struct #runner<R>(pub R);

            impl<R: #rules> ::eventsmith::saga::Rules for #runner<R> {
                fn decide(
                    &self,
                    method: &str,
                    decision: &mut ::eventsmith::saga::JsonDecision<'_>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    #decide
                }
            }

            impl<R: #rules + ::std::default::Default> ::eventsmith::saga::Saga for #runner<R> {
                type Event = super::DomainEvent;
                const NAME: &'static str = #name;
                const DEFINITION: &'static str = #definition;
                const TABLES: &'static [::eventsmith::read_model::TableSpec] = ::eventsmith::saga_tables!(#name);
                fn check_state(
                    data: &::eventsmith::serde_json::Map<::std::string::String, ::eventsmith::serde_json::Value>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    #check
                }
            }
        });
    }
    items
}
