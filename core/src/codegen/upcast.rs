//! Upcasters as typed conversions between two versions' Rust types. The declarative rules are
//! replayed over a tree of slots (what each field of the next version is made of: an old field, a
//! default, a converted value, or an object built field by field), then each slot becomes an
//! expression that moves, converts or builds the value. Nothing goes through JSON unless two types
//! cannot be lined up field by field.

use super::api::ConversionUse;
use super::emit::{Emitter, ident, path};
use super::names::{Scope, is_keyword};
use super::types::{Additional, Field, Item, Ty};
use crate::project::annotations::{FieldPath, UpcastRule};
use crate::project::upcast::{Target, apply};
use crate::text::pointer;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;
use std::collections::HashMap;

/// What a field of the next version is made of.
#[derive(Debug, Clone)]
enum Slot {
    /// The old value at this path (property names).
    Old(Vec<String>),
    /// A literal.
    Default(Value),
    /// An old value through a named conversion.
    Converted(Box<Slot>, String),
    /// An object built from its properties' slots; the path of the old object it was opened
    /// from, whose undeclared properties carry over.
    Object(Vec<(String, Slot)>, Option<Vec<String>>),
}

/// A conversion method the user implements (for `convert` rules).
pub struct Conversion {
    /// The method name (from `using`).
    pub name: Ident,
    /// The old value's type.
    pub input: TokenStream,
    /// The new value's type.
    pub output: TokenStream,
    /// The old value's type, planned.
    pub input_ty: Ty,
    /// The new value's type, planned.
    pub output_ty: Ty,
    /// The `convert` rules that call it.
    pub uses: Vec<ConversionUse>,
}

impl Conversion {
    fn input_ty_text(&self) -> String {
        self.input.to_string().replace(' ', "")
    }

    fn output_ty_text(&self) -> String {
        self.output.to_string().replace(' ', "")
    }
}

/// Writes the conversion functions of one version module.
pub struct Upcasts<'e, 's, 'a> {
    emitter: &'e Emitter<'s, 'a>,
    /// The module the functions go in (the newer version's).
    module: Vec<String>,
    /// Helper functions written so far.
    pub items: Vec<TokenStream>,
    /// Conversions the rules name, in the order first used.
    pub conversions: Vec<Conversion>,
    pairs: HashMap<(usize, usize), Ident>,
    names: Scope,
    used_prev: bool,
    /// The path to the generated `Upcasters` from the module.
    upcasters: TokenStream,
    /// The upcast being written: event type, from and to versions.
    upcasting: (String, u32, u32),
}

/// An expression and whether it contains `?`.
struct Expr {
    tokens: TokenStream,
    fallible: bool,
}

impl Expr {
    fn ok(tokens: TokenStream) -> Self {
        Expr {
            tokens,
            fallible: false,
        }
    }

    fn fallible(tokens: TokenStream) -> Self {
        Expr {
            tokens,
            fallible: true,
        }
    }
}

fn field_ty(field: &Field) -> Ty {
    if field.required {
        field.ty.clone()
    } else {
        Ty::Nullable(Box::new(field.ty.clone()))
    }
}

fn error() -> TokenStream {
    quote! { ::eventsmith::UpcastError }
}

impl<'e, 's, 'a> Upcasts<'e, 's, 'a> {
    /// Conversions written into `module`.
    pub fn new(emitter: &'e Emitter<'s, 'a>, module: &[String]) -> Self {
        Self {
            upcasters: path(module, &[], "Upcasters"),
            emitter,
            module: module.to_vec(),
            items: Vec::new(),
            conversions: Vec::new(),
            pairs: HashMap::new(),
            names: Scope::new(),
            used_prev: false,
            upcasting: (String::new(), 0, 0),
        }
    }

    /// Names the upcast the next [`Upcasts::function`] writes (for the uses of conversions).
    pub fn upcasting(&mut self, event_type: &str, from: u32, to: u32) {
        self.upcasting = (event_type.to_owned(), from, to);
    }

    fn ty(&self, ty: &Ty) -> TokenStream {
        self.emitter.ty(ty, &self.module)
    }

    /// The module the functions go in.
    pub fn module(&self) -> &[String] {
        &self.module
    }

    /// A type as written in that module.
    pub fn type_tokens(&self, ty: &Ty) -> TokenStream {
        self.ty(ty)
    }

    fn additional_of(&self, ty: &Ty) -> Option<&'s Additional> {
        let (id, _) = self.fields(ty)?;
        match &self.emitter.space.defs[id].item {
            Item::Struct { additional, .. } => additional.as_ref(),
            _ => None,
        }
    }

    fn fields(&self, ty: &Ty) -> Option<(usize, &'s [Field])> {
        match ty.unchecked() {
            Ty::Named(id) => match &self.emitter.space.defs[*id].item {
                Item::Struct { fields, .. } => Some((*id, fields)),
                _ => None,
            },
            Ty::Boxed(inner) => self.fields(inner),
            _ => None,
        }
    }

    /// A function `name(prev: old) -> Result<new, UpcastError>` applying `rules` in order.
    pub fn function(
        &mut self,
        name: &Ident,
        doc: &str,
        old: &Ty,
        new: &Ty,
        rules: &[UpcastRule],
    ) -> Result<TokenStream, String> {
        self.used_prev = false;
        let body = match self.fields(old) {
            Some((_, fields)) => {
                let mut root = Slot::Object(
                    fields
                        .iter()
                        .map(|f| (f.json.clone(), Slot::Old(vec![f.json.clone()])))
                        .collect(),
                    Some(Vec::new()),
                );
                apply(
                    &mut Slots {
                        upcasts: self,
                        root: &mut root,
                        old,
                    },
                    rules,
                )?;
                self.build(&root, new, "", old)?
            }
            None if rules.is_empty() => {
                self.used_prev = true;
                self.convert(quote! { prev }, old, new, "")
            }
            None => return Err("the rules need an object at the root of both versions".into()),
        };
        let (old_ty, new_ty) = (self.ty(old), self.ty(new));
        let prev = if self.used_prev {
            quote! { prev }
        } else {
            quote! { _prev }
        };
        let error = error();
        let tokens = body.tokens;
        let doc = format!(" {doc}");
        Ok(quote! {
            #[doc = #doc]
            pub fn #name(#prev: #old_ty) -> ::std::result::Result<#new_ty, #error> {
                ::std::result::Result::Ok(#tokens)
            }
        })
    }

    /// Removes the slot at `path`, opening old objects on the way into slots of their own.
    fn take(&self, root: &mut Slot, path: &[String], old: &Ty) -> Result<Slot, String> {
        let (last, parents) = path.split_last().ok_or("a rule names no field")?;
        let mut at = root;
        for token in parents {
            let Slot::Object(children, _) = at else {
                return Err(format!("`{}` is not an object", pointer_of(path)));
            };
            let child = children
                .iter_mut()
                .find(|(name, _)| name == token)
                .map(|(_, slot)| slot)
                .ok_or_else(|| {
                    format!("there is no `{token}` on the way to `{}`", pointer_of(path))
                })?;
            if let Slot::Old(old_path) = child {
                let old_path = old_path.clone();
                let ty = self.old_ty(old, &old_path)?;
                let Some((_, fields)) = self.fields(&ty) else {
                    return Err(format!(
                        "`{}` is not a required object in the previous version; declare a custom upcaster",
                        pointer_of(&old_path)
                    ));
                };
                *child = Slot::Object(
                    fields
                        .iter()
                        .map(|f| {
                            let mut p = old_path.clone();
                            p.push(f.json.clone());
                            (f.json.clone(), Slot::Old(p))
                        })
                        .collect(),
                    Some(old_path),
                );
            }
            at = child;
        }
        let Slot::Object(children, _) = at else {
            return Err(format!("`{}` is not in an object", pointer_of(path)));
        };
        let index = children
            .iter()
            .position(|(name, _)| name == last)
            .ok_or_else(|| format!("there is no `{}` in the previous version", pointer_of(path)))?;
        Ok(children.remove(index).1)
    }

    /// The type of the old value at `path` (property names from the root).
    fn old_ty(&self, old: &Ty, path: &[String]) -> Result<Ty, String> {
        let mut ty = old.clone();
        for token in path {
            let (_, fields) = self
                .fields(&ty)
                .ok_or_else(|| format!("`{}` is not an object", pointer_of(path)))?;
            let field = fields
                .iter()
                .find(|f| &f.json == token)
                .ok_or_else(|| format!("there is no `{}`", pointer_of(path)))?;
            ty = field_ty(field);
        }
        Ok(ty)
    }

    /// The expression reading the old value at `path`.
    fn old_expr(&mut self, old: &Ty, path: &[String]) -> TokenStream {
        self.used_prev = true;
        let mut expr = quote! { prev };
        let mut ty = old.clone();
        for token in path {
            let Some((_, fields)) = self.fields(&ty) else {
                break;
            };
            let Some(field) = fields.iter().find(|f| &f.json == token) else {
                break;
            };
            let rust = ident(&field.rust);
            expr = match ty.unchecked() {
                Ty::Boxed(_) => quote! { (*#expr).#rust },
                _ => quote! { #expr.#rust },
            };
            ty = field_ty(field);
        }
        expr
    }

    fn build(&mut self, slot: &Slot, target: &Ty, at: &str, old: &Ty) -> Result<Expr, String> {
        match slot {
            Slot::Old(path) => {
                let from = self.old_ty(old, path)?;
                let expr = self.old_expr(old, path);
                Ok(self.convert(expr, &from, target, at))
            }
            Slot::Default(value) => self.default(value, target, at),
            Slot::Converted(inner, using) => {
                let Slot::Old(path) = inner.as_ref() else {
                    return Err(format!(
                        "`{at}`: a converted field must come from the previous version"
                    ));
                };
                let from = self.old_ty(old, path)?;
                let expr = self.old_expr(old, path);
                // A Rust keyword (`type`) gets a `_`, as field names do; other names stay as written.
                let name = if is_keyword(using) {
                    ident(&format!("{using}_"))
                } else {
                    ident(using)
                };
                let (event_type, from_version, to_version) = self.upcasting.clone();
                let used = ConversionUse {
                    event_type,
                    from: from_version,
                    to: to_version,
                    field: at.to_owned(),
                };
                let (input, output) = (self.ty(&from), self.ty(target));
                match self.conversions.iter_mut().find(|c| c.name == name) {
                    // One name, one trait method: one signature.
                    Some(conversion)
                        if conversion.input.to_string() != input.to_string()
                            || conversion.output.to_string() != output.to_string() =>
                    {
                        return Err(format!(
                            "`{at}`: conversion `{using}` already converts `{}` from `{}` to `{}`, and a conversion has one signature; give this one another name",
                            conversion.uses[0].field,
                            conversion.input_ty_text(),
                            conversion.output_ty_text(),
                        ));
                    }
                    Some(conversion) => conversion.uses.push(used),
                    None => self.conversions.push(Conversion {
                        name: name.clone(),
                        input,
                        output,
                        input_ty: from.clone(),
                        output_ty: target.clone(),
                        uses: vec![used],
                    }),
                }
                let upcasters = &self.upcasters;
                Ok(Expr::fallible(
                    quote! { <#upcasters as Conversions>::#name(#expr)? },
                ))
            }
            Slot::Object(children, origin) => {
                let (optional, inner) = match target.unchecked() {
                    Ty::Nullable(inner) => (true, inner.as_ref().clone()),
                    other => (false, other.clone()),
                };
                let boxed = matches!(inner.unchecked(), Ty::Boxed(_));
                let Some((id, fields)) = self.fields(&inner) else {
                    return Err(format!("`{at}` is not an object in the next version"));
                };
                let def = &self.emitter.space.defs[id];
                let name = path(
                    &self.module,
                    &self.emitter.space.modules[def.module],
                    &def.name,
                );
                let mut parts = Vec::new();
                let mut fallible = false;
                for field in fields {
                    let rust = ident(&field.rust);
                    let here = format!("{at}/{}", pointer::escape(&field.json));
                    let value = match children.iter().find(|(n, _)| n == &field.json) {
                        Some((_, slot)) => self.build(slot, &field_ty(field), &here, old)?,
                        None if !field.required => Expr::ok(quote! { ::std::option::Option::None }),
                        None => {
                            return Err(format!(
                                "the next version requires `{here}` and no rule gives it a value; add a `default` or a `rename`/`move` rule"
                            ));
                        }
                    };
                    fallible |= value.fallible;
                    let value = value.tokens;
                    parts.push(quote! { #rust: #value });
                }
                if let Some(additional) = self.additional_of(&inner) {
                    let rust = ident(&additional.rust);
                    let new_map = Ty::Map(Box::new(additional.ty.clone()));
                    let carried = origin.as_ref().and_then(|origin| {
                        let old_ty = self.old_ty(old, origin).ok()?;
                        let old_additional = self.additional_of(&old_ty)?;
                        Some((origin.clone(), old_additional))
                    });
                    let value = match carried {
                        Some((origin, old_additional)) => {
                            let source = self.old_expr(old, &origin);
                            let old_rust = ident(&old_additional.rust);
                            let old_map = Ty::Map(Box::new(old_additional.ty.clone()));
                            self.convert(quote! { #source.#old_rust }, &old_map, &new_map, at)
                        }
                        None => Expr::ok(quote! { ::eventsmith::indexmap::IndexMap::new() }),
                    };
                    fallible |= value.fallible;
                    let value = value.tokens;
                    parts.push(quote! { #rust: #value });
                }
                let mut tokens = quote! { #name { #(#parts),* } };
                if boxed {
                    tokens = quote! { ::std::boxed::Box::new(#tokens) };
                }
                if optional {
                    tokens = quote! { ::std::option::Option::Some(#tokens) };
                }
                Ok(Expr { tokens, fallible })
            }
        }
    }

    fn default(&self, value: &Value, target: &Ty, at: &str) -> Result<Expr, String> {
        if let Some(literal) = self.emitter.literal(value, target, &self.module) {
            return Ok(Expr::ok(literal));
        }
        // A format string is checked when made.
        let (optional, inner) = match target.unchecked() {
            Ty::Nullable(inner) => (true, inner.unchecked()),
            other => (false, other),
        };
        if let (Ty::Format(format), Value::String(text)) = (inner, value) {
            let name = ident(format.type_name());
            let error = error();
            let mut tokens = quote! {
                ::eventsmith::format::#name::try_from(::std::string::String::from(#text))
                    .map_err(|e| #error::new(e.to_string()))?
            };
            if optional {
                tokens = quote! { ::std::option::Option::Some(#tokens) };
            }
            return Ok(Expr::fallible(tokens));
        }
        Err(format!(
            "the default `{value}` for `{at}` does not fit its type in the next version"
        ))
    }

    /// `expr` (of type `from`) as a `to`.
    fn convert(&mut self, expr: TokenStream, from: &Ty, to: &Ty, at: &str) -> Expr {
        let (a, b) = (from.unchecked(), to.unchecked());
        if a.shape() == b.shape() {
            return Expr::ok(expr);
        }
        let error = error();
        match (a, b) {
            (Ty::Nullable(x), Ty::Nullable(y)) => {
                let inner = self.convert(quote! { value }, x, y, at);
                let tokens = inner.tokens;
                if inner.fallible {
                    Expr::fallible(quote! {
                        match #expr {
                            ::std::option::Option::Some(value) => ::std::option::Option::Some(#tokens),
                            ::std::option::Option::None => ::std::option::Option::None,
                        }
                    })
                } else {
                    let function = function_of(&tokens);
                    Expr::ok(quote! { #expr.map(#function) })
                }
            }
            (_, Ty::Nullable(y)) => {
                let inner = self.convert(expr, a, y, at);
                let tokens = inner.tokens;
                Expr {
                    tokens: quote! { ::std::option::Option::Some(#tokens) },
                    fallible: inner.fallible,
                }
            }
            (Ty::Nullable(x), _) => {
                let unwrapped = quote! { #expr.ok_or_else(|| #error::missing(#at))? };
                let inner = self.convert(unwrapped, x, b, at);
                Expr::fallible(inner.tokens)
            }
            (Ty::Boxed(x), _) => self.convert(quote! { (*#expr) }, x, b, at),
            (_, Ty::Boxed(y)) => {
                let inner = self.convert(expr, a, y, at);
                let tokens = inner.tokens;
                Expr {
                    tokens: quote! { ::std::boxed::Box::new(#tokens) },
                    fallible: inner.fallible,
                }
            }
            (Ty::Vec(x), Ty::Vec(y)) => {
                let inner = self.convert(quote! { value }, x, y, at);
                let tokens = inner.tokens;
                if inner.fallible {
                    let function = match strip_question_mark(&tokens) {
                        Some(result) => function_of(&result),
                        None => {
                            quote! { |value| -> ::std::result::Result<_, #error> { ::std::result::Result::Ok(#tokens) } }
                        }
                    };
                    Expr::fallible(quote! {
                        #expr.into_iter()
                            .map(#function)
                            .collect::<::std::result::Result<::std::vec::Vec<_>, _>>()?
                    })
                } else {
                    let function = function_of(&tokens);
                    Expr::ok(quote! { #expr.into_iter().map(#function).collect() })
                }
            }
            (Ty::Map(x), Ty::Map(y)) => {
                let inner = self.convert(quote! { value }, x, y, at);
                let tokens = inner.tokens;
                if inner.fallible {
                    Expr::fallible(quote! {
                        #expr.into_iter()
                            .map(|(key, value)| -> ::std::result::Result<_, #error> { ::std::result::Result::Ok((key, #tokens)) })
                            .collect::<::std::result::Result<::eventsmith::indexmap::IndexMap<_, _>, _>>()?
                    })
                } else {
                    Expr::ok(
                        quote! { #expr.into_iter().map(|(key, value)| (key, #tokens)).collect() },
                    )
                }
            }
            (Ty::Named(i), Ty::Named(j)) => match self.pair(*i, *j, at) {
                Some(function) => Expr::fallible(quote! { #function(#expr)? }),
                None => self.via_json(expr, at),
            },
            (Ty::U32, Ty::U64 | Ty::I64) | (Ty::I32, Ty::I64) => {
                let to = self.ty(b);
                Expr::ok(quote! { <#to>::from(#expr) })
            }
            (Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64, Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64) => {
                let to = self.ty(b);
                Expr::fallible(
                    quote! { <#to>::try_from(#expr).map_err(|_| #error::out_of_range(#at))? },
                )
            }
            (Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64, Ty::Number) => {
                Expr::ok(quote! { ::eventsmith::serde_json::Number::from(#expr) })
            }
            (Ty::String, Ty::Format(format)) => {
                let name = ident(format.type_name());
                Expr::fallible(quote! {
                    ::eventsmith::format::#name::try_from(#expr).map_err(|e| #error::new(e.to_string()))?
                })
            }
            (Ty::Format(_), Ty::String) => Expr::ok(quote! { #expr.into_string() }),
            _ => self.via_json(expr, at),
        }
    }

    fn via_json(&self, expr: TokenStream, at: &str) -> Expr {
        Expr::fallible(quote! { ::eventsmith::__private::via_json(#at, &#expr)? })
    }

    /// The function converting named type `i` (old) into `j` (new), written on first use;
    /// `None` when their shapes cannot be lined up.
    fn pair(&mut self, i: usize, j: usize, at: &str) -> Option<Ident> {
        if let Some(function) = self.pairs.get(&(i, j)) {
            return Some(function.clone());
        }
        let defs = &self.emitter.space.defs;
        let (old_def, new_def) = (&defs[i], &defs[j]);
        let name = format_ident!(
            "{}",
            self.names.claim(format!(
                "convert_{}",
                super::names::field_name(&old_def.name)
            ))
        );
        let old_ty = self.ty(&Ty::Named(i));
        let new_ty = self.ty(&Ty::Named(j));
        let new_path = new_ty.clone();
        let error = error();
        let body = match (&old_def.item, &new_def.item) {
            (
                Item::Struct {
                    fields: old_fields, ..
                },
                Item::Struct {
                    fields: new_fields, ..
                },
            ) => {
                let unmatched = new_fields
                    .iter()
                    .any(|n| n.required && old_fields.iter().all(|o| o.json != n.json));
                if unmatched {
                    return None;
                }
                self.pairs.insert((i, j), name.clone());
                let mut parts = Vec::new();
                for field in new_fields {
                    let rust = ident(&field.rust);
                    let here = format!("{at}/{}", pointer::escape(&field.json));
                    let value = match old_fields.iter().find(|f| f.json == field.json) {
                        Some(old_field) => {
                            let old_rust = ident(&old_field.rust);
                            self.convert(
                                quote! { prev.#old_rust },
                                &field_ty(old_field),
                                &field_ty(field),
                                &here,
                            )
                            .tokens
                        }
                        None => quote! { ::std::option::Option::None },
                    };
                    parts.push(quote! { #rust: #value });
                }
                let mut uses_prev = false;
                if let Item::Struct {
                    additional: Some(new_additional),
                    ..
                } = &new_def.item
                {
                    let rust = ident(&new_additional.rust);
                    let new_map = Ty::Map(Box::new(new_additional.ty.clone()));
                    let value = match &old_def.item {
                        Item::Struct {
                            additional: Some(old_additional),
                            ..
                        } => {
                            uses_prev = true;
                            let old_rust = ident(&old_additional.rust);
                            let old_map = Ty::Map(Box::new(old_additional.ty.clone()));
                            self.convert(quote! { prev.#old_rust }, &old_map, &new_map, at)
                                .tokens
                        }
                        _ => quote! { ::eventsmith::indexmap::IndexMap::new() },
                    };
                    parts.push(quote! { #rust: #value });
                }
                let prev = if uses_prev
                    || old_fields
                        .iter()
                        .any(|o| new_fields.iter().any(|n| n.json == o.json))
                {
                    quote! { prev }
                } else {
                    quote! { _prev }
                };
                quote! {
                    fn #name(#prev: #old_ty) -> ::std::result::Result<#new_ty, #error> {
                        ::std::result::Result::Ok(#new_path { #(#parts),* })
                    }
                }
            }
            (
                Item::Enum {
                    variants: old_variants,
                },
                Item::Enum {
                    variants: new_variants,
                },
            ) => {
                self.pairs.insert((i, j), name.clone());
                let arms = old_variants.iter().map(|(old_rust, json)| {
                    let old_rust = ident(old_rust);
                    match new_variants.iter().find(|(_, new_json)| new_json == json) {
                        Some((new_rust, _)) => {
                            let new_rust = ident(new_rust);
                            quote! { #old_ty::#old_rust => ::std::result::Result::Ok(#new_path::#new_rust), }
                        }
                        None => {
                            let message = format!("`{at}`: the value `{json}` no longer exists");
                            quote! { #old_ty::#old_rust => ::std::result::Result::Err(#error::new(#message)), }
                        }
                    }
                });
                quote! {
                    fn #name(prev: #old_ty) -> ::std::result::Result<#new_ty, #error> {
                        match prev { #(#arms)* }
                    }
                }
            }
            _ => return None,
        };
        self.items.push(body);
        Some(name)
    }
}

/// The slot tree of an upcaster being planned, for the rules' meaning to reshape.
struct Slots<'u, 'e, 's, 'a, 'r> {
    upcasts: &'u Upcasts<'e, 's, 'a>,
    root: &'r mut Slot,
    old: &'r Ty,
}

impl Target for Slots<'_, '_, '_, '_, '_> {
    type Field = Slot;

    fn take(&mut self, path: &FieldPath) -> Result<Option<Slot>, String> {
        let path = tokens_of(path.pointer())?;
        self.upcasts.take(self.root, &path, self.old).map(Some)
    }

    fn put(&mut self, path: &FieldPath, field: Option<Slot>) -> Result<(), String> {
        let slot = field.ok_or_else(|| format!("nothing to put at `{}`", path.pointer()))?;
        put(self.root, &tokens_of(path.pointer())?, slot)
    }

    fn fill(&mut self, path: &FieldPath, value: &Value) -> Result<(), String> {
        let path = tokens_of(path.pointer())?;
        let slot = match self.upcasts.take(self.root, &path, self.old) {
            // Always present in the old version: its value is kept.
            Ok(Slot::Old(old_path))
                if !matches!(self.upcasts.old_ty(self.old, &old_path)?, Ty::Nullable(_)) =>
            {
                Slot::Old(old_path)
            }
            Ok(_) => {
                return Err(format!(
                    "`{}` may be absent or null in the previous version, and a default for such a field is not generated; declare a custom upcaster",
                    pointer_of(&path)
                ));
            }
            Err(_) => Slot::Default(value.clone()),
        };
        put(self.root, &path, slot)
    }

    fn convert(&mut self, path: &FieldPath, using: &str) -> Result<(), String> {
        let path = tokens_of(path.pointer())?;
        let slot = self.upcasts.take(self.root, &path, self.old)?;
        put(
            self.root,
            &path,
            Slot::Converted(Box::new(slot), using.to_owned()),
        )
    }
}

/// `f` for an expression `f(value)` (a closure that only calls a function is noise, and clippy
/// says so), otherwise the closure `|value| expression`.
fn function_of(expression: &TokenStream) -> TokenStream {
    let tokens: Vec<proc_macro2::TokenTree> = expression.clone().into_iter().collect();
    if let Some((proc_macro2::TokenTree::Group(args), callee)) = tokens.split_last() {
        let only_value = args.delimiter() == proc_macro2::Delimiter::Parenthesis
            && args.stream().to_string() == "value";
        let callee: TokenStream = callee.iter().cloned().collect();
        let is_path = !callee.is_empty()
            && !callee.to_string().contains("value")
            && callee.clone().into_iter().all(|t| match t {
                proc_macro2::TokenTree::Ident(_) => true,
                proc_macro2::TokenTree::Punct(p) => matches!(p.as_char(), ':' | '<' | '>'),
                _ => false,
            });
        if only_value && is_path {
            return callee;
        }
    }
    quote! { |value| #expression }
}

/// `e` for an expression `e?`.
fn strip_question_mark(expression: &TokenStream) -> Option<TokenStream> {
    let tokens: Vec<proc_macro2::TokenTree> = expression.clone().into_iter().collect();
    match tokens.split_last() {
        Some((proc_macro2::TokenTree::Punct(p), rest)) if p.as_char() == '?' => {
            let rest: TokenStream = rest.iter().cloned().collect();
            // Only a lone call: `a(b)?.c(d)?` keeps its closure.
            (!rest.to_string().contains('?')).then_some(rest)
        }
        _ => None,
    }
}

fn tokens_of(pointer: &str) -> Result<Vec<String>, String> {
    pointer::tokens(pointer)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("`{pointer}` is not a field path"))
}

fn pointer_of(path: &[String]) -> String {
    path.iter()
        .map(|t| format!("/{}", pointer::escape(t)))
        .collect()
}

/// Puts `slot` at `path`, creating objects on the way.
fn put(root: &mut Slot, path: &[String], slot: Slot) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("a rule names no field")?;
    let mut at = root;
    for token in parents {
        let Slot::Object(children, _) = at else {
            return Err(format!("`{}` is not an object", pointer_of(path)));
        };
        let index = match children.iter().position(|(name, _)| name == token) {
            Some(index) => index,
            None => {
                children.push((token.clone(), Slot::Object(Vec::new(), None)));
                children.len() - 1
            }
        };
        at = &mut children[index].1;
    }
    let Slot::Object(children, _) = at else {
        return Err(format!("`{}` is not in an object", pointer_of(path)));
    };
    children.retain(|(name, _)| name != last);
    children.push((last.clone(), slot));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_that_only_call_a_function_become_the_function() {
        let call = quote! { ::std::option::Option::Some(value) };
        assert_eq!(
            function_of(&call).to_string(),
            quote! { ::std::option::Option::Some }.to_string()
        );
        let widen = quote! { <u64>::from(value) };
        assert_eq!(
            function_of(&widen).to_string(),
            quote! { <u64>::from }.to_string()
        );
        let method = quote! { value.into_string() };
        assert_eq!(
            function_of(&method).to_string(),
            quote! { |value| value.into_string() }.to_string()
        );
        let fallible = quote! { convert_line(value)? };
        assert_eq!(
            strip_question_mark(&fallible).unwrap().to_string(),
            quote! { convert_line(value) }.to_string()
        );
        assert!(strip_question_mark(&quote! { a(value)?.b()? }).is_none());
    }
}
