//! The eventsmith engine: schema projects and their loader, diagnostics, compatibility checks,
//! code generation, the event catalog and service rendering.
//!
//! This crate backs the `eventsmith` CLI, the `eventsmith-macros` proc-macros and build scripts.
//! Its API serves those front-ends and is not meant for direct use; depend on the `eventsmith`
//! crate instead. The facade is [`commands`] (one function per command), [`build`] (the build.rs
//! API) and the types they take and return, re-exported here.
//!
//! Inside, the modules form layers that point one way (tests/layers.rs fails otherwise): JSON
//! text and positions ([`diagnostic`] below it) → [`schema`] → [`project`] → the features
//! (`compat`, `codegen`, `catalog`, `service`, `scaffold`) → `report` → [`commands`].
#![deny(missing_docs)]

pub mod build;
mod catalog;
mod codegen;
pub mod commands;
mod compat;
pub mod diagnostic;
mod io;
mod project;
mod report;
mod scaffold;
mod schema;
mod service;
mod templates;
mod text;

pub use compat::{Change, ChangeKind, Verdict, diff_files_in};
pub use diagnostic::{Diagnostic, Failure, Rule, Severity, Span};
pub use io::fs::{FileSystem, MemoryFs, RealFs};
pub use project::config::Level;
pub use project::loader::{LoadOptions, Loaded, load};
pub use project::model::Project;
pub use report::Format;
pub use schema::draft::Draft;
pub use schema::metaschema::ANNOTATIONS_META_SCHEMA;
