//! `generate!`: the engine's output, parsed back into tokens, plus `include_bytes!` of every input
//! so cargo rebuilds the crate when a schema changes.

use crate::cache;
use eventsmith_core::commands::generate::{Settings, code};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use std::path::{Path, PathBuf};

/// The crate's manifest directory (where relative project paths start).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default()
}

pub fn generate(input: TokenStream) -> TokenStream {
    let (dir, span) = if input.is_empty() {
        (".".to_owned(), Span::call_site())
    } else {
        match syn::parse2::<syn::LitStr>(input) {
            Ok(lit) => (lit.value(), lit.span()),
            Err(e) => return e.to_compile_error(),
        }
    };
    expand(&manifest_dir().join(dir), span)
}

/// The expansion for the project in `dir`, or a compile error carrying every finding.
pub fn expand(dir: &Path, span: Span) -> TokenStream {
    let settings = Settings {
        format: false,
        ..Settings::default()
    };
    let settings_key = format!("tests={} format={}", settings.tests, settings.format);
    let (source, inputs) = match cache::lookup(dir, &settings_key) {
        Some(cached) => cached,
        None => {
            // The engine plans on several threads with its own tokens; the compiler's token API
            // works only on the macro's thread, so the engine runs on proc-macro2's fallback and
            // its output (text) becomes compiler tokens afterwards.
            let generated = {
                let _fallback = FallbackTokens::force();
                code(dir, &settings)
            };
            match generated {
                Ok(generated) => {
                    cache::store(dir, &settings_key, &generated.inputs, &generated.source);
                    (generated.source, generated.inputs)
                }
                Err(failed) => {
                    let message = format!(
                        "eventsmith: the schema project in {} has errors:\n{}",
                        dir.display(),
                        failed.text
                    );
                    return syn::Error::new(span, message).to_compile_error();
                }
            }
        }
    };
    let code: TokenStream = match source.parse() {
        Ok(code) => code,
        Err(e) => return syn::Error::new(span, format!("eventsmith: {e}")).to_compile_error(),
    };
    // Every file read is included, so cargo rebuilds the crate when one changes.
    let tracking = inputs.iter().filter(|p| p.is_file()).map(|p| {
        let p = p.to_string_lossy().into_owned();
        quote! { const _: &[u8] = ::core::include_bytes!(#p); }
    });
    quote! { #code #(#tracking)* }
}

/// proc-macro2's own token implementation, for as long as this lives.
struct FallbackTokens;

impl FallbackTokens {
    fn force() -> Self {
        proc_macro2::fallback::force();
        FallbackTokens
    }
}

impl Drop for FallbackTokens {
    fn drop(&mut self) {
        proc_macro2::fallback::unforce();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The macro expands to the very code `eventsmith generate` writes (checked in at
    /// generated-example/src/generated/mod.rs and kept fresh by the CLI tests): formatted with prettyplease,
    /// the expansion is that file byte for byte, plus the rebuild tracking.
    #[test]
    fn expansion_is_the_generated_file() {
        let root = manifest_dir().join("..");
        let expanded = expand(&root, Span::call_site());
        let mut file: syn::File = syn::parse2(expanded).unwrap();
        let tracking: Vec<syn::Item> = file
            .items
            .iter()
            .filter(|item| quote!(#item).to_string().contains("include_bytes"))
            .cloned()
            .collect();
        assert!(tracking.len() > 10, "{} tracked files", tracking.len());
        file.items.retain(|item| !tracking.contains(item));
        let formatted = format!(
            "{}\n\n{}",
            eventsmith_core::commands::generate::HEADER,
            prettyplease::unparse(&file)
        );
        let committed =
            std::fs::read_to_string(root.join("generated-example/src/generated/mod.rs")).unwrap();
        assert!(
            formatted == committed,
            "the expansion differs from the generated file"
        );
    }

    #[test]
    fn project_errors_become_one_compile_error() {
        let root = manifest_dir().join("../tests/fixtures/invalid/three-broken-files");
        let expanded = expand(&root, Span::call_site()).to_string();
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert_eq!(expanded.matches("compile_error").count(), 1, "{expanded}");
    }
}
