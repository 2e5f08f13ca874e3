//! Projections: read models fed by events, whatever database holds them. A [`Projection`] names
//! the tables it keeps and handles each event in a read-model transaction; a handler's failure is
//! a [`HandlerError`], transient (worth retrying: the database was busy) or permanent (a bad
//! event, a broken invariant), which tells the runner what to do with it.
//!
//! The runner ([`ProjectionRunner`], feature `runner`, which every backend feature brings) is
//! written once, over any [`Backend`](crate::read_model::Backend): it commits each batch's
//! changes with the checkpoint, retries, dead-letters, rebuilds and reports lag.

#[cfg(feature = "runner")]
mod runner;

#[cfg(feature = "runner")]
pub use runner::{Ended, ProjectionError, ProjectionRunner, Released, Request};

use crate::EventSet;
use crate::read_model::{BackendError, RowError, TableSpec, Transaction};
use crate::store::Envelope;
use std::time::Duration;

/// What a panic said (its `&str` or `String` payload).
#[cfg(feature = "runner")]
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// A read model fed by events.
pub trait Projection: Send + Sync {
    /// The events it reads (a generated event enum; older versions arrive upcast).
    type Event: EventSet;
    /// Its name, which keys its checkpoint, dead letters and lookups.
    const NAME: &'static str;
    /// The tables it keeps: the runner's backend creates them, keeps them in step with their
    /// row schema (replaying every event when one is recreated) and empties them on a rebuild.
    const TABLES: &'static [TableSpec];
    /// Whether it takes events of `event_type` into account; others are skipped undecoded.
    fn handles(&self, event_type: &str) -> bool {
        let _ = event_type;
        true
    }
    /// Applies one event to the read model, in `transaction` (the runner's, which also moves the
    /// checkpoint).
    fn handle(
        &self,
        transaction: &dyn Transaction,
        event: &Self::Event,
        envelope: &Envelope,
    ) -> Result<(), HandlerError>;
    /// Writes what handlers kept in memory for the batch, in the batch's transaction before the
    /// checkpoint moves with it (a projection that aggregates in memory writes once a batch).
    fn flush(&self, transaction: &dyn Transaction) -> Result<(), HandlerError> {
        let _ = transaction;
        Ok(())
    }
    /// The last flushed transaction committed, with the checkpoint at `checkpoint`.
    fn committed(&self, checkpoint: u64) {
        let _ = checkpoint;
    }
    /// The transaction of the events handled since the last commit was rolled back (or the
    /// read model changed under the projection): forget what was kept in memory of them.
    fn discard(&self) {}
    /// Whether the projection has work that does not wait for events (windows the wall clock
    /// closes): the runner then calls [`tick`](Self::tick) while the feed is idle.
    fn tick_due(&self) -> bool {
        false
    }
    /// Does the work [`tick_due`](Self::tick_due) announced, in a transaction of its own;
    /// whether it changed anything (to flush and commit).
    fn tick(&self, transaction: &dyn Transaction) -> Result<bool, HandlerError> {
        let _ = transaction;
        Ok(false)
    }
}

/// Whether a failure may go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying: the database was busy or locked, I/O failed. The runner retries with
    /// capped backoff until it goes through, and never dead-letters it.
    Transient,
    /// Retrying will not help: a bad event, a broken invariant. The runner retries a few times,
    /// then dead-letters the event and moves on.
    Permanent,
}

/// Why a projection could not take an event into account. `?` turns a `String` or `&str` into a
/// permanent error, and a read-model error into one of the kind it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    /// Transient or permanent.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

impl HandlerError {
    /// A failure retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Permanent,
            message: message.into(),
        }
    }

    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Transient,
            message: message.into(),
        }
    }

    /// Whether it is worth retrying.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

impl From<String> for HandlerError {
    fn from(message: String) -> Self {
        Self::permanent(message)
    }
}

impl From<&str> for HandlerError {
    fn from(message: &str) -> Self {
        Self::permanent(message)
    }
}

impl From<RowError> for HandlerError {
    fn from(error: RowError) -> Self {
        let kind = if error.is_transient() {
            ErrorKind::Transient
        } else {
            ErrorKind::Permanent
        };
        Self {
            kind,
            message: error.to_string(),
        }
    }
}

impl From<BackendError> for HandlerError {
    fn from(error: BackendError) -> Self {
        RowError::Backend(error).into()
    }
}

/// How a failing event is retried: a permanent failure `attempts` times in all before it is
/// dead-lettered; a transient one until it goes through or has failed for `transient_for`, when
/// the runner stops with [`ProjectionError::Stalled`](crate::projection::ProjectionError) and
/// the checkpoint stays before the event (a transient failure says nothing about the event, so it
/// is never dead-lettered). The wait doubles from `backoff` up to `max_backoff`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before a permanent failure is dead-lettered.
    pub attempts: u32,
    /// The wait before the first retry; it doubles each time.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How long an event may fail transiently before the runner gives up on it.
    pub transient_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            transient_for: Duration::from_secs(300),
        }
    }
}

/// Where a projection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The last global position it has taken into account.
    pub position: u64,
    /// The store's last position.
    pub head: u64,
    /// Events it has still to take into account.
    pub lag: u64,
}

/// An event the projection could not take into account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id among the dead letters.
    pub id: i64,
    /// The event's global position.
    pub position: u64,
    /// The event's stream.
    pub stream: String,
    /// The event's type.
    pub event_type: String,
    /// The event's stored version.
    pub version: u32,
    /// The last error.
    pub error: String,
    /// Attempts so far.
    pub attempts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_errors_keep_their_kind_through_question_marks() {
        fn fails(error: RowError) -> Result<(), HandlerError> {
            Err(error)?
        }
        let busy = RowError::Backend(BackendError::transient("database is locked"));
        assert!(fails(busy).unwrap_err().is_transient());
        let shape = RowError::Shape {
            table: "t",
            reason: "no".into(),
        };
        assert_eq!(fails(shape).unwrap_err().kind, ErrorKind::Permanent);
        let text: HandlerError = "no such order".into();
        assert_eq!(text, HandlerError::permanent("no such order"));
        assert_eq!(text.to_string(), "no such order");
    }
}
