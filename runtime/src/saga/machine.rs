//! One saga instance and what each input does to it, without any database: the runner records
//! what [`Instance::handle`] returns, and the testing kit checks it.
//!
//! Inputs are events the instance reads, the outcomes of commands it sent and its timeouts. Every
//! input carries the time it was recorded at, so handling is deterministic: handling the same
//! inputs again (after a crash, before the checkpoint moved) sends the same commands under the
//! same idempotency keys and arms the same timeouts.

use super::definition::{Definition, Retry, SendDef, Status, StepDef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// History entries kept per instance (the oldest go first).
pub const HISTORY_KEPT: usize = 200;

/// A saga instance as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Its id: the correlation value of the event that started it.
    pub id: String,
    /// The state it is in.
    pub state: String,
    /// Where it stands.
    pub status: Status,
    /// The saga's own state (the saga file's schema).
    pub data: Map<String, Value>,
    /// Commands sent and not yet answered.
    #[serde(default)]
    pub pending: Vec<Sent>,
    /// What undoes each accepted command, oldest first.
    #[serde(default)]
    pub done: Vec<Outgoing>,
    /// Events kept for a later state.
    #[serde(default)]
    pub deferred: Vec<EventInput>,
    /// The armed timeout.
    #[serde(default)]
    pub timer: Option<Timer>,
    /// The commands that failed (past their retries, or rejected where no step says what to
    /// do), kept for an operator's retry.
    #[serde(default)]
    pub failed: Vec<Sent>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Events and outcomes that reached it while it was failed, with their recorded times:
    /// taken in, in order, after an operator's retry.
    #[serde(default)]
    pub kept: Vec<Kept>,
    /// Steps taken: numbers idempotency keys.
    #[serde(default)]
    pub steps: u64,
    /// What happened, oldest first (at most [`HISTORY_KEPT`]).
    #[serde(default)]
    pub history: Vec<Entry>,
}

/// An input kept while the instance is failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// When it was recorded, in Unix milliseconds.
    pub at: u64,
    /// The event, or the command's key and outcome.
    pub input: KeptInput,
}

/// What [`Kept`] holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptInput {
    /// An event.
    Event(EventInput),
    /// A command's outcome.
    Outcome {
        /// The command's key.
        key: String,
        /// What happened.
        outcome: Outcome,
    },
}

/// A command the saga sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Its idempotency key: `saga:<saga>:<instance>:<step number>:<step>[.<item>]`.
    pub key: String,
    /// The step that sends it.
    pub step: String,
    /// The target aggregate.
    pub aggregate: String,
    /// The command's name.
    pub command: String,
    /// The target's id.
    pub to: String,
    /// The payload.
    pub payload: Value,
    /// How it is retried when it fails transiently.
    pub retry: Retry,
    /// The event it answers, set as it is sent: the command and its events carry the event's
    /// correlation id, so a correlation trace follows the saga.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

/// The event a command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// Its id.
    pub event: String,
    /// Its correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// A command waiting for its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    /// The command.
    pub command: Outgoing,
    /// The state it was sent into (its outcome counts there).
    pub state: String,
    /// What undoes it once accepted.
    #[serde(default)]
    pub compensation: Option<Outgoing>,
    /// The saga compensated while it was on its way: undone as soon as it is accepted.
    #[serde(default)]
    pub undo_on_accept: bool,
}

/// An armed timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Its name in the saga file.
    pub name: String,
    /// Its key: the timeout event's idempotency key.
    pub key: String,
    /// When it is due, in Unix milliseconds.
    pub due: u64,
}

/// An event as the saga reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    /// The event's id.
    pub id: String,
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// Its stream.
    pub stream: String,
    /// Its payload at the latest version.
    pub data: Value,
}

/// What happened to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// It was executed (whether or not it changed anything).
    Accepted,
    /// The aggregate refused it, or its payload was invalid.
    Rejected(String),
    /// It kept failing transiently past its retries.
    Failed(String),
}

/// One input of an instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An event it reads.
    Event(EventInput),
    /// A command's outcome, by the command's key.
    Outcome {
        /// The command's key.
        key: String,
        /// What happened.
        outcome: Outcome,
    },
    /// A timeout fired, by the timer's key.
    Timeout {
        /// The timer's key.
        key: String,
    },
    /// An operator asks a failed instance to try again.
    Retry,
}

/// One line of an instance's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in Unix milliseconds (the input's recorded time).
    pub at: u64,
    /// What came in: `event order.placed`, `accepted <key>`, `timeout payment`, ...
    pub input: String,
    /// What the instance did with it.
    pub did: String,
    /// The state after it.
    pub state: String,
    /// Keys of the commands it sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<String>,
}

/// What handling an input asks of the runner, besides storing the instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// Commands to send.
    pub sent: Vec<Outgoing>,
    /// Commands answered: out of the outbox.
    pub answered: Vec<String>,
    /// Timers to arm.
    pub armed: Vec<Timer>,
    /// Keys of timers no longer wanted.
    pub cancelled: Vec<String>,
    /// Timers that fired, by key.
    pub fired: Vec<String>,
    /// Whether a step recorded state (which the runner then checks against the schema).
    pub recorded: bool,
    /// Whether a timeout fired (and its step ran).
    pub timed_out: bool,
}

/// Why an input could not be handled: the step reads what is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StepError(pub String);

impl Instance {
    /// A new instance of `definition` with id `id`, in its initial state.
    pub fn new(definition: &Definition, id: &str) -> Self {
        Self {
            id: id.to_owned(),
            state: definition.initial.clone(),
            status: Status::Running,
            data: Map::new(),
            pending: Vec::new(),
            done: Vec::new(),
            deferred: Vec::new(),
            timer: None,
            failed: Vec::new(),
            error: None,
            kept: Vec::new(),
            steps: 0,
            history: Vec::new(),
        }
    }

    /// Handles one input recorded at `now` (Unix milliseconds).
    pub fn handle(
        &mut self,
        definition: &Definition,
        input: Input,
        now: u64,
    ) -> Result<Effects, StepError> {
        let mut effects = Effects::default();
        let started = self.steps == 0 && self.history.is_empty();
        if started {
            self.enter(definition, &definition.initial.clone(), now, &mut effects);
        }
        // While an operator's retry can revive it, a failed instance keeps what reaches it.
        let revivable = self.status == Status::Failed && !self.failed.is_empty();
        match input {
            Input::Event(event) if revivable => {
                let what = format!("event {}", event.event_type);
                self.note(
                    now,
                    what,
                    "kept: the instance has failed".to_owned(),
                    Vec::new(),
                );
                self.kept.push(Kept {
                    at: now,
                    input: KeptInput::Event(event),
                });
            }
            Input::Outcome { key, outcome }
                if revivable && !matches!(outcome, Outcome::Failed(_)) =>
            {
                let what = format!("outcome of {key}");
                self.note(
                    now,
                    what,
                    "kept: the instance has failed".to_owned(),
                    Vec::new(),
                );
                self.kept.push(Kept {
                    at: now,
                    input: KeptInput::Outcome { key, outcome },
                });
            }
            Input::Event(event) => self.on_event(definition, event, now, &mut effects)?,
            Input::Outcome { key, outcome } => {
                self.on_outcome(definition, &key, outcome, now, &mut effects)?
            }
            Input::Timeout { key } => {
                let armed = self.timer.as_ref().is_some_and(|timer| timer.key == key);
                // Out of the timeouts table whatever happens: it fired.
                effects.fired.push(key.clone());
                if !armed {
                    self.note(
                        now,
                        format!("timeout {key}"),
                        "ignored: not armed".to_owned(),
                        Vec::new(),
                    );
                } else if self.status != Status::Running {
                    // Kept for a retry, which fires it.
                    let name = self
                        .timer
                        .as_ref()
                        .map(|t| t.name.clone())
                        .unwrap_or_default();
                    self.note(
                        now,
                        format!("timeout {name}"),
                        "kept: the instance has failed".to_owned(),
                        Vec::new(),
                    );
                } else {
                    let timer = self.timer.take().expect("armed");
                    effects.timed_out = true;
                    self.time_out(definition, &timer, now, &mut effects)?;
                }
            }
            Input::Retry if self.status == Status::Failed && !self.failed.is_empty() => {
                self.status = Status::Running;
                self.error = None;
                let mut keys = Vec::new();
                for mut sent in std::mem::take(&mut self.failed) {
                    sent.command.key = format!("{}:retry{}", sent.command.key, self.steps);
                    keys.push(sent.command.key.clone());
                    effects.sent.push(sent.command.clone());
                    self.pending.push(sent);
                }
                self.steps += 1;
                self.note(
                    now,
                    "retry".to_owned(),
                    "sent the failed commands again".to_owned(),
                    keys,
                );
                // What came in meanwhile is taken in, in the order it came, the timeout firing
                // where it fell due among it.
                let mut kept = std::mem::take(&mut self.kept).into_iter();
                while let Some(kept_input) = kept.next() {
                    if self.status == Status::Failed {
                        // Failed again on the way: the rest waits for the next retry.
                        self.kept = std::iter::once(kept_input).chain(kept).collect();
                        break;
                    }
                    let kept = kept_input;
                    self.fire_if_due(definition, kept.at, &mut effects)?;
                    match kept.input {
                        KeptInput::Event(event) => {
                            self.on_event(definition, event, kept.at, &mut effects)?
                        }
                        KeptInput::Outcome { key, outcome } => {
                            self.on_outcome(definition, &key, outcome, kept.at, &mut effects)?
                        }
                    }
                }
                self.fire_if_due(definition, now, &mut effects)?;
            }
            Input::Retry => {
                self.note(
                    now,
                    "retry".to_owned(),
                    "ignored: nothing failed to send again".to_owned(),
                    Vec::new(),
                );
            }
        }
        self.settle(definition);
        Ok(effects)
    }

    /// Fires the armed timeout if it is due at `now` (after a retry).
    fn fire_if_due(
        &mut self,
        definition: &Definition,
        now: u64,
        effects: &mut Effects,
    ) -> Result<(), StepError> {
        if self.status != Status::Running {
            return Ok(());
        }
        if let Some(timer) = self.timer.take_if(|timer| timer.due <= now) {
            effects.fired.push(timer.key.clone());
            effects.timed_out = true;
            self.time_out(definition, &timer, now, effects)?;
        }
        Ok(())
    }

    /// Runs the state's timeout step for `timer`, which fired.
    fn time_out(
        &mut self,
        definition: &Definition,
        timer: &Timer,
        now: u64,
        effects: &mut Effects,
    ) -> Result<(), StepError> {
        let step = self
            .state_def(definition)?
            .timeout
            .clone()
            .unwrap_or_default();
        self.step(
            definition,
            &step,
            None,
            format!("timeout {}", timer.name),
            now,
            effects,
        )
    }

    fn on_event(
        &mut self,
        definition: &Definition,
        event: EventInput,
        now: u64,
        effects: &mut Effects,
    ) -> Result<(), StepError> {
        let input = format!("event {}", event.event_type);
        if self.status != Status::Running || self.is_ending(definition) {
            self.note(
                now,
                input,
                "ignored: the saga has ended".to_owned(),
                Vec::new(),
            );
            return Ok(());
        }
        let state = self.state_def(definition)?;
        if let Some(step) = state.on.get(&event.event_type).cloned() {
            self.step(definition, &step, Some(&event), input, now, effects)
        } else if state.defer.contains(&event.event_type) {
            self.note(now, input, "deferred".to_owned(), Vec::new());
            self.deferred.push(event);
            Ok(())
        } else {
            self.note(
                now,
                input,
                format!("ignored in state `{}`", self.state),
                Vec::new(),
            );
            Ok(())
        }
    }

    fn on_outcome(
        &mut self,
        definition: &Definition,
        key: &str,
        outcome: Outcome,
        now: u64,
        effects: &mut Effects,
    ) -> Result<(), StepError> {
        let Some(index) = self.pending.iter().position(|sent| sent.command.key == key) else {
            self.note(
                now,
                format!("outcome of {key}"),
                "ignored: not waiting for it".to_owned(),
                Vec::new(),
            );
            return Ok(());
        };
        let sent = self.pending.remove(index);
        effects.answered.push(key.to_owned());
        let here = sent.state == self.state
            && !self.is_ending(definition)
            && self.status == Status::Running;
        match outcome {
            Outcome::Accepted => {
                let input = format!("accepted {key}");
                if let Some(undo) = sent.compensation.clone() {
                    if sent.undo_on_accept {
                        let undo = self.rekey(undo);
                        effects.sent.push(undo.clone());
                        let undo_key = undo.key.clone();
                        self.pending.push(Sent {
                            command: undo,
                            state: self.state.clone(),
                            compensation: None,
                            undo_on_accept: false,
                        });
                        self.note(
                            now,
                            input,
                            "undone at once: the saga is compensating".to_owned(),
                            vec![undo_key],
                        );
                        return Ok(());
                    }
                    self.done.push(undo);
                }
                let last = !self.pending.iter().any(|other| other.state == self.state);
                match self.state_def(definition)?.accepted.clone() {
                    Some(step) if here && last => {
                        self.step(definition, &step, None, input, now, effects)
                    }
                    _ => {
                        self.note(now, input, "recorded".to_owned(), Vec::new());
                        Ok(())
                    }
                }
            }
            Outcome::Rejected(reason) => {
                let input = format!("rejected {key}: {reason}");
                let undo = sent.command.step.ends_with(".undo");
                match self.state_def(definition)?.rejected.clone() {
                    // What undoes a step must go through: a compensation refused leaves the
                    // instance failed, not compensated.
                    _ if undo => {
                        let error = format!(
                            "the compensation `{}` to `{}` was rejected: {reason}",
                            sent.command.command, sent.command.to
                        );
                        self.fail(
                            sent,
                            error,
                            input,
                            "failed: a compensation was rejected",
                            now,
                        );
                        Ok(())
                    }
                    Some(step) if here => self.step(definition, &step, None, input, now, effects),
                    _ if here => {
                        let error = format!(
                            "`{}` was rejected and state `{}` says nothing about it: {reason}",
                            sent.command.command, self.state
                        );
                        self.fail(
                            sent,
                            error,
                            input,
                            "failed: no step for a rejection here",
                            now,
                        );
                        Ok(())
                    }
                    _ => {
                        self.note(now, input, "recorded".to_owned(), Vec::new());
                        Ok(())
                    }
                }
            }
            Outcome::Failed(reason) => {
                let error = format!(
                    "`{}` to `{}` kept failing: {reason}",
                    sent.command.command, sent.command.to
                );
                let input = format!("failed {key}: {reason}");
                self.fail(sent, error, input, "failed: retries exhausted", now);
                Ok(())
            }
        }
    }

    /// The instance cannot go on: `sent` waits for an operator's retry with the others.
    fn fail(&mut self, sent: Sent, error: String, input: String, did: &str, now: u64) {
        self.status = Status::Failed;
        self.error = Some(error);
        self.note(now, input, did.to_owned(), Vec::new());
        self.failed.push(sent);
    }

    /// Events kept for later, handled again where the instance now is.
    fn take_deferred(
        &mut self,
        definition: &Definition,
        now: u64,
        effects: &mut Effects,
    ) -> Result<(), StepError> {
        for event in std::mem::take(&mut self.deferred) {
            self.on_event(definition, event, now, effects)?;
        }
        Ok(())
    }

    /// Runs one declared step: record, compensate, send, move on.
    fn step(
        &mut self,
        definition: &Definition,
        step: &StepDef,
        event: Option<&EventInput>,
        input: String,
        now: u64,
        effects: &mut Effects,
    ) -> Result<(), StepError> {
        let before = Value::Object(self.data.clone());
        let id = self.id.clone();
        let scope = Scope {
            event: event.map(|e| &e.data),
            state: &before,
            id: &id,
            item: None,
        };
        effects.recorded |= !step.record.is_empty();
        for (field, template) in &step.record {
            match scope.eval(template)? {
                Some(value) => self.data.insert(field.clone(), value),
                None => self.data.remove(field),
            };
        }
        let number = self.steps;
        self.steps += 1;
        let (then, extra) = self.decide(definition, step, event, now)?;
        effects.recorded |= step.rules.is_some();
        let next = then.clone().unwrap_or_else(|| self.state.clone());
        let mut keys = Vec::new();
        if step.compensate {
            // Commands still on their way are undone once accepted.
            for sent in &mut self.pending {
                sent.undo_on_accept = true;
            }
            for (index, undo) in std::mem::take(&mut self.done).into_iter().rev().enumerate() {
                let mut undo = undo;
                undo.key = format!("{}:undo{number}.{index}", undo.key);
                keys.push(undo.key.clone());
                effects.sent.push(undo.clone());
                self.pending.push(Sent {
                    command: undo,
                    state: next.clone(),
                    compensation: None,
                    undo_on_accept: false,
                });
            }
        }
        let mut commands = Vec::new();
        for send in &step.send {
            commands.extend(self.build(definition, send, &scope, number)?);
        }
        let method = step.rules.as_deref().unwrap_or_default();
        for (index, command) in extra.into_iter().enumerate() {
            let outgoing = Outgoing {
                key: format!(
                    "saga:{}:{}:{number}:rules.{method}.{index}",
                    definition.name, self.id
                ),
                step: method.to_owned(),
                aggregate: command.aggregate,
                command: command.command,
                to: command.to,
                payload: command.payload,
                retry: definition.retry,
                cause: None,
            };
            commands.push((outgoing, None));
        }
        for (command, compensation) in commands {
            keys.push(command.key.clone());
            effects.sent.push(command.clone());
            self.pending.push(Sent {
                command,
                state: next.clone(),
                compensation,
                undo_on_accept: false,
            });
        }
        let did = match &then {
            Some(then) if *then != self.state => format!("went to `{then}`"),
            _ => "stayed".to_owned(),
        };
        let moved = next != self.state;
        if moved {
            if let Some(timer) = self.timer.take() {
                effects.cancelled.push(timer.key);
            }
            self.enter(definition, &next, now, effects);
        }
        self.note(now, input, did, keys);
        if moved {
            // Deferred events get another chance in the new state.
            self.take_deferred(definition, now, effects)?;
        }
        Ok(())
    }

    /// What the step's rules method decides, if it names one: the next state and commands to
    /// send besides the declared ones (the state it changes in place).
    fn decide(
        &mut self,
        definition: &Definition,
        step: &StepDef,
        event: Option<&EventInput>,
        now: u64,
    ) -> Result<(Option<String>, Vec<super::rules::Command>), StepError> {
        let Some(method) = &step.rules else {
            return Ok((step.then.clone(), Vec::new()));
        };
        let id = self.id.clone();
        let mut decision = super::rules::Decision {
            id: &id,
            now,
            event: event.map(|e| (e.event_type.as_str(), &e.data)),
            state: std::mem::take(&mut self.data),
            send: Vec::new(),
            then: None,
        };
        let decided = definition.rules.0.decide(method, &mut decision);
        self.data = decision.state;
        decided.map_err(|e| StepError(format!("rules `{method}`: {e}")))?;
        match decision.then {
            Some(then) if !definition.states.contains_key(&then) => Err(StepError(format!(
                "rules `{method}` go to `{then}`, which is not a state of the saga"
            ))),
            Some(then) => Ok((Some(then), decision.send)),
            None => Ok((step.then.clone(), decision.send)),
        }
    }

    /// The commands of one `send` (one per item with `for_each`) and what undoes each.
    fn build(
        &self,
        definition: &Definition,
        send: &SendDef,
        scope: &Scope<'_>,
        number: u64,
    ) -> Result<Vec<(Outgoing, Option<Outgoing>)>, StepError> {
        let items: Vec<Option<Value>> = match &send.for_each {
            None => vec![None],
            Some(each) => match scope.eval(&Value::String(each.clone()))? {
                Some(Value::Array(items)) => items.into_iter().map(Some).collect(),
                Some(Value::Null) | None => Vec::new(),
                Some(other) => {
                    return Err(StepError(format!(
                        "`for_each` of step `{}` reads `{each}`, which is not an array but {other}",
                        send.step
                    )));
                }
            },
        };
        let mut built = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let scope = Scope {
                item: item.as_ref(),
                ..*scope
            };
            let suffix = if send.for_each.is_some() {
                format!(".{index}")
            } else {
                String::new()
            };
            let key = format!(
                "saga:{}:{}:{number}:{}{suffix}",
                definition.name, self.id, send.step
            );
            let retry = send.retry.unwrap_or(definition.retry);
            let to = scope.id_of(&send.to, &send.step)?;
            let (aggregate, command) = split(&send.command);
            let payload = scope.object(&send.payload)?;
            let compensation = match &send.compensate {
                Some(undo) => {
                    let (aggregate, command) = split(&undo.command);
                    Some(Outgoing {
                        key: key.clone(),
                        step: format!("{}.undo", send.step),
                        aggregate,
                        command,
                        to: match &undo.to {
                            Some(template) => scope.id_of(template, &send.step)?,
                            None => to.clone(),
                        },
                        payload: scope.object(&undo.payload)?,
                        retry,
                        cause: None,
                    })
                }
                None => None,
            };
            built.push((
                Outgoing {
                    key,
                    step: send.step.clone(),
                    aggregate,
                    command,
                    to,
                    payload,
                    retry,
                    cause: None,
                },
                compensation,
            ));
        }
        Ok(built)
    }

    fn rekey(&mut self, mut undo: Outgoing) -> Outgoing {
        undo.key = format!("{}:undo{}", undo.key, self.steps);
        self.steps += 1;
        undo
    }

    fn enter(&mut self, definition: &Definition, state: &str, now: u64, effects: &mut Effects) {
        self.state = state.to_owned();
        let Some(timeout) = definition
            .states
            .get(state)
            .and_then(|s| s.timeout.as_ref())
        else {
            return;
        };
        let Some(name) = &timeout.after else { return };
        let millis = definition.timeouts.get(name).copied().unwrap_or_default();
        let timer = Timer {
            name: name.clone(),
            key: format!(
                "saga:{}:{}:{}:timeout.{name}",
                definition.name, self.id, self.steps
            ),
            due: now.saturating_add(millis),
        };
        effects.armed.push(timer.clone());
        self.timer = Some(timer);
    }

    /// The definition of the state the instance is in (an error when the saga file no longer
    /// has it).
    fn state_def<'d>(
        &self,
        definition: &'d Definition,
    ) -> Result<&'d super::definition::StateDef, StepError> {
        definition.states.get(&self.state).ok_or_else(|| {
            StepError(format!(
                "the instance is in state `{}`, which the saga no longer has; put the state back, or skip this instance's dead letters",
                self.state
            ))
        })
    }

    /// Whether the instance is in an end state (it may still wait for outcomes).
    fn is_ending(&self, definition: &Definition) -> bool {
        definition
            .states
            .get(&self.state)
            .is_some_and(|state| state.end.is_some())
    }

    /// An instance in an end state with nothing pending takes the end's status.
    fn settle(&mut self, definition: &Definition) {
        if self.status != Status::Running || !self.pending.is_empty() {
            return;
        }
        if let Some(end) = definition
            .states
            .get(&self.state)
            .and_then(|state| state.end)
        {
            self.status = end;
        }
    }

    fn note(&mut self, at: u64, input: String, did: String, sent: Vec<String>) {
        self.history.push(Entry {
            at,
            input,
            did,
            state: self.state.clone(),
            sent,
        });
        if self.history.len() > HISTORY_KEPT {
            let extra = self.history.len() - HISTORY_KEPT;
            self.history.drain(..extra);
        }
    }
}

fn split(command: &str) -> (String, String) {
    match command.split_once('.') {
        Some((aggregate, name)) => (aggregate.to_owned(), name.to_owned()),
        None => (String::new(), command.to_owned()),
    }
}

/// What templates read.
#[derive(Clone, Copy)]
struct Scope<'a> {
    event: Option<&'a Value>,
    state: &'a Value,
    id: &'a str,
    item: Option<&'a Value>,
}

impl Scope<'_> {
    /// A template's value; `None` when it reads a field that is absent.
    fn eval(&self, template: &Value) -> Result<Option<Value>, StepError> {
        match template {
            Value::String(text) if text.starts_with("$$") => {
                Ok(Some(Value::String(text[1..].to_owned())))
            }
            Value::String(text) if text.starts_with('$') => self.read(text),
            Value::Object(members) => {
                let mut object = Map::new();
                for (key, member) in members {
                    if let Some(value) = self.eval(member)? {
                        object.insert(key.clone(), value);
                    }
                }
                Ok(Some(Value::Object(object)))
            }
            Value::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.eval(item)?.unwrap_or(Value::Null));
                }
                Ok(Some(Value::Array(values)))
            }
            literal => Ok(Some(literal.clone())),
        }
    }

    fn read(&self, text: &str) -> Result<Option<Value>, StepError> {
        let mut parts = text[1..].split('.');
        let root = match parts.next() {
            Some("saga") => return Ok(Some(Value::String(self.id.to_owned()))),
            Some("event") => self.event,
            Some("state") => Some(self.state),
            Some("item") => self.item,
            _ => None,
        }
        .ok_or_else(|| StepError(format!("`{text}` reads nothing here")))?;
        let mut value = root;
        for name in parts {
            let next = match value {
                Value::Object(members) => members.get(name),
                Value::Array(items) => name.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(next) => value = next,
                None => return Ok(None),
            }
        }
        Ok(Some(value.clone()))
    }

    fn object(&self, members: &indexmap::IndexMap<String, Value>) -> Result<Value, StepError> {
        let mut object = Map::new();
        for (key, template) in members {
            if let Some(value) = self.eval(template)? {
                object.insert(key.clone(), value);
            }
        }
        Ok(Value::Object(object))
    }

    fn id_of(&self, template: &Value, step: &str) -> Result<String, StepError> {
        match self.eval(template)? {
            Some(Value::String(id)) if !id.is_empty() => Ok(id),
            Some(Value::Number(number)) => Ok(number.to_string()),
            other => Err(StepError(format!(
                "step `{step}` sends to {template}, which gives {}: an aggregate id is a non-empty string",
                other.map_or("nothing".to_owned(), |v| v.to_string())
            ))),
        }
    }
}
