//! The project model: `eventsmith.toml`, the file layout, `x-eventsmith` annotations, loading a
//! project into its [`model::Project`], the project rules that cross files, examples, and the
//! Rust names items get.

pub mod annotations;
pub mod config;
pub mod examples;
pub mod fingerprint;
pub mod layout;
pub mod loader;
pub mod model;
pub mod names;
pub mod naming;
pub mod placeholders;
pub mod rules;
pub mod saga;
pub mod upcast;
pub mod window;
