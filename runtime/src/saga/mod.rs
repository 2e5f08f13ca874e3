//! Sagas (process managers) declared in saga files: an instance per correlation value, moved by
//! the events it reads, the outcomes of the commands it sends and its timeouts.
//!
//! A saga runs as a projection ([`SagaProjection`]) on the same feed and runner as the others,
//! so an instance's inputs, decisions, outgoing commands and due timeouts are committed with the
//! checkpoint in one transaction, on SQLite or PostgreSQL, under the same lease. Commands wait
//! in an outbox table until the service's dispatcher sends them with idempotency keys derived
//! from the instance and step; their outcomes and fired timeouts come back as events of the
//! saga's own stream (`saga.<name>-<id>`, types [`OUTCOME`], [`TIMEOUT`], [`RETRY`]), so they
//! are recorded once and in order like everything else the instance reads.

mod definition;
mod machine;
mod rules;

pub use definition::{CompensationDef, Definition, Retry, SendDef, StateDef, Status, StepDef};
pub use machine::{
    Cause, Effects, Entry, EventInput, HISTORY_KEPT, Input, Instance, Kept, KeptInput, Outcome,
    Outgoing, Sent, StepError, Timer,
};
pub use rules::{Command, Decision, Declared, JsonDecision, Rules, RulesHandle, decide_typed};

use crate::projection::{HandlerError, Projection};
use crate::read_model::{Column, ColumnKind, TableSpec, Transaction};
use crate::store::Envelope;
use crate::{DecodeError, EncodeError, EventSet};
use serde_json::{Map, Value, json};

/// The type of a command's outcome in a saga's stream.
pub const OUTCOME: &str = "eventsmith.saga.outcome";
/// The type of a fired timeout in a saga's stream.
pub const TIMEOUT: &str = "eventsmith.saga.timeout";
/// The type of an operator's retry of a failed instance.
pub const RETRY: &str = "eventsmith.saga.retry";

/// A saga as generated code declares it: its definition, tables and state check, and the
/// user's [`Rules`] it runs with.
pub trait Saga: Rules + Default + Send + Sync + 'static {
    /// The events it reads (the generated event enum).
    type Event: EventSet + Send + Sync;
    /// The saga's name, which keys its checkpoint, tables and stream.
    const NAME: &'static str;
    /// Its definition (JSON, see [`Definition`]).
    const DEFINITION: &'static str;
    /// Its tables: [`tables!`](crate::saga_tables) of its name.
    const TABLES: &'static [TableSpec];
    /// Checks the saga's state after a step against the saga file's schema.
    fn check_state(data: &Map<String, Value>) -> Result<(), String>;
}

/// Whether `data` decodes as the saga's state type `T` and meets its schema's constraints (what
/// generated [`Saga::check_state`] calls).
pub fn check_state<T: serde::de::DeserializeOwned + crate::Validate>(
    data: &Map<String, Value>,
) -> Result<(), String> {
    let state: T =
        serde_json::from_value(Value::Object(data.clone())).map_err(|e| e.to_string())?;
    let violations = crate::validate::violations(&state);
    match violations.first() {
        None => Ok(()),
        Some(_) => Err(violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// The stream of instance `id` of saga `saga`.
pub fn stream(saga: &str, id: &str) -> String {
    format!("saga.{saga}-{id}")
}

/// The columns of a saga's instances table.
pub const INSTANCE_COLUMNS: &[Column] = &[
    Column {
        name: "id",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "status",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "state",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "updated",
        kind: ColumnKind::Integer,
        required: true,
    },
    Column {
        name: "instance",
        kind: ColumnKind::Json,
        required: true,
    },
];

/// The columns of a saga's outbox: commands recorded and not yet answered.
pub const OUTBOX_COLUMNS: &[Column] = &[
    Column {
        name: "key",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "instance",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "command",
        kind: ColumnKind::Json,
        required: true,
    },
];

/// The columns of a saga's timeouts: armed and not yet fired or cancelled.
pub const TIMEOUT_COLUMNS: &[Column] = &[
    Column {
        name: "key",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "instance",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "name",
        kind: ColumnKind::Text,
        required: true,
    },
    Column {
        name: "due",
        kind: ColumnKind::Integer,
        required: true,
    },
];

/// The three tables of saga `$name` (a string literal): `<name>_instances`, `<name>_outbox`
/// and `<name>_timeouts`.
#[macro_export]
macro_rules! saga_tables {
    ($name:literal) => {
        &[
            $crate::read_model::TableSpec {
                name: concat!($name, "_instances"),
                key: "id",
                columns: $crate::saga::INSTANCE_COLUMNS,
            },
            $crate::read_model::TableSpec {
                name: concat!($name, "_outbox"),
                key: "key",
                columns: $crate::saga::OUTBOX_COLUMNS,
            },
            $crate::read_model::TableSpec {
                name: concat!($name, "_timeouts"),
                key: "key",
                columns: $crate::saga::TIMEOUT_COLUMNS,
            },
        ]
    };
}

/// What a saga's runner reads: the domain's events and the saga streams' own.
#[derive(Debug)]
pub enum SagaInput<E> {
    /// An event of the domain.
    Domain(E),
    /// An outcome, timeout or retry of a saga's stream (`type`, payload).
    Own(&'static str, Value),
}

impl<E: EventSet> EventSet for SagaInput<E> {
    fn decode(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        let own = [OUTCOME, TIMEOUT, RETRY]
            .into_iter()
            .find(|own| *own == event_type);
        match own {
            Some(own) => serde_json::from_slice(payload)
                .map(|value| SagaInput::Own(own, value))
                .map_err(|source| DecodeError::InvalidPayload {
                    event_type: event_type.to_owned(),
                    version,
                    source,
                }),
            None => E::decode(event_type, version, payload).map(SagaInput::Domain),
        }
    }

    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            SagaInput::Domain(event) => event.encode(),
            SagaInput::Own(_, value) => Ok(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    fn event_type(&self) -> &'static str {
        match self {
            SagaInput::Domain(event) => event.event_type(),
            SagaInput::Own(own, _) => own,
        }
    }

    fn version(&self) -> u32 {
        match self {
            SagaInput::Domain(event) => event.version(),
            SagaInput::Own(..) => 1,
        }
    }
}

/// Told when a step records commands or timeouts: the service's dispatcher and timer listen.
pub trait Notify: Send + Sync {
    /// Commands were recorded at `position` (committed once the checkpoint reaches it).
    fn commands(&self, position: u64);
    /// A timeout was armed.
    fn armed(&self, timer: &Timer, instance: &str);
}

/// A saga run as a projection: each input of an instance handled in the runner's transaction.
pub struct SagaProjection<G: Saga> {
    definition: Definition,
    /// Events at or before this position predate the saga (it starts after them).
    since: u64,
    notify: Option<std::sync::Arc<dyn Notify>>,
    saga: std::marker::PhantomData<fn() -> G>,
}

impl<G: Saga> Default for SagaProjection<G> {
    fn default() -> Self {
        Self::new(
            Definition::of::<G>().unwrap_or_else(|error| panic!("saga `{}`: {error}", G::NAME)),
        )
    }
}

const SINCE: &str = "since";

impl<G: Saga> SagaProjection<G> {
    /// The saga with `definition` (its own, with durations overridden, say) and `G`'s rules.
    pub fn new(mut definition: Definition) -> Self {
        definition.rules = RulesHandle(std::sync::Arc::new(G::default()));
        Self {
            definition,
            since: 0,
            notify: None,
            saga: std::marker::PhantomData,
        }
    }

    /// A saga deployed on a store that already holds events starts after `head`: the inputs of
    /// its first run are the events appended from then on.
    pub fn starting_after(mut self, head: u64) -> Self {
        self.since = head;
        self
    }

    /// Tells `notify` about recorded commands and armed timeouts.
    pub fn notify(mut self, notify: std::sync::Arc<dyn Notify>) -> Self {
        self.notify = Some(notify);
        self
    }

    /// The definition it runs.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    fn tables() -> (&'static TableSpec, &'static TableSpec, &'static TableSpec) {
        (&G::TABLES[0], &G::TABLES[1], &G::TABLES[2])
    }

    /// The instance an input is for, and the input.
    fn route(
        &self,
        event: &SagaInput<G::Event>,
        envelope: &Envelope,
    ) -> Result<Option<(String, Input)>, HandlerError> {
        match event {
            SagaInput::Own(kind, value) => {
                if value.get("saga").and_then(Value::as_str) != Some(G::NAME) {
                    return Ok(None);
                }
                let id = value
                    .get("instance")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let key = value
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let input = match *kind {
                    OUTCOME => Input::Outcome {
                        key,
                        outcome: serde_json::from_value(value.clone()).map_err(|e| {
                            HandlerError::permanent(format!("an outcome event does not parse: {e}"))
                        })?,
                    },
                    TIMEOUT => Input::Timeout { key },
                    _ => Input::Retry,
                };
                Ok(Some((id, input)))
            }
            SagaInput::Domain(domain) => {
                let event_type = domain.event_type();
                let Some(correlation) = self.definition.correlation.get(event_type) else {
                    return Ok(None);
                };
                let data: Value = serde_json::from_slice(
                    &domain
                        .encode()
                        .map_err(|e| HandlerError::permanent(e.to_string()))?,
                )
                .map_err(|e| HandlerError::permanent(e.to_string()))?;
                let id = if correlation == "$stream" {
                    envelope.aggregate_id().to_owned()
                } else {
                    match data.get(correlation) {
                        Some(Value::String(id)) => id.clone(),
                        Some(Value::Number(id)) => id.to_string(),
                        // An event without the value belongs to no instance.
                        _ => return Ok(None),
                    }
                };
                let input = Input::Event(EventInput {
                    id: envelope.id.to_string(),
                    event_type: event_type.to_owned(),
                    stream: envelope.stream.clone(),
                    data,
                });
                Ok(Some((id, input)))
            }
        }
    }
}

/// Counts instances started and ended, by status, and timeouts fired. (A batch the runner
/// applies again after a failure counts again: these are rates, not ledgers.)
#[cfg(feature = "metrics")]
fn count(saga: &'static str, (new, before): (bool, Status), after: Status, fired: bool) {
    if new {
        metrics::counter!("eventsmith_saga_started_total", "saga" => saga).increment(1);
    }
    if before != after && after != Status::Running {
        metrics::counter!("eventsmith_saga_ended_total", "saga" => saga, "status" => after.name())
            .increment(1);
    }
    if fired {
        metrics::counter!("eventsmith_saga_timeouts_total", "saga" => saga).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
fn count(_: &'static str, _: (bool, Status), _: Status, _: bool) {}

/// Unix milliseconds of a recorded time.
fn millis(time: time::OffsetDateTime) -> u64 {
    (time.unix_timestamp_nanos() / 1_000_000).max(0) as u64
}

impl<G: Saga> Projection for SagaProjection<G> {
    type Event = SagaInput<G::Event>;
    const NAME: &'static str = G::NAME;
    const TABLES: &'static [TableSpec] = G::TABLES;

    fn handles(&self, event_type: &str) -> bool {
        self.definition.reads(event_type) || [OUTCOME, TIMEOUT, RETRY].contains(&event_type)
    }

    fn handle(
        &self,
        transaction: &dyn Transaction,
        event: &Self::Event,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        // The saga's own events (outcomes, timeouts) are always its: only the domain's
        // events before it was deployed are left out. Read in every transaction, so a
        // rolled-back first write is written again.
        if matches!(event, SagaInput::Domain(_)) {
            let since = match transaction.lookup_get(SINCE, SINCE)? {
                Some(since) => since.as_u64().unwrap_or_default(),
                None => {
                    transaction.lookup_put(SINCE, SINCE, &json!(self.since))?;
                    self.since
                }
            };
            if envelope.position <= since {
                return Ok(());
            }
        }
        let Some((id, input)) = self.route(event, envelope)? else {
            return Ok(());
        };
        let (instances, outbox, timeouts) = Self::tables();
        let stored = transaction.get(instances, &id)?;
        let mut instance: Instance = match stored {
            Some(row) => serde_json::from_value(row.get("instance").cloned().unwrap_or_default())
                .map_err(|e| {
                HandlerError::permanent(format!("instance `{id}` does not parse: {e}"))
            })?,
            None => match &input {
                Input::Event(event) if self.definition.starts.contains(&event.event_type) => {
                    Instance::new(&self.definition, &id)
                }
                // Not started: nothing to do with it.
                _ => return Ok(()),
            },
        };
        let now = millis(envelope.time);
        let before = (instance.history.is_empty(), instance.status);
        let effects = instance
            .handle(&self.definition, input, now)
            .map_err(|e| HandlerError::permanent(format!("instance `{id}`: {e}")))?;
        count(G::NAME, before, instance.status, effects.timed_out);
        if effects.recorded {
            G::check_state(&instance.data).map_err(|e| {
                HandlerError::permanent(format!(
                    "instance `{id}`: the saga's state breaks its schema: {e}"
                ))
            })?;
        }
        for key in &effects.answered {
            transaction.delete(outbox, key)?;
        }
        let cause = Cause {
            event: envelope.id.to_string(),
            correlation_id: envelope.metadata.correlation_id.clone(),
        };
        for command in &effects.sent {
            let mut row = Map::new();
            row.insert("key".into(), json!(command.key));
            row.insert("instance".into(), json!(id));
            let command = Outgoing {
                cause: Some(cause.clone()),
                ..command.clone()
            };
            row.insert(
                "command".into(),
                serde_json::to_value(&command).unwrap_or_default(),
            );
            transaction.upsert(outbox, &row)?;
        }
        for key in effects.cancelled.iter().chain(&effects.fired) {
            transaction.delete(timeouts, key)?;
        }
        // A timer armed and cancelled by one input (a deferred payment taken in as the
        // reservations complete) is not stored.
        let armed: Vec<&Timer> = effects
            .armed
            .iter()
            .filter(|timer| !effects.cancelled.contains(&timer.key))
            .collect();
        for timer in &armed {
            let mut row = Map::new();
            row.insert("key".into(), json!(timer.key));
            row.insert("instance".into(), json!(id));
            row.insert("name".into(), json!(timer.name));
            row.insert("due".into(), json!(timer.due));
            transaction.upsert(timeouts, &row)?;
        }
        let mut row = Map::new();
        row.insert("id".into(), json!(id));
        row.insert("status".into(), json!(instance.status.name()));
        row.insert("state".into(), json!(instance.state));
        row.insert("updated".into(), json!(now));
        row.insert(
            "instance".into(),
            serde_json::to_value(&instance).unwrap_or_default(),
        );
        transaction.upsert(instances, &row)?;
        if let Some(notify) = &self.notify {
            if !effects.sent.is_empty() {
                notify.commands(envelope.position);
            }
            for timer in armed {
                notify.armed(timer, &id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
