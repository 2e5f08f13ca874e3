//! `generate!`: the engine's output, parsed back into tokens, plus `include_bytes!` of every input
//! so cargo rebuilds the crate when a schema changes.

use eventsmith_core::codegen::{Settings, generate_dir};
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
    // The engine plans and formats on several threads with its own tokens; the compiler's token
    // API works only on the macro's thread, so the engine runs on proc-macro2's fallback and its
    // output (text) is turned into compiler tokens afterwards.
    let generated = {
        let _fallback = FallbackTokens::force();
        generate_dir(dir, &Settings::default())
    };
    match generated {
        Ok(generated) => {
            let code: TokenStream = match generated.source.parse() {
                Ok(code) => code,
                Err(e) => {
                    return syn::Error::new(span, format!("eventsmith: {e}")).to_compile_error();
                }
            };
            let inputs = generated.inputs.iter().filter(|p| p.is_file()).map(|p| {
                let p = p.to_string_lossy().into_owned();
                quote! { const _: &[u8] = ::core::include_bytes!(#p); }
            });
            quote! { #code #(#inputs)* }
        }
        Err((text, _)) => syn::Error::new(
            span,
            format!(
                "eventsmith: the schema project in {} has errors:\n{text}",
                dir.display()
            ),
        )
        .to_compile_error(),
    }
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
    /// tests/codegen/example/mod.rs and kept fresh by the CLI tests), plus rebuild tracking.
    #[test]
    fn expansion_is_the_generated_file() {
        let root = manifest_dir().join("..");
        let expanded = expand(&root, Span::call_site()).to_string();
        let file = std::fs::read_to_string(root.join("tests/codegen/example/mod.rs")).unwrap();
        let from_file: TokenStream = file.parse().unwrap();
        let from_file = from_file.to_string();
        assert!(
            expanded.starts_with(&from_file),
            "the expansion differs from the generated file"
        );
        let tracking = &expanded[from_file.len()..];
        assert!(tracking.contains("include_bytes"), "{tracking}");
        assert!(tracking.contains("placed.v1.json"), "{tracking}");
    }

    #[test]
    fn project_errors_become_one_compile_error() {
        let root = manifest_dir().join("../tests/fixtures/invalid/three-broken-files");
        let expanded = expand(&root, Span::call_site()).to_string();
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert_eq!(expanded.matches("compile_error").count(), 1, "{expanded}");
    }
}
