//! JSON Schema itself, independent of eventsmith's project layout: drafts, their keywords and
//! meta-schemas,
//! the keyword walk, the `$ref` store that resolves references across files, the shared view of
//! a schema that compatibility, code generation and the catalog read, bundling, and patterns.

pub mod bundle;
pub mod draft;
pub mod keywords;
pub mod metaschema;
pub mod pattern;
pub mod store;
pub mod view;
pub mod walk;

/// The keyword that carries eventsmith's annotations.
pub const KEYWORD: &str = "x-eventsmith";
