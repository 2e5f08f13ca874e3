//! What the service knows of each projection's runner, for `/readyz` and query answers: running,
//! or down after a failure and restarting from its checkpoint after a backoff that doubles up to
//! a cap, so a runner never stops for good while the service serves.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The state of one projection's runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunnerState {
    /// Starting: no batch has gone through yet.
    Starting,
    /// Taking events into account, or waiting for new ones.
    Running,
    /// Another instance sharing the database runs the projection; this one takes over when
    /// that one goes.
    Standby,
    /// Retrying an event that fails transiently (the database busy, say): not moving on.
    Retrying { error: String },
    /// Failed with `error`; it restarts from its checkpoint after a pause. `failures` counts
    /// them in a row.
    Down { error: String, failures: u32 },
    /// The service stopped it.
    Stopped,
}

/// One runner's state, shared by the thread that runs it and the HTTP handlers.
#[derive(Debug)]
pub(crate) struct Health(Mutex<RunnerState>);

impl Health {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(RunnerState::Starting))
    }

    pub(crate) fn set(&self, state: RunnerState) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    pub(crate) fn get(&self) -> RunnerState {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether it is running, starting or standing by (not down, not stopped).
    pub(crate) fn is_running(&self) -> bool {
        matches!(
            self.get(),
            RunnerState::Running | RunnerState::Starting | RunnerState::Standby
        )
    }
}

/// The pauses between restarts of a failing runner: from `first`, doubling up to `cap`. A run
/// that lasted at least `cap` before failing counts as healthy: the next pause is `first` again.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap: cap.max(first),
            next: first,
            failures: 0,
        }
    }

    /// The pause after a run that failed after `ran_for`.
    pub(crate) fn after(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.cap {
            self.next = self.first;
            self.failures = 0;
        }
        self.failures += 1;
        let pause = self.next;
        self.next = self.next.saturating_mul(2).min(self.cap);
        pause
    }

    /// The failures in a row so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

impl Default for Backoff {
    /// From 1 s to at most a minute.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_start_over_after_a_long_run() {
        let second = Duration::from_secs(1);
        let mut backoff = Backoff::new(second, 8 * second);
        let quick = Duration::from_millis(10);
        let pauses: Vec<u64> = (0..6).map(|_| backoff.after(quick).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 8, 8]);
        assert_eq!(backoff.failures(), 6);
        assert_eq!(backoff.after(8 * second), second);
        assert_eq!(backoff.failures(), 1);
        assert_eq!(backoff.after(quick), 2 * second);
    }

    #[test]
    fn a_runner_is_running_until_it_fails() {
        let health = Health::new();
        assert!(health.is_running());
        health.set(RunnerState::Down {
            error: "database is locked".into(),
            failures: 1,
        });
        assert!(!health.is_running());
        health.set(RunnerState::Running);
        assert!(health.is_running());
    }
}
