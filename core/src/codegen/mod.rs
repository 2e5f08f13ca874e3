//! Rust code generation (issue #4, in progress). So far: the naming rules every generated item
//! follows. The type space, emission, upcasters and the three front-ends are still to come; see
//! docs/development.md.

pub mod names;
