//! JSON text and positions: source files with line and column lookup, JSON documents whose every
//! node maps back to its source range, JSON pointers, did-you-mean suggestions, and a thread with a stack deep enough for
//! any document the loader accepts. The bottom layer: it knows nothing of schemas.

pub mod document;
pub mod pointer;
pub mod similar;
pub mod source;
pub mod stack;
