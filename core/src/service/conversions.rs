//! The user-owned files of a service's named conversions, written once: per version module whose
//! upcast rules `convert` a field, `src/conversions/<aggregate>_v<N>.rs` implements its
//! `Conversions` trait for the generated `Upcasters`. A method whose two types have a working
//! default calls it from `eventsmith::defaults` (integer Unix seconds to a date-time, a value to
//! text and text parsed, an integer widened to a number, a value to JSON or read again through
//! it, element by element in an `Option`, `Vec` or map); a method without one holds a
//! `compile_error!` saying what to write, so the service builds only once someone has.

use super::starters::{Imports, doc, file};
use crate::codegen::api::{ConversionApi, ConversionUse, ConversionsApi, NamedKind, TypeApi};
use crate::codegen::emit::ident;
use crate::project::names::Scope;
use proc_macro2::TokenStream;
use quote::quote;

/// The directory of the files, in the service.
pub const DIR: &str = "src/conversions";

/// The module name of each file of `conversions` (`order_v2`), in the same order, unique.
pub fn module_names(conversions: &[ConversionsApi]) -> Vec<String> {
    let mut names = Scope::new();
    conversions
        .iter()
        .map(|c| names.claim(c.module.join("_")))
        .collect()
}

/// Prelude names the file uses: a generated type so named keeps its full path.
const PRELUDE: &[&str] = &[
    "Result", "Ok", "Err", "Option", "Some", "None", "Vec", "Box", "String",
];

/// `src/conversions/<module>.rs`.
pub fn conversions_file(conversions: &ConversionsApi) -> String {
    let mut imports = Imports::new(PRELUDE);
    let trait_name = imports.name(&conversions.conversions);
    let upcasters = imports.name(&conversions.upcasters);
    let module = conversions.module.join("::");
    let mut methods = Vec::new();
    for method in &conversions.methods {
        let name = ident(&method.name);
        let input = ty(&mut imports, &method.input);
        let output = ty(&mut imports, &method.output);
        let (text, body) = match conversion(&method.input, &method.output, false) {
            Some((expr, what)) => (format!("Default: {what}."), applied(&expr)),
            None => {
                let (text, message) = missing(&module, method);
                (text, quote! { compile_error!(#message) })
            }
        };
        let doc = doc(&format!("{text} {}", uses(&method.uses)));
        methods.push(quote! {
            #doc
            fn #name(value: #input) -> Result<#output, ::eventsmith::UpcastError> {
                #body
            }
        });
    }
    let uses = imports.items();
    let body = quote! {
        impl #trait_name for #upcasters {
            #(#methods)*
        }
    };
    let docs = format!(
        "The named conversions the `convert` upcast rules of `{module}` call.\n\nThis file is yours: `eventsmith service new` wrote it once and never overwrites it. Each\nmethod turns the value a field has in the previous version into the next version's, when a\nstored event is upcast; an `Err` makes decoding that event fail with its message. A method\nstarts with a default where the two types have one, and with a `compile_error!` saying what\nto write where they have none. When a rule names a new conversion, the compiler names the\nmethod to add to `Conversions` here."
    );
    file(&docs, uses, body)
}

/// Where the conversion is called from.
fn uses(uses: &[ConversionUse]) -> String {
    let places: Vec<String> = uses
        .iter()
        .map(|u| {
            format!(
                "`{}` v{} → v{} for `{}`",
                u.event_type, u.from, u.to, u.field
            )
        })
        .collect();
    let rules = if places.len() == 1 { "rule" } else { "rules" };
    format!("Called by the `convert` {rules} of {}.", places.join(", "))
}

/// The doc comment and the `compile_error!` message of a method without a default.
fn missing(module: &str, method: &ConversionApi) -> (String, String) {
    let (from, to) = (display(&method.input), display(&method.output));
    let name = &method.name;
    let at = format!("`{module}::Conversions::{name}`");
    match (&method.input, &method.output) {
        (TypeApi::Option(_), output) if !matches!(output, TypeApi::Option(_)) => (
            "No default: the field may be absent in the previous version and the next one requires it, so only you know what an absent value becomes.".to_owned(),
            format!(
                "write {at}: replace this line with code that turns `value: {from}` into `Ok(…)` with the `{to}` it becomes (`None` too), or into `Err(eventsmith::UpcastError::new(\"why\"))`"
            ),
        ),
        _ => (
            format!("No default: eventsmith knows no conversion from `{from}` to `{to}`."),
            format!(
                "write {at}: replace this line with code that turns `value: {from}` into `Ok(…)` with the `{to}` it becomes, or into `Err(eventsmith::UpcastError::new(\"why\"))` when it cannot (`eventsmith::defaults::reread(value)` converts through JSON when both have the same JSON shape)"
            ),
        ),
    }
}

/// How a default conversion is written.
enum Expr {
    /// A function called with the value.
    Call(TokenStream),
    /// An expression of `value`.
    Of(TokenStream),
}

/// The expression converting `value`.
fn applied(expr: &Expr) -> TokenStream {
    match expr {
        Expr::Call(function) => quote! { #function(value) },
        Expr::Of(tokens) => tokens.clone(),
    }
}

/// The function converting one value, for `map`.
fn callable(expr: &Expr) -> TokenStream {
    match expr {
        Expr::Call(function) => function.clone(),
        Expr::Of(tokens) => quote! { |value| #tokens },
    }
}

/// `what`, then `more` unless it already says so (in a collection of collections).
fn with(what: String, more: &str) -> String {
    if what.ends_with(more) {
        what
    } else {
        what + more
    }
}

fn helper(name: &str) -> Expr {
    let name = ident(name);
    Expr::Call(quote! { ::eventsmith::defaults::#name })
}

/// The working default from `from` to `to`, and what it does; `None` where there is none. A
/// `nested` one is inside another expression, where `collect` cannot see the type to make.
fn conversion(from: &TypeApi, to: &TypeApi, nested: bool) -> Option<(Expr, String)> {
    use TypeApi as T;
    let collect = if nested {
        quote! { collect::<Result<_, _>>() }
    } else {
        quote! { collect() }
    };
    if from == to {
        return Some((
            Expr::Call(quote! { Ok }),
            "the value as it is (its type did not change)".to_owned(),
        ));
    }
    let string_enum = |t: &TypeApi| {
        matches!(
            t,
            T::Named {
                kind: NamedKind::StringEnum,
                ..
            }
        )
    };
    let (from_name, to_name) = (display(from), display(to));
    Some(match (from, to) {
        (T::Option(a), T::Option(b)) => {
            let (inner, what) = conversion(a, b, true)?;
            let map = callable(&inner);
            (
                Expr::Of(quote! { value.map(#map).transpose() }),
                with(what, "; an absent value stays absent"),
            )
        }
        (a, T::Option(b)) if a == b.as_ref() => (
            Expr::Of(quote! { Ok(Some(value)) }),
            "the value as it is, now optional".to_owned(),
        ),
        (a, T::Option(b)) => {
            let (inner, what) = conversion(a, b, true)?;
            let value = applied(&inner);
            (Expr::Of(quote! { #value.map(Some) }), what)
        }
        (T::Vec(a), T::Vec(b)) => {
            let (inner, what) = conversion(a, b, true)?;
            let map = callable(&inner);
            (
                Expr::Of(quote! { value.into_iter().map(#map).#collect }),
                with(what, ", item by item"),
            )
        }
        (T::Map(a), T::Map(b)) => {
            let (inner, what) = conversion(a, b, true)?;
            let value = applied(&inner);
            (
                Expr::Of(quote! {
                    value
                        .into_iter()
                        .map(|(key, value)| #value.map(|value| (key, value)))
                        .#collect
                }),
                with(what, ", value by value"),
            )
        }
        (_, T::Json) => (
            helper("to_json"),
            format!("the `{from_name}` as JSON (`defaults::to_json`)"),
        ),
        (T::Json, _) => (
            helper("reread"),
            format!(
                "the JSON value read as `{to_name}`, an error when it is not one (`defaults::reread`)"
            ),
        ),
        (a, T::Format("DateTime")) if a.is_integer() => (
            helper("unix_seconds_to_date_time"),
            "the integer read as Unix seconds, written as an RFC 3339 date-time in UTC (`1700000000` becomes `2023-11-14T22:13:20Z`; `defaults::unix_seconds_to_date_time`)".to_owned(),
        ),
        (T::Format("DateTime"), b) if b.is_integer() => (
            helper("date_time_to_unix_seconds"),
            "the RFC 3339 date-time as whole Unix seconds, any fraction dropped (`2023-11-14T22:13:20Z` becomes `1700000000`; `defaults::date_time_to_unix_seconds`)".to_owned(),
        ),
        (T::I32 | T::I64 | T::U32 | T::U64 | T::Number | T::Bool | T::Format(_), T::String) => (
            helper("to_text"),
            format!(
                "the `{from_name}` written as text ({}; `defaults::to_text`)",
                text_example(from)
            ),
        ),
        (T::String, T::I32 | T::I64 | T::U32 | T::U64 | T::Number | T::Bool | T::Format(_)) => (
            helper("parse"),
            format!(
                "the text parsed as `{to_name}` ({}), an error when it does not parse (`defaults::parse`)",
                parse_example(to)
            ),
        ),
        (a, T::Number) if a.is_integer() => (
            helper("to_number"),
            "the integer as a JSON number (`defaults::to_number`)".to_owned(),
        ),
        (a, b) if (a.is_integer() || a == &T::Number) && b.is_integer() => (
            helper("reread"),
            format!(
                "the number as `{to_name}`, an error when it does not fit or has a fraction (`defaults::reread`)"
            ),
        ),
        (a, b) if (string_enum(a) || a == &T::String) && (string_enum(b) || b == &T::String) => (
            helper("reread"),
            format!(
                "the `{from_name}` read as `{to_name}` by its JSON string, an error for a value `{to_name}` does not have (`defaults::reread`)"
            ),
        ),
        _ => return None,
    })
}

/// What `to_text` makes of a value of `ty`.
fn text_example(ty: &TypeApi) -> &'static str {
    match ty {
        TypeApi::Number => "`2.5` becomes `\"2.5\"`",
        TypeApi::Bool => "`true` becomes `\"true\"`",
        TypeApi::Format(_) => "the text it holds",
        _ => "`42` becomes `\"42\"`",
    }
}

/// What `parse` makes of text, as `ty`.
fn parse_example(ty: &TypeApi) -> &'static str {
    match ty {
        TypeApi::Number => "`\"2.5\"` becomes `2.5`",
        TypeApi::Bool => "`\"true\"` becomes `true`",
        TypeApi::Format(_) => "its format checked",
        _ => "`\"42\"` becomes `42`",
    }
}

/// A type as the file writes it.
fn ty(imports: &mut Imports, ty: &TypeApi) -> TokenStream {
    match ty {
        TypeApi::Bool => quote! { bool },
        TypeApi::I32 => quote! { i32 },
        TypeApi::I64 => quote! { i64 },
        TypeApi::U32 => quote! { u32 },
        TypeApi::U64 => quote! { u64 },
        TypeApi::Number => quote! { ::eventsmith::serde_json::Number },
        TypeApi::String => quote! { String },
        TypeApi::Format(name) => {
            let name = ident(name);
            quote! { ::eventsmith::format::#name }
        }
        TypeApi::Json => quote! { ::eventsmith::serde_json::Value },
        TypeApi::Vec(item) => {
            let item = self::ty(imports, item);
            quote! { Vec<#item> }
        }
        TypeApi::Map(value) => {
            let value = self::ty(imports, value);
            quote! { ::eventsmith::indexmap::IndexMap<String, #value> }
        }
        TypeApi::Tuple(items) => {
            let items = items.iter().map(|item| self::ty(imports, item));
            quote! { (#(#items,)*) }
        }
        TypeApi::Option(value) => {
            let value = self::ty(imports, value);
            quote! { Option<#value> }
        }
        TypeApi::Boxed(value) => {
            let value = self::ty(imports, value);
            quote! { Box<#value> }
        }
        TypeApi::Named { path, .. } => imports.name(path),
    }
}

/// A type as messages name it.
fn display(ty: &TypeApi) -> String {
    match ty {
        TypeApi::Bool => "bool".into(),
        TypeApi::I32 => "i32".into(),
        TypeApi::I64 => "i64".into(),
        TypeApi::U32 => "u32".into(),
        TypeApi::U64 => "u64".into(),
        TypeApi::Number => "serde_json::Number".into(),
        TypeApi::String => "String".into(),
        TypeApi::Format(name) => format!("eventsmith::format::{name}"),
        TypeApi::Json => "serde_json::Value".into(),
        TypeApi::Vec(item) => format!("Vec<{}>", display(item)),
        TypeApi::Map(value) => format!("IndexMap<String, {}>", display(value)),
        TypeApi::Tuple(items) => {
            let items: Vec<String> = items.iter().map(display).collect();
            format!("({})", items.join(", "))
        }
        TypeApi::Option(value) => format!("Option<{}>", display(value)),
        TypeApi::Boxed(value) => format!("Box<{}>", display(value)),
        TypeApi::Named { path, .. } => path.join("::"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::{Settings, generate};
    use crate::project::loader::tests::load_project;
    use serde_json::json;

    /// `order.placed` v1 and v2, v2 converting every property of v1 by the rule named after it.
    fn project(v1: serde_json::Value, v2: serde_json::Value) -> Vec<ConversionsApi> {
        let mut v2 = v2;
        let rules: Vec<serde_json::Value> = v2["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|field| json!({"convert": {"field": field, "using": field}}))
            .collect();
        v2["x-eventsmith"] = json!({"upcast": {"rules": rules}});
        let (v1, v2) = (v1.to_string(), v2.to_string());
        let loaded = load_project(&[
            ("schema/events/order/placed.v1.json", &v1),
            ("schema/events/order/placed.v2.json", &v2),
        ]);
        let project = loaded.project.expect("a project");
        generate(&project, &Settings::default())
            .map_err(|errors| format!("{errors:#?}"))
            .unwrap()
            .api
            .conversions
    }

    fn object(properties: serde_json::Value, required: &[&str]) -> serde_json::Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "OrderPlaced",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    #[test]
    fn conversions_get_a_default_where_the_types_have_one_and_a_compile_error_elsewhere() {
        let v1 = object(
            json!({
                "placed_at": {"type": "integer"},
                "total": {"type": "integer"},
                "code": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "integer"}},
                "status": {"type": "string"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "customer": {"type": "string"},
                "due": {"type": "integer"},
                "extra": {"type": "boolean"},
                "note": {"type": "string"},
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}},
                    "required": ["street"],
                    "additionalProperties": false
                },
                "same": {"type": "string"}
            }),
            &[
                "placed_at",
                "total",
                "code",
                "tags",
                "status",
                "counts",
                "customer",
                "extra",
                "address",
                "same",
            ],
        );
        let v2 = object(
            json!({
                "placed_at": {"type": "string", "format": "date-time"},
                "total": {"type": "number"},
                "code": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "items": {"type": "string"}},
                "status": {"type": "string", "enum": ["open", "paid"]},
                "counts": {"type": "object", "additionalProperties": {"type": "string"}},
                "customer": {"type": "string", "format": "uuid"},
                "due": {"type": "string", "format": "date-time"},
                "extra": {},
                "note": {"type": "string"},
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "zip": {"type": "string"}},
                    "required": ["street", "zip"],
                    "additionalProperties": false
                },
                "same": {"type": "string"}
            }),
            &[
                "placed_at",
                "total",
                "code",
                "tags",
                "status",
                "counts",
                "customer",
                "extra",
                "note",
                "address",
                "same",
            ],
        );
        let conversions = project(v1, v2);
        assert_eq!(conversions.len(), 1);
        assert_eq!(module_names(&conversions), ["order_v2"]);
        let file = conversions_file(&conversions[0]);
        insta::assert_snapshot!(file);
        // Valid Rust: the `compile_error!`s are the only thing that stops it compiling.
        syn::parse_file(&file).unwrap();
        assert_eq!(file.matches("compile_error!(").count(), 2, "{file}");
    }

    /// A generated type of `order::v<version>`.
    fn named(version: u32, kind: NamedKind) -> TypeApi {
        TypeApi::Named {
            path: vec!["order".into(), format!("v{version}"), "Thing".into()],
            kind,
        }
    }

    #[test]
    fn defaults_are_only_written_where_nothing_has_to_be_decided() {
        use TypeApi as T;
        let has = |from: T, to: T| conversion(&from, &to, false).is_some();
        let option = |t: T| T::Option(Box::new(t));
        let vec = |t: T| T::Vec(Box::new(t));
        // Nothing says what an absent value becomes.
        assert!(!has(option(T::I64), T::I64));
        assert!(!has(option(T::I64), T::Format("DateTime")));
        // Shapes that differ, or that eventsmith cannot tell line up.
        assert!(!has(
            named(1, NamedKind::Struct),
            named(2, NamedKind::Struct)
        ));
        assert!(!has(T::String, named(1, NamedKind::Struct)));
        assert!(!has(named(1, NamedKind::Union), T::String));
        assert!(!has(named(1, NamedKind::Union), named(2, NamedKind::Union)));
        assert!(!has(T::Format("Date"), T::Format("DateTime")));
        assert!(!has(T::Bool, T::I64));
        assert!(!has(vec(T::I64), T::I64));
        assert!(!has(T::Tuple(vec![T::I64]), vec(T::I64)));
        // The same type, wrapped or not, and what the table lists.
        assert!(has(
            named(1, NamedKind::Struct),
            named(1, NamedKind::Struct)
        ));
        assert!(has(T::I64, option(T::I64)));
        assert!(has(option(T::U32), option(T::Format("DateTime"))));
        assert!(has(vec(option(T::I64)), vec(option(T::String))));
        assert!(has(named(1, NamedKind::Union), T::Json));
        assert!(has(T::Json, named(1, NamedKind::Struct)));
        assert!(has(T::Number, T::U32));
        assert!(has(named(1, NamedKind::StringEnum), T::String));
        assert!(has(
            named(1, NamedKind::StringEnum),
            named(2, NamedKind::StringEnum)
        ));
        assert!(has(T::String, T::Format("Uuid")));
        // Nested defaults name the collection they make; the outermost is inferred.
        let (expr, what) = conversion(&vec(vec(T::I64)), &vec(vec(T::String)), false).unwrap();
        assert_eq!(
            applied(&expr).to_string(),
            quote! {
                value.into_iter().map(|value| value.into_iter().map(::eventsmith::defaults::to_text).collect::<Result<_, _>>()).collect()
            }
            .to_string()
        );
        assert!(
            what.ends_with("`defaults::to_text`), item by item"),
            "{what}"
        );
    }
}
