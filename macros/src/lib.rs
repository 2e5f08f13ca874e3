//! Proc-macros of eventsmith, re-exported by the `eventsmith` crate: `generate!` expands a schema
//! project in place, `#[derive(Event)]` checks a hand-written event against its schema. Both are
//! thin over `eventsmith-core`, the engine the CLI and build.rs API use.

mod cache;
mod derive;
mod expand;

use proc_macro::TokenStream;

/// Expands the schema project whose `eventsmith.toml` is in the given directory (relative to the
/// crate's `Cargo.toml`; default `"."`) into the same module tree `eventsmith generate` writes.
/// The crate rebuilds when a schema file changes.
///
/// ```text
/// mod events {
///     eventsmith::generate!("..");
/// }
/// ```
#[proc_macro]
pub fn generate(input: TokenStream) -> TokenStream {
    expand::generate(input.into()).into()
}

/// Implements `eventsmith::Event` for a hand-written struct after checking, at compile time, that
/// its serde shape matches the schema file: `#[event(schema = "schema/events/order/placed.v2.json")]`
/// (relative to the crate's `Cargo.toml`). The event type and version come from the file's path.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    derive::event(input.into()).into()
}
