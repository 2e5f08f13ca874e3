//! The given/when/then kit for an aggregate's rules: `given(events).when(command).then(events)`
//! or `.then_rejected(reason)`, each failure a panic that says what differs. Generated code adds
//! a typed `given::<Rules>(…)` per aggregate. With the `test-util` feature, [`process`] runs a
//! service binary under test.

use crate::{Aggregate, Rejection};

#[cfg(feature = "test-util")]
pub mod process;
pub mod saga;

/// The start of a given/when/then test of an aggregate's rules: the events that happened.
pub struct Given<A: Aggregate> {
    state: Option<A::State>,
}

/// An aggregate that has seen `events`: `given(events).when(command).then(expected)`.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = impl Into<A::Event>>) -> Given<A> {
    let mut state = None;
    for event in events {
        A::apply(&mut state, &event.into());
    }
    Given { state }
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` against the state the events left.
    pub fn when(self, command: impl Into<A::Command>) -> When<A> {
        let outcome = A::decide(self.state.as_ref(), &command.into());
        When {
            state: self.state,
            outcome,
        }
    }
}

/// What a command decided, to check with [`When::then`] or [`When::then_rejected`].
pub struct When<A: Aggregate> {
    state: Option<A::State>,
    outcome: Result<Vec<A::Event>, Rejection>,
}

impl<A> When<A>
where
    A: Aggregate,
    A::Event: PartialEq + std::fmt::Debug,
{
    /// Asserts the command was accepted with exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then(
        mut self,
        expected: impl IntoIterator<Item = impl Into<A::Event>>,
    ) -> Option<A::State> {
        let expected: Vec<A::Event> = expected.into_iter().map(Into::into).collect();
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "the command decided other events");
                for event in &events {
                    A::apply(&mut self.state, event);
                }
                self.state
            }
            Err(rejection) => panic!("the command was rejected: {rejection}"),
        }
    }

    /// Asserts the command was rejected, with a message containing `reason`.
    #[track_caller]
    pub fn then_rejected(self, reason: &str) {
        match self.outcome {
            Ok(events) => panic!("the command was accepted with {events:?}, not rejected"),
            Err(rejection) => {
                let message = rejection.to_string();
                assert!(
                    message.contains(reason),
                    "the rejection `{message}` does not mention `{reason}`"
                );
            }
        }
    }
}
