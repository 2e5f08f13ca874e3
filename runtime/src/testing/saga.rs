//! The given/when/then kit for sagas: events, command outcomes and timeouts given to an
//! instance, then what it sent and where it is.
//!
//! ```ignore
//! let mut saga = SagaTest::<OrderFulfilmentSaga>::new("0190f5d3-…");
//! saga.given_event("order.placed", json!({ "lines": [...], ... }));
//! saga.when_accepted("reserve");
//! saga.then_state("awaiting_payment").then_sends(&[]);
//! saga.when_timeout();
//! saga.then_sends(&[("stock.release_stock", "BOOK-1984"), ("order.cancel_order", id)]);
//! ```
//!
//! Every failure is a panic that says what differs. [`check_steps`] is what generated tests
//! call: every declared step run on the schemas' examples.

use crate::saga::{Definition, EventInput, Input, Instance, Outcome, Outgoing, Saga, Status};
use serde_json::Value;

/// A saga instance under test, with the time its inputs are recorded at.
pub struct SagaTest<G: Saga> {
    definition: Definition,
    instance: Instance,
    now: u64,
    sent: Vec<Outgoing>,
    saga: std::marker::PhantomData<fn() -> G>,
}

impl<G: Saga> SagaTest<G> {
    /// A new instance with id `id` (its correlation value), in the initial state, at time 0.
    pub fn new(id: &str) -> Self {
        let definition = Definition::of::<G>().unwrap_or_else(|e| panic!("{e}"));
        let instance = Instance::new(&definition, id);
        Self {
            definition,
            instance,
            now: 0,
            sent: Vec::new(),
            saga: std::marker::PhantomData,
        }
    }

    /// The instance as it stands.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The saga's state, typed.
    pub fn state<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_value(Value::Object(self.instance.data.clone()))
            .unwrap_or_else(|e| panic!("the saga's state does not decode: {e}"))
    }

    /// Moves the clock on by `millis`.
    pub fn after(&mut self, millis: u64) -> &mut Self {
        self.now += millis;
        self
    }

    fn input(&mut self, input: Input) -> &mut Self {
        let effects = self
            .instance
            .handle(&self.definition, input, self.now)
            .unwrap_or_else(|e| panic!("the step failed: {e}"));
        G::check_state(&self.instance.data)
            .unwrap_or_else(|e| panic!("the saga's state breaks its schema: {e}"));
        self.sent = effects.sent;
        self
    }

    /// An event of type `event_type` with payload `data` (its latest version) reaches the
    /// instance.
    pub fn given_event(&mut self, event_type: &str, data: Value) -> &mut Self {
        let stream = format!(
            "{}-{}",
            event_type.split('.').next().unwrap_or_default(),
            self.instance.id
        );
        self.input(Input::Event(EventInput {
            id: format!("event-{}", self.instance.steps),
            event_type: event_type.to_owned(),
            stream,
            data,
        }))
    }

    /// [`given_event`](Self::given_event), read as what is tested.
    pub fn when_event(&mut self, event_type: &str, data: Value) -> &mut Self {
        self.given_event(event_type, data)
    }

    fn outcome(&mut self, step: &str, outcome: Outcome) -> &mut Self {
        let keys: Vec<String> = self
            .instance
            .pending
            .iter()
            .filter(|sent| sent.command.step == step)
            .map(|sent| sent.command.key.clone())
            .collect();
        assert!(
            !keys.is_empty(),
            "no command of step `{step}` is waiting for its outcome; waiting: {:?}",
            self.pending_steps()
        );
        let mut sent = Vec::new();
        for key in keys {
            self.input(Input::Outcome {
                key,
                outcome: outcome.clone(),
            });
            sent.append(&mut self.sent);
        }
        self.sent = sent;
        self
    }

    fn pending_steps(&self) -> Vec<&str> {
        self.instance
            .pending
            .iter()
            .map(|sent| sent.command.step.as_str())
            .collect()
    }

    /// Every command of step `step` waiting for its outcome is accepted.
    pub fn when_accepted(&mut self, step: &str) -> &mut Self {
        self.outcome(step, Outcome::Accepted)
    }

    /// Every command of step `step` waiting for its outcome is rejected for `reason`.
    pub fn when_rejected(&mut self, step: &str, reason: &str) -> &mut Self {
        self.outcome(step, Outcome::Rejected(reason.to_owned()))
    }

    /// Every command of step `step` failed past its retries.
    pub fn when_failed(&mut self, step: &str, reason: &str) -> &mut Self {
        self.outcome(step, Outcome::Failed(reason.to_owned()))
    }

    /// Every command waiting for its outcome is accepted.
    pub fn when_all_accepted(&mut self) -> &mut Self {
        let mut sent = Vec::new();
        while let Some(key) = self.instance.pending.first().map(|s| s.command.key.clone()) {
            self.input(Input::Outcome {
                key,
                outcome: Outcome::Accepted,
            });
            sent.append(&mut self.sent);
        }
        self.sent = sent;
        self
    }

    /// The armed timeout falls due and fires.
    pub fn when_timeout(&mut self) -> &mut Self {
        let timer =
            self.instance.timer.clone().unwrap_or_else(|| {
                panic!("no timeout is armed in state `{}`", self.instance.state)
            });
        self.now = self.now.max(timer.due);
        self.input(Input::Timeout { key: timer.key })
    }

    /// The last input sent these commands, `(<aggregate>.<command>, target id)`, in order.
    pub fn then_sends(&mut self, expected: &[(&str, &str)]) -> &mut Self {
        let sent: Vec<(String, String)> = self
            .sent
            .iter()
            .map(|c| (format!("{}.{}", c.aggregate, c.command), c.to.clone()))
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(c, to)| ((*c).to_owned(), (*to).to_owned()))
            .collect();
        assert_eq!(sent, expected, "the commands sent differ");
        self
    }

    /// The `index`th command the last input sent has this payload.
    pub fn then_payload(&mut self, index: usize, payload: Value) -> &mut Self {
        let sent = self.sent.get(index).unwrap_or_else(|| {
            panic!(
                "the last input sent {} command(s), not {}",
                self.sent.len(),
                index + 1
            )
        });
        assert_eq!(
            sent.payload, payload,
            "the payload of `{}.{}` differs",
            sent.aggregate, sent.command
        );
        self
    }

    /// The commands the last input sent.
    pub fn sent(&self) -> &[Outgoing] {
        &self.sent
    }

    /// The instance is in state `state`.
    pub fn then_state(&mut self, state: &str) -> &mut Self {
        assert_eq!(
            self.instance.state, state,
            "the instance is elsewhere; history: {:#?}",
            self.instance.history
        );
        self
    }

    /// The instance's status is `status`.
    pub fn then_status(&mut self, status: Status) -> &mut Self {
        assert_eq!(
            self.instance.status, status,
            "the instance's status differs; history: {:#?}",
            self.instance.history
        );
        self
    }
}

/// Runs every declared step of saga `G` on the schemas' examples: per state, each event it
/// handles (the event's example from `events`, by type), its `accepted`, `rejected` and
/// `timeout` steps, from an instance holding `state` (the saga file's example, if any). Each
/// must run, keep the state valid and go where it says. Steps whose event has no example are
/// left out.
pub fn check_steps<G: Saga>(events: &[(&str, &str)], state: Option<&str>) {
    let definition = Definition::of::<G>().unwrap_or_else(|e| panic!("{e}"));
    let data = match state.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(data))) => data,
        Some(Ok(other)) => panic!("the saga's example is not an object: {other}"),
        Some(Err(e)) => panic!("the saga's example is not JSON: {e}"),
        None => serde_json::Map::new(),
    };
    // Without an example of the saga's state, a step that reads it has nothing to read.
    let runnable = |step: &crate::saga::StepDef| {
        state.is_some()
            || !serde_json::to_string(step)
                .unwrap_or_default()
                .contains("\"$state")
    };
    for (name, state_def) in &definition.states {
        let instance = || {
            let mut instance = Instance::new(&definition, "id-1");
            instance.state = name.clone();
            instance.data = data.clone();
            // Started: the initial state is not entered again.
            instance.steps = 1;
            instance.history.push(crate::saga::Entry {
                at: 0,
                input: "test".into(),
                did: "placed here".into(),
                state: name.clone(),
                sent: Vec::new(),
            });
            instance
        };
        let mut inputs: Vec<(String, Option<String>, Input)> = Vec::new();
        for (event_type, step) in &state_def.on {
            let Some((_, example)) = events.iter().find(|(t, _)| t == event_type) else {
                continue;
            };
            if !runnable(step) {
                continue;
            }
            let data = serde_json::from_str(example)
                .unwrap_or_else(|e| panic!("the example of `{event_type}` is not JSON: {e}"));
            let input = Input::Event(EventInput {
                id: "e".into(),
                event_type: event_type.clone(),
                stream: "s-id-1".into(),
                data,
            });
            inputs.push((
                format!("`{event_type}` in `{name}`"),
                step.then.clone(),
                input,
            ));
        }
        for (what, step, outcome) in [
            ("accepted", &state_def.accepted, Outcome::Accepted),
            (
                "rejected",
                &state_def.rejected,
                Outcome::Rejected("rejected".into()),
            ),
        ] {
            if let Some(step) = step.as_ref().filter(|step| runnable(step)) {
                inputs.push((
                    format!("`{what}` in `{name}`"),
                    step.then.clone(),
                    Input::Outcome {
                        key: "pending".into(),
                        outcome,
                    },
                ));
            }
        }
        if let Some(step) = state_def.timeout.as_ref().filter(|step| runnable(step)) {
            inputs.push((
                format!("the timeout of `{name}`"),
                step.then.clone(),
                Input::Timeout {
                    key: "timer".into(),
                },
            ));
        }
        for (what, then, input) in inputs {
            let mut instance = instance();
            match &input {
                Input::Outcome { .. } => instance.pending.push(crate::saga::Sent {
                    command: Outgoing {
                        key: "pending".into(),
                        step: "test".into(),
                        aggregate: "a".into(),
                        command: "c".into(),
                        to: "t".into(),
                        payload: Value::Null,
                        retry: definition.retry,
                        cause: None,
                    },
                    state: name.clone(),
                    compensation: None,
                    undo_on_accept: false,
                }),
                Input::Timeout { .. } => {
                    instance.timer = Some(crate::saga::Timer {
                        name: "t".into(),
                        key: "timer".into(),
                        due: 0,
                    })
                }
                _ => {}
            }
            if let Err(error) = instance.handle(&definition, input, 0) {
                panic!("{what}: the step failed: {error}");
            }
            if let Err(error) = G::check_state(&instance.data) {
                panic!("{what}: the saga's state breaks its schema after the step: {error}");
            }
            let expected = then.unwrap_or_else(|| name.clone());
            assert_eq!(
                instance.state, expected,
                "{what}: the instance went elsewhere; history: {:#?}",
                instance.history
            );
        }
    }
}
