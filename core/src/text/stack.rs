//! Deeply nested schemas are walked by code we do not own (serde_json, the jsonschema crate), so
//! loading runs on a thread whose stack is large enough for [`crate::text::document::MAX_NESTING`].

/// Stack for loading: generous, and only reserved (not committed) until used.
const LARGE_STACK: usize = 512 * 1024 * 1024;

/// Runs `f` on a thread with a large stack and returns its result. Fails only when the operating
/// system refuses the thread; a panic in `f` is resumed on the caller's thread.
pub fn with_large_stack<T: Send>(f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("eventsmith-load".into())
            .stack_size(LARGE_STACK)
            .spawn_scoped(scope, f)?;
        match handle.join() {
            Ok(value) => Ok(value),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
