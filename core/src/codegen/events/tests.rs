//! The generated `#[cfg(test)]` tests: every example round-trips, and upcasts give valid next
//! versions.

use super::{
    EventVersion, Literal, NodeRef, PlannedEvent, Project, TokenStream, TypeSpace, Value,
    apply_to_value, field_name, format_ident, path, quote, unsuffixed,
};
use crate::codegen::plan::upcast_function;

/// The generated tests of one event: every example of every version round-trips and decodes
/// through the event set; every example of version N-1 upcasts to a valid version N.
pub(super) fn event_tests(
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
pub(super) fn example_texts(project: &Project, version: &EventVersion) -> Vec<String> {
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
pub(super) fn raw_string(text: &str) -> Literal {
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
