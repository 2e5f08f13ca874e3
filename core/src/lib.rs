//! The eventsmith engine: schema projects and their loader, diagnostics, and (in later modules)
//! compatibility checks, code generation and rendering.
//!
//! This crate backs the `eventsmith` CLI, the `eventsmith-macros` proc-macros and build scripts.
//! Its API serves those front-ends and is not meant for direct use; depend on the `eventsmith`
//! crate instead.
#![deny(missing_docs)]

pub mod annotations;
pub mod build;
pub mod bundle;
pub mod catalog;
pub mod codegen;
pub mod compat;
pub mod config;
pub mod diagnostic;
pub mod document;
pub mod draft;
pub(crate) mod examples;
pub mod fs;
pub mod git;
pub mod layout;
pub mod loader;
mod metaschema;
pub mod model;
pub mod output;
pub mod pattern;
pub mod pointer;
pub mod report;
mod rules;
pub mod scaffold;
pub mod service;
pub mod source;
pub mod stack;
pub mod store;
pub mod templates;
pub mod walk;

pub use diagnostic::{Diagnostic, Severity, Span};
pub use loader::{LoadOptions, Loaded, load};
pub use metaschema::ANNOTATIONS_META_SCHEMA;
pub use model::Project;
