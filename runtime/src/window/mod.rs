//! Windows declared in window files: per key, aggregates of the events in each time window
//! (tumbling, hopping or session), closed by a watermark.
//!
//! A window runs as a projection ([`WindowProjection`]) on the same feed and runner as the
//! others. The [`Engine`] keeps every window in memory; a batch's changes (windows changed,
//! merged away or expired, late events kept, the watermark) are written with the checkpoint in
//! one transaction, so a crash neither loses nor double counts an event, and the engine is read
//! back from the tables after a restart, a rollback or a lost lease. When the feed is idle the
//! runner ticks it, so windows close on the wall clock too.

mod accumulator;
mod definition;
mod engine;
mod rows;

pub use accumulator::Accumulator;
pub use definition::{AggregateSpec, Cut, Definition, Kind, Late};
pub use engine::{Changes, Clock, Engine, Fold, Id, Input, NoFold, Origin, WindowState};
pub use rows::{LATE_COLUMNS, OUTBOX_COLUMNS, WINDOW_COLUMNS, rfc3339, shown, window_json};

/// The type of the event appended when a window of a file with `emit` closes.
pub const CLOSED: &str = "eventsmith.window.closed";

/// The stream of window `window`'s closing events for windows starting at `start` (Unix ms).
pub fn stream(window: &str, start: i64) -> String {
    format!("window.{window}-{start}")
}

use crate::projection::{HandlerError, Projection};
use crate::read_model::{TableSpec, Transaction};
use crate::store::Envelope;
use crate::{DecodeError, EncodeError, EventSet};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A window as generated code declares it.
pub trait Window: Default + Send + Sync + 'static {
    /// The events it reads (the generated event enum), which upcasts older versions.
    type Event: EventSet + Send + Sync;
    /// Its name, which keys its checkpoint and tables.
    const NAME: &'static str;
    /// Its definition (JSON, see [`Definition`]).
    const DEFINITION: &'static str;
    /// Its tables: [`window_tables!`](crate::window_tables) of its name.
    const TABLES: &'static [TableSpec];

    /// The value of custom aggregate `aggregate` after `input` (its rules decide); `current`
    /// is its value so far.
    fn fold(&self, aggregate: &str, current: Option<&Value>, input: &Input) -> Value {
        NoFold.fold(aggregate, current, input)
    }

    /// The value of custom aggregate `aggregate` when two sessions merge.
    fn merge(&self, aggregate: &str, earlier: &Value, later: &Value) -> Value {
        NoFold.merge(aggregate, earlier, later)
    }
}

/// The three tables of window `$name` (a string literal): `<name>_windows`, `<name>_late` and
/// `<name>_outbox`.
#[macro_export]
macro_rules! window_tables {
    ($name:literal) => {
        &[
            $crate::read_model::TableSpec {
                name: concat!($name, "_windows"),
                key: "id",
                columns: $crate::window::WINDOW_COLUMNS,
            },
            $crate::read_model::TableSpec {
                name: concat!($name, "_late"),
                key: "id",
                columns: $crate::window::LATE_COLUMNS,
            },
            $crate::read_model::TableSpec {
                name: concat!($name, "_outbox"),
                key: "key",
                columns: $crate::window::OUTBOX_COLUMNS,
            },
        ]
    };
}

/// Told what each committed batch changed, as [`window_json`] objects (a session merged into
/// another comes with `"removed": true`), with the position they reflect.
pub trait Notify: Send + Sync {
    /// Windows changed up to `position`.
    fn changed(&self, window: &'static str, windows: &[Value], position: u64);

    /// Whether anyone is told: when not, the runner does not show the windows it changed.
    fn listening(&self) -> bool {
        true
    }
}

/// What a window's runner reads: an event's latest-version payload.
#[derive(Debug)]
pub struct Raw(pub Value);

impl EventSet for Raw {
    fn decode(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(payload)
            .map(Raw)
            .map_err(|source| DecodeError::InvalidPayload {
                event_type: event_type.to_owned(),
                version,
                source,
            })
    }

    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(serde_json::to_vec(&self.0).unwrap_or_default())
    }

    fn event_type(&self) -> &'static str {
        "eventsmith.window.input"
    }

    fn version(&self) -> u32 {
        1
    }
}

/// A window run as a projection.
pub struct WindowProjection<W: Window> {
    window: W,
    definition: Arc<Definition>,
    state: Mutex<State>,
    notify: Option<Arc<dyn Notify>>,
}

/// A batch's changes, told once they commit.
struct Flushed {
    /// Windows changed (as they are in the engine) and gone.
    changed: Vec<Id>,
    removed: Vec<Id>,
    /// Late events.
    late: u64,
}

#[derive(Default)]
struct State {
    /// The windows as committed plus the batch's changes; `None`: read them from the tables.
    engine: Option<Engine>,
    /// What the last flush wrote, told once it commits.
    flushed: Option<Flushed>,
    /// When an event was last taken in (or the runner started), for closing on the clock.
    active: Option<Instant>,
    /// Per key, the start of the window its gauges show.
    gauged: HashMap<Arc<str>, i64>,
}

impl State {
    /// A state whose feed counts as active from now: the wall clock closes windows only once the
    /// feed has been idle for the window's `idle` after the runner started (before, a runner
    /// catching up would close windows its next events still fall in).
    fn idle_since_now() -> Self {
        Self {
            active: Some(Instant::now()),
            ..Self::default()
        }
    }
}

impl<W: Window> Default for WindowProjection<W> {
    fn default() -> Self {
        let definition = Definition::parse(W::DEFINITION)
            .unwrap_or_else(|e| panic!("generated window `{}`: {e}", W::NAME));
        Self {
            window: W::default(),
            definition: Arc::new(definition),
            state: Mutex::new(State::idle_since_now()),
            notify: None,
        }
    }
}

struct Folding<'w, W>(&'w W);

impl<W: Window> Fold for Folding<'_, W> {
    fn fold(&self, aggregate: &str, current: Option<&Value>, input: &Input) -> Value {
        self.0.fold(aggregate, current, input)
    }
    fn merge(&self, aggregate: &str, earlier: &Value, later: &Value) -> Value {
        self.0.merge(aggregate, earlier, later)
    }
}

fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl<W: Window> WindowProjection<W> {
    /// The window run with `definition` instead of its generated one (tests, overrides).
    pub fn new(definition: Definition) -> Self {
        Self {
            window: W::default(),
            definition: Arc::new(definition),
            state: Mutex::new(State::idle_since_now()),
            notify: None,
        }
    }

    /// Its definition.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// Tells `notify` what each committed batch changed.
    pub fn notify(mut self, notify: Arc<dyn Notify>) -> Self {
        self.notify = Some(notify);
        self
    }

    fn tables() -> (&'static TableSpec, &'static TableSpec) {
        (&W::TABLES[0], &W::TABLES[1])
    }

    fn outbox() -> &'static TableSpec {
        &W::TABLES[2]
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The engine, read from the tables when it is not in memory.
    fn engine<'s>(
        &self,
        state: &'s mut State,
        transaction: &dyn Transaction,
    ) -> Result<&'s mut Engine, HandlerError> {
        if state.engine.is_none() {
            let (windows, _) = Self::tables();
            let clock = match transaction.lookup_get(rows::CLOCK, rows::CLOCK)? {
                Some(clock) => serde_json::from_value(clock)
                    .map_err(|e| HandlerError::permanent(format!("the stored clock: {e}")))?,
                None => Clock::default(),
            };
            let stored = transaction
                .list(windows, &[], usize::MAX)?
                .into_iter()
                .map(|row| rows::window(&self.definition, row))
                .collect::<Result<Vec<_>, _>>()
                .map_err(HandlerError::permanent)?;
            state.engine = Some(Engine::restore(Arc::clone(&self.definition), clock, stored));
            state.active.get_or_insert_with(Instant::now);
        }
        Ok(state.engine.as_mut().expect("read above"))
    }

    /// The event's input: its time, key and values, from its latest version.
    fn input(&self, event: &Raw, envelope: &Envelope) -> Result<Input, HandlerError> {
        let wanted = self.definition.reads.get(&envelope.event_type).copied();
        let keep = self.definition.late == Late::Keep
            || self
                .definition
                .aggregates
                .iter()
                .any(|a| a.kind == Kind::Custom);
        if wanted.is_some_and(|v| v != envelope.version) {
            let upcast = W::Event::decode(&envelope.event_type, envelope.version, &envelope.data)
                .map_err(|e| e.to_string())
                .and_then(|event| event.encode().map_err(|e| e.to_string()))
                .map_err(HandlerError::permanent)?;
            let latest: Value = serde_json::from_slice(&upcast)
                .map_err(|e| HandlerError::permanent(e.to_string()))?;
            return Ok(rows::input(&self.definition, &latest, envelope, keep));
        }
        Ok(rows::input(&self.definition, &event.0, envelope, keep))
    }
}

impl<W: Window> Projection for WindowProjection<W> {
    type Event = Raw;
    const NAME: &'static str = W::NAME;
    const TABLES: &'static [TableSpec] = W::TABLES;

    fn handles(&self, event_type: &str) -> bool {
        self.definition.reads.contains_key(event_type)
            || (self.definition.emit && event_type == CLOSED)
    }

    fn handle(
        &self,
        transaction: &dyn Transaction,
        event: &Raw,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        if envelope.event_type == CLOSED {
            // A closing event appended: its outbox row is done with.
            if event.0["window"] == W::NAME
                && let Some(key) = &envelope.metadata.causation_id
            {
                transaction.delete(Self::outbox(), key)?;
            }
            return Ok(());
        }
        let input = self.input(event, envelope)?;
        let mut state = self.state();
        let engine = self.engine(&mut state, transaction)?;
        engine.add(input, &Folding(&self.window));
        state.active = Some(Instant::now());
        Ok(())
    }

    fn flush(&self, transaction: &dyn Transaction) -> Result<(), HandlerError> {
        let mut state = self.state();
        let Some(engine) = state.engine.as_mut() else {
            return Ok(());
        };
        let changes = engine.take_changes();
        let (windows, late) = Self::tables();
        for id in &changes.removed {
            transaction.delete(windows, &rows::id(id))?;
        }
        for id in &changes.changed {
            let Some(window) = engine.window(id) else {
                continue;
            };
            transaction.upsert(windows, &rows::row(window))?;
        }
        for (input, start) in &changes.kept {
            transaction.upsert(late, &rows::late_row(input, *start))?;
        }
        if self.definition.emit {
            for id in &changes.closed {
                if let Some(window) = engine.window(id).filter(|w| w.closed) {
                    transaction
                        .upsert(Self::outbox(), &rows::outbox_row(&self.definition, window))?;
                }
            }
        }
        if changes.clock {
            let clock = serde_json::to_value(engine.clock()).unwrap_or_default();
            transaction.lookup_put(rows::CLOCK, rows::CLOCK, &clock)?;
        }
        state.flushed = Some(Flushed {
            changed: changes.changed.into_iter().collect(),
            removed: changes.removed.into_iter().collect(),
            late: changes.late,
        });
        Ok(())
    }

    fn committed(&self, checkpoint: u64) {
        let mut state = self.state();
        let Some(Flushed {
            changed,
            removed,
            late,
        }) = state.flushed.take()
        else {
            return;
        };
        let position = checkpoint;
        // Shown only when someone looks: the engine holds what was committed (the runner takes
        // the next batch after this).
        let listening = self.notify.as_ref().is_some_and(|n| n.listening());
        let told: Vec<Value> = match &state.engine {
            Some(engine) if listening || self.definition.gauges => removed
                .iter()
                .map(rows::removed)
                .chain(changed.iter().filter_map(|id| {
                    engine
                        .window(id)
                        .map(|window| window_json(&self.definition, window))
                }))
                .collect(),
            _ => Vec::new(),
        };
        #[cfg(feature = "metrics")]
        if late > 0 {
            metrics::counter!("eventsmith_window_late_events_total", "window" => W::NAME)
                .increment(late);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = late;
        if self.definition.gauges {
            rows::gauge(W::NAME, &told, &mut state.gauged);
        }
        drop(state);
        if let Some(notify) = &self.notify
            && !told.is_empty()
        {
            notify.changed(W::NAME, &told, position);
        }
    }

    fn discard(&self) {
        let mut state = self.state();
        state.engine = None;
        state.flushed = None;
    }

    fn tick_due(&self) -> bool {
        let state = self.state();
        let Some(engine) = &state.engine else {
            // Read the windows, so those that came due while the service was down close.
            return true;
        };
        let idle = state
            .active
            .is_none_or(|at| at.elapsed().as_millis() as u64 >= self.definition.idle);
        idle && engine.due(unix_millis())
    }

    fn tick(&self, transaction: &dyn Transaction) -> Result<bool, HandlerError> {
        let mut state = self.state();
        let idle = state
            .active
            .is_none_or(|at| at.elapsed().as_millis() as u64 >= self.definition.idle);
        let engine = self.engine(&mut state, transaction)?;
        // Read back (after a restart or a rollback), the feed may not have been idle long.
        if !idle {
            return Ok(engine.has_changes());
        }
        engine.tick(unix_millis());
        Ok(engine.has_changes())
    }
}

#[cfg(test)]
mod tests;
