//! Proc-macros of eventsmith. The code-generation macros arrive with the code generator
//! (issue #4); they will parse their input, call `eventsmith-core` and return its tokens.
#![deny(missing_docs)]
