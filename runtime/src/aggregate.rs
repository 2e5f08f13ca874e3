//! The aggregate: the one name for how an aggregate's events fold into its state and its
//! commands become events. Generated code implements it for `<Aggregate>Aggregate<R>` over the
//! user's `<Aggregate>Rules` `R`; the repository, the test kit and the service run it.

use crate::{EventSet, Rejection};

/// An aggregate: its state (`None` before its first event), how events change it, and how
/// commands become events or a [`Rejection`].
pub trait Aggregate {
    /// The state, once the aggregate exists; snapshots hold it as JSON.
    type State: Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync;
    /// The aggregate's events (its generated `<Aggregate>Event` enum).
    type Event: EventSet + Send + Sync;
    /// The commands it handles.
    type Command: Send + Sync;
    /// The stream category: streams are `<category>-<id>`.
    const CATEGORY: &'static str;
    /// A fingerprint of the state's schema (generated code sets it from the aggregate's schema
    /// file). A snapshot taken under another fingerprint is not read: the state is rebuilt from
    /// the events, and the next snapshot is taken in the new shape.
    const STATE_VERSION: &'static str = "";
    /// The state after `event`.
    fn apply(state: &mut Option<Self::State>, event: &Self::Event);
    /// The events `command` causes, or why it is refused.
    fn decide(
        state: Option<&Self::State>,
        command: &Self::Command,
    ) -> Result<Vec<Self::Event>, Rejection>;
}
