//! The events of the repository's `schema/`, expanded by `generate!` over `eventsmith` without
//! its default features: a crate that only decodes, validates, upcasts and encodes events (and
//! may decide commands and test rules) needs nothing more. CI builds and tests it on its own, so
//! no other member's features are unified in.

/// The generated module tree, as `eventsmith generate` would write it (tests included).
pub mod events {
    eventsmith::generate!("../..");
}
