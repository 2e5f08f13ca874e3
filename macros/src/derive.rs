//! `#[derive(Event)]`: reads the struct's serde shape with syn, asks the engine whether it matches
//! the schema, and reports each mismatch at the field it is about.

use crate::expand::manifest_dir;
use eventsmith_core::commands::derive::{NotTheEvent, RustField, RustKind, check};
use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, LitStr, PathArguments, Type};

pub fn event(input: TokenStream) -> TokenStream {
    match derive(input) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

struct EventAttr {
    schema: LitStr,
    event_type: Option<LitStr>,
    version: Option<syn::LitInt>,
}

fn event_attr(input: &DeriveInput) -> syn::Result<EventAttr> {
    let mut schema = None;
    let mut event_type = None;
    let mut version = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("event")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("schema") {
                schema = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("event_type") {
                event_type = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("version") {
                version = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error("expected `schema`, `event_type` or `version`"));
            }
            Ok(())
        })?;
    }
    let schema = schema.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "missing `#[event(schema = \"schema/events/<aggregate>/<name>.v<N>.json\")]`",
        )
    })?;
    Ok(EventAttr {
        schema,
        event_type,
        version,
    })
}

fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let attr = event_attr(&input)?;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`Event` can be derived for structs only",
        ));
    };
    let path = manifest_dir().join(attr.schema.value());
    let event_type = attr.event_type.as_ref().map(LitStr::value);
    let version = match &attr.version {
        Some(version) => Some(version.base10_parse()?),
        None => None,
    };
    let rename_all = serde_value(&input.attrs, "rename_all")?;
    let (fields, spans) = serde_fields(&data.fields, rename_all.as_deref())?;
    let identity = match check(&path, event_type, version, &fields) {
        Ok(identity) => identity,
        Err(NotTheEvent::Schema(failure)) => {
            return Err(syn::Error::new(attr.schema.span(), failure.message));
        }
        Err(NotTheEvent::Fields(mismatches)) => {
            let schema_name = attr.schema.value();
            let mut errors = mismatches.into_iter().map(|mismatch| {
                let span = match mismatch.field {
                    Some(i) if mismatch.about_type => spans[i].1,
                    Some(i) => spans[i].0,
                    None => input.ident.span(),
                };
                syn::Error::new(span, format!("{} (schema {schema_name})", mismatch.message))
            });
            let mut error = errors.next().unwrap_or_else(|| {
                syn::Error::new(input.ident.span(), "the struct does not match its schema")
            });
            errors.for_each(|next| error.combine(next));
            return Err(error);
        }
    };
    let (event_type, version) = (identity.event_type, identity.version);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let file = path.to_string_lossy().into_owned();
    Ok(quote! {
        impl #impl_generics ::eventsmith::Event for #name #ty_generics #where_clause {
            const EVENT_TYPE: &'static str = #event_type;
            const VERSION: u32 = #version;
        }
        const _: &[u8] = ::core::include_bytes!(#file);
    })
}

/// The top-level items of every `#[serde(…)]` attribute: each name with its string value, if it
/// has one (`rename = "x"`; `default`, `skip` and nested lists have none).
fn serde_items(attrs: &[syn::Attribute]) -> syn::Result<Vec<(String, Option<String>)>> {
    let mut items = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut value = None;
            if meta.input.peek(syn::Token![=]) {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) = meta.value()?.parse()?
                {
                    value = Some(text.value());
                }
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    if inner.input.peek(syn::Token![=]) {
                        let _: syn::Expr = inner.value()?.parse()?;
                    }
                    Ok(())
                })?;
            }
            items.push((name, value));
            Ok(())
        })?;
    }
    Ok(items)
}

/// The value of `#[serde(<key> = "…")]` on a container or field.
fn serde_value(attrs: &[syn::Attribute], key: &str) -> syn::Result<Option<String>> {
    let items = serde_items(attrs)?;
    Ok(items
        .into_iter()
        .find(|(name, _)| name == key)
        .and_then(|(_, value)| value))
}

/// Whether a field has `#[serde(<flag>)]` (as a bare word or `flag = …`).
fn serde_flag(attrs: &[syn::Attribute], flag: &str) -> syn::Result<bool> {
    Ok(serde_items(attrs)?.iter().any(|(name, _)| name == flag))
}

/// The spans of a field's name and of its type.
type NameAndType = (Span, Span);

/// The serialized fields, with the spans of each one's name and type.
fn serde_fields(
    fields: &Fields,
    rename_all: Option<&str>,
) -> syn::Result<(Vec<RustField>, Vec<NameAndType>)> {
    let Fields::Named(named) = fields else {
        return Err(syn::Error::new(
            fields.span(),
            "`Event` needs a struct with named fields",
        ));
    };
    let mut out = Vec::new();
    let mut spans = Vec::new();
    for field in &named.named {
        if serde_flag(&field.attrs, "skip")?
            || serde_flag(&field.attrs, "skip_serializing")?
            || serde_flag(&field.attrs, "flatten")?
        {
            continue;
        }
        let ident = field
            .ident
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let ident = ident.strip_prefix("r#").unwrap_or(&ident).to_owned();
        let json = match serde_value(&field.attrs, "rename")? {
            Some(name) => name,
            None => apply_rename_all(&ident, rename_all),
        };
        out.push(RustField {
            json,
            kind: kind_of(&field.ty),
            has_default: serde_flag(&field.attrs, "default")?,
        });
        let name_span = field.ident.as_ref().map_or(field.span(), |i| i.span());
        spans.push((name_span, field.ty.span()));
    }
    Ok((out, spans))
}

fn apply_rename_all(name: &str, rule: Option<&str>) -> String {
    match rule {
        Some("camelCase") => name.to_lower_camel_case(),
        Some("PascalCase") => name.to_upper_camel_case(),
        Some("SCREAMING_SNAKE_CASE") => name.to_shouty_snake_case(),
        Some("kebab-case") => name.to_kebab_case(),
        Some("snake_case") => name.to_snake_case(),
        Some("lowercase") => name.to_lowercase(),
        Some("UPPERCASE") => name.to_uppercase(),
        _ => name.to_owned(),
    }
}

/// The JSON kind of a Rust type, read from its last path segment.
fn kind_of(ty: &Type) -> RustKind {
    match ty {
        Type::Reference(r) => kind_of(&r.elem),
        Type::Array(a) => RustKind::Array(Box::new(kind_of(&a.elem))),
        Type::Slice(s) => RustKind::Array(Box::new(kind_of(&s.elem))),
        Type::Paren(p) => kind_of(&p.elem),
        Type::Group(g) => kind_of(&g.elem),
        Type::Path(p) => {
            let Some(segment) = p.path.segments.last() else {
                return RustKind::Any;
            };
            let args: Vec<&Type> = match &segment.arguments {
                PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let arg = |i: usize| args.get(i).map_or(RustKind::Any, |t| kind_of(t));
            match segment.ident.to_string().as_str() {
                "String" | "str" | "Cow" | "char" | "DateTime" | "Date" | "Time" | "Uuid"
                | "Email" | "Uri" | "UriReference" | "Ipv4" | "Ipv6" | "Hostname" => {
                    RustKind::String
                }
                "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64"
                | "u128" | "usize" => RustKind::Integer,
                "f32" | "f64" | "Number" => RustKind::Number,
                "bool" => RustKind::Bool,
                "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => RustKind::Array(Box::new(arg(0))),
                "HashMap" | "BTreeMap" | "IndexMap" => RustKind::Map(Box::new(arg(1))),
                "Option" => RustKind::Option(Box::new(arg(0))),
                "Box" | "Arc" | "Rc" => arg(0),
                "Value" => RustKind::Any,
                other => RustKind::Other(other.to_owned()),
            }
        }
        _ => RustKind::Any,
    }
}
