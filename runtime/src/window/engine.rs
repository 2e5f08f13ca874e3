//! The window engine: the windows of every key, in memory, fed one event at a time in the
//! feed's order, and the watermark that closes them. It is deterministic: the same events in
//! the same order (and the same clock ticks) give the same windows, so a replay gives what the
//! live run gave. The runner keeps it in step with the read model ([`super::WindowProjection`]).
//!
//! Semantics, all times in ms since the Unix epoch:
//! - fixed windows `[start, start + size)` start at multiples of the hop (of the size when
//!   tumbling); an event at `t` belongs to each one holding `t`;
//! - a session of a key spans `[first event, last event + gap)`; an event whose own span
//!   `[t, t + gap)` overlaps sessions of its key merges them into one;
//! - the watermark is the latest event time minus the lateness; it never goes back. A window
//!   whose end is at or before it is closed;
//! - when the feed is idle, the wall clock minus the lateness closes windows too, but only for
//!   showing and announcing them: what is late and what is past its retention follow the
//!   watermark alone, which depends on the log only, so a replay takes in the same events;
//! - an event is late for a window the watermark has passed when it arrives (for a session:
//!   when it joins no session open under the watermark and its own span is passed): `drop`
//!   leaves it out of that window, `keep` leaves it out and keeps it aside, `correct` takes it
//!   into the closed window (and a session merges with closed ones), unless the window is
//!   older than the retention. An event that is not late joins a window the clock closed;
//! - a closed window is removed once its end is `retain` or more before the watermark.

use super::accumulator::Accumulator;
use super::definition::{Cut, Definition, Kind, Late};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A window's identity: its key (canonical JSON) and start.
pub type Id = (Arc<str>, i64);

/// One window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowState {
    /// The key, canonical JSON (`{"method":"card"}`).
    pub key: Arc<str>,
    /// Its first instant.
    pub start: i64,
    /// The instant after its last.
    pub end: i64,
    /// Whether the watermark has passed its end.
    pub closed: bool,
    /// One per aggregate, in the definition's order.
    pub accumulators: Vec<Accumulator>,
    /// The feed position of the last event taken in.
    pub position: u64,
    /// Whether it changed since changes were last taken.
    pub dirty: bool,
}

impl WindowState {
    /// Its identity.
    pub fn id(&self) -> Id {
        (Arc::clone(&self.key), self.start)
    }

    /// The aggregates' values, by name.
    pub fn values(&self, definition: &Definition) -> serde_json::Map<String, Value> {
        definition
            .aggregates
            .iter()
            .zip(&self.accumulators)
            .map(|(spec, accumulator)| (spec.name.clone(), accumulator.value(spec.integer)))
            .collect()
    }
}

/// One event as the engine sees it.
#[derive(Debug, Clone)]
pub struct Input {
    /// Its time.
    pub time: i64,
    /// Its key, canonical JSON.
    pub key: Arc<str>,
    /// Per aggregate, the value it reads (`None`: absent). A custom aggregate's is unused.
    pub values: Vec<Option<Value>>,
    /// Its feed position.
    pub position: u64,
    /// The event itself, when custom aggregates or the side table of late events need it.
    pub origin: Option<Arc<Origin>>,
}

/// An event as custom aggregates and the side table of late events see it.
#[derive(Debug)]
pub struct Origin {
    /// The payload (its latest version).
    pub event: Value,
    /// Its stream.
    pub stream: String,
    /// Its type.
    pub event_type: String,
}

/// Computes custom aggregates: what a window's rules do.
pub trait Fold {
    /// The value of custom aggregate `aggregate` after taking in `input` (`current`: its value
    /// so far, `None` for the window's first event).
    fn fold(&self, aggregate: &str, current: Option<&Value>, input: &Input) -> Value;
    /// The value of custom aggregate `aggregate` for two sessions merged into one.
    fn merge(&self, aggregate: &str, earlier: &Value, later: &Value) -> Value;
}

/// No custom aggregates.
pub struct NoFold;

impl Fold for NoFold {
    fn fold(&self, _: &str, current: Option<&Value>, _: &Input) -> Value {
        current.cloned().unwrap_or(Value::Null)
    }
    fn merge(&self, _: &str, _: &Value, later: &Value) -> Value {
        later.clone()
    }
}

/// Where the watermark stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clock {
    /// The latest event time taken in (`i64::MIN`: none yet).
    pub latest: i64,
    /// The latest event time minus the lateness: events for windows ending at or before it
    /// are late (`i64::MIN`: none is).
    pub watermark: i64,
    /// Windows ending at or before it are closed: the watermark, or the wall clock minus the
    /// lateness when the feed was idle (`i64::MIN`: none is).
    #[serde(default = "none_closed")]
    pub closed: i64,
}

fn none_closed() -> i64 {
    i64::MIN
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            latest: i64::MIN,
            watermark: i64::MIN,
            closed: i64::MIN,
        }
    }
}

/// What happened since changes were last taken.
#[derive(Debug, Default)]
pub struct Changes {
    /// Windows created or changed (they are in the engine).
    pub changed: BTreeSet<Id>,
    /// Windows gone: merged into another session, or past their retention.
    pub removed: BTreeSet<Id>,
    /// Windows that closed.
    pub closed: BTreeSet<Id>,
    /// Late events kept aside (`keep`), with the start of the window they missed.
    pub kept: Vec<(Input, i64)>,
    /// Late events, whatever became of them.
    pub late: u64,
    /// Whether the clock moved.
    pub clock: bool,
}

/// The windows of every key.
pub struct Engine {
    definition: Arc<Definition>,
    windows: HashMap<Id, WindowState>,
    /// Open windows by end.
    open: BTreeSet<(i64, Id)>,
    /// Closed windows by end, for the retention.
    closed: BTreeSet<(i64, Id)>,
    /// Per key, its sessions' starts and ends.
    sessions: HashMap<Arc<str>, BTreeMap<i64, i64>>,
    clock: Clock,
    changes: Changes,
}

impl Engine {
    /// An empty engine.
    pub fn new(definition: Arc<Definition>) -> Self {
        Self {
            definition,
            windows: HashMap::new(),
            open: BTreeSet::new(),
            closed: BTreeSet::new(),
            sessions: HashMap::new(),
            clock: Clock::default(),
            changes: Changes::default(),
        }
    }

    /// An engine holding `windows` (as stored), at `clock`.
    pub fn restore(
        definition: Arc<Definition>,
        clock: Clock,
        windows: impl IntoIterator<Item = WindowState>,
    ) -> Self {
        let mut engine = Self::new(definition);
        // A clock stored before `closed` existed: what the watermark closed is closed.
        engine.clock = Clock {
            closed: clock.closed.max(clock.watermark),
            ..clock
        };
        for window in windows {
            engine.insert(window);
        }
        engine
    }

    /// The definition.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// WindowState `id`.
    pub fn window(&self, id: &Id) -> Option<&WindowState> {
        self.windows.get(id)
    }

    /// Every window, in no order.
    pub fn windows(&self) -> impl Iterator<Item = &WindowState> {
        self.windows.values()
    }

    /// The end of the earliest open window.
    pub fn next_end(&self) -> Option<i64> {
        self.open.first().map(|(end, _)| *end)
    }

    /// Whether the wall clock `now` would close a window.
    pub fn due(&self, now: i64) -> bool {
        let to = now.saturating_sub(self.definition.lateness as i64);
        self.open.first().is_some_and(|(end, _)| *end <= to)
    }

    /// Whether anything changed since changes were last taken.
    pub fn has_changes(&self) -> bool {
        let changes = &self.changes;
        changes.clock
            || !changes.changed.is_empty()
            || !changes.removed.is_empty()
            || !changes.kept.is_empty()
            || changes.late > 0
    }

    /// What changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        let changes = std::mem::take(&mut self.changes);
        for id in &changes.changed {
            if let Some(window) = self.windows.get_mut(id) {
                window.dirty = false;
            }
        }
        changes
    }

    /// Notes that window `id` changed.
    fn touched(&mut self, id: &Id) {
        if let Some(window) = self.windows.get_mut(id)
            && !window.dirty
        {
            window.dirty = true;
            self.changes.removed.remove(id);
            self.changes.changed.insert(id.clone());
        }
    }

    fn insert(&mut self, window: WindowState) {
        let id = window.id();
        let set = if window.closed {
            &mut self.closed
        } else {
            &mut self.open
        };
        set.insert((window.end, id.clone()));
        if matches!(self.definition.window, Cut::Session { .. }) {
            self.sessions
                .entry(Arc::clone(&window.key))
                .or_default()
                .insert(window.start, window.end);
        }
        self.windows.insert(id, window);
    }

    fn remove(&mut self, id: &Id) -> Option<WindowState> {
        let window = self.windows.remove(id)?;
        self.open.remove(&(window.end, id.clone()));
        self.closed.remove(&(window.end, id.clone()));
        if let Some(starts) = self.sessions.get_mut(&window.key) {
            starts.remove(&window.start);
            if starts.is_empty() {
                self.sessions.remove(&window.key);
            }
        }
        Some(window)
    }

    /// Whether the watermark has passed a window ending at `end`: events for it are late.
    fn is_closed(&self, end: i64) -> bool {
        end <= self.clock.watermark
    }

    /// Whether a window ending at `end` is past its retention.
    fn is_expired(&self, end: i64) -> bool {
        self.definition
            .retain
            .is_some_and(|retain| end.saturating_add(retain as i64) <= self.clock.watermark)
    }

    fn empty_accumulators(&self) -> Vec<Accumulator> {
        self.definition
            .aggregates
            .iter()
            .map(Accumulator::empty)
            .collect()
    }

    /// Takes `input` into `window`.
    fn take_into(
        definition: &Definition,
        window: &mut WindowState,
        input: &Input,
        fold: &dyn Fold,
    ) {
        for ((spec, accumulator), value) in definition
            .aggregates
            .iter()
            .zip(&mut window.accumulators)
            .zip(&input.values)
        {
            if spec.kind == Kind::Custom {
                let Accumulator::Custom { value: current } = accumulator else {
                    continue;
                };
                let folded = fold.fold(&spec.name, current.as_ref(), input);
                accumulator.add(Some(&folded));
            } else {
                accumulator.add(value.as_ref());
            }
        }
        window.position = window.position.max(input.position);
    }

    /// Takes one event in, then moves the watermark with its time.
    pub fn add(&mut self, input: Input, fold: &dyn Fold) {
        match self.definition.window {
            Cut::Session { gap } => self.add_to_session(&input, gap as i64, fold),
            cut => self.add_to_fixed(&input, cut, fold),
        }
        if input.time > self.clock.latest {
            self.clock.latest = input.time;
            let lateness = self.definition.lateness as i64;
            self.advance(input.time.saturating_sub(lateness));
        }
    }

    fn add_to_fixed(&mut self, input: &Input, cut: Cut, fold: &dyn Fold) {
        let size = cut.span();
        let mut late = None;
        for start in cut.starts(input.time) {
            let end = start + size;
            if self.is_closed(end) {
                late.get_or_insert(start);
                if self.definition.late != Late::Correct || self.is_expired(end) {
                    continue;
                }
            }
            let id = (Arc::clone(&input.key), start);
            let window = match self.windows.get_mut(&id) {
                Some(window) => window,
                None => {
                    let window = WindowState {
                        key: Arc::clone(&input.key),
                        start,
                        end,
                        closed: self.is_closed(end),
                        accumulators: self.empty_accumulators(),
                        position: input.position,
                        dirty: false,
                    };
                    self.insert(window);
                    self.windows.get_mut(&id).expect("inserted above")
                }
            };
            Self::take_into(&self.definition, window, input, fold);
            self.touched(&id);
        }
        if let Some(start) = late {
            self.late(input, start);
        }
    }

    fn late(&mut self, input: &Input, start: i64) {
        self.changes.late += 1;
        if self.definition.late == Late::Keep {
            self.changes.kept.push((input.clone(), start));
        }
    }

    fn add_to_session(&mut self, input: &Input, gap: i64, fold: &dyn Fold) {
        let (from, to) = (input.time, input.time.saturating_add(gap));
        let correct = self.definition.late == Late::Correct;
        // The sessions of its key its span overlaps, with their ends.
        let touching: Vec<(i64, i64)> = self
            .sessions
            .get(&input.key)
            .map(|starts| {
                starts
                    .range(..to)
                    .filter(|(_, end)| **end > from)
                    .map(|(start, end)| (*start, *end))
                    .collect()
            })
            .unwrap_or_default();
        // Late only when it joins no open session and its own span is closed already.
        let joins_open = touching.iter().any(|(_, end)| !self.is_closed(*end));
        if !joins_open && self.is_closed(to) {
            self.late(input, from);
            if !correct || self.is_expired(to) {
                return;
            }
        }
        // Closed sessions are final unless late events correct them.
        let overlapping: Vec<i64> = touching
            .into_iter()
            .filter(|(_, end)| correct || !self.is_closed(*end))
            .map(|(start, _)| start)
            .collect();
        // The common case: the event extends the one session it overlaps, which keeps its start.
        if let [start] = overlapping[..]
            && start <= from
        {
            let id = (Arc::clone(&input.key), start);
            if let Some(mut window) = self.remove(&id) {
                Self::take_into(&self.definition, &mut window, input, fold);
                window.end = window.end.max(to);
                // Closed by the clock and extended past it, it is open again.
                window.closed = self.is_closed(window.end)
                    || (window.closed && window.end <= self.clock.closed);
                self.insert(window);
                self.touched(&id);
                return;
            }
        }
        let mut merged = WindowState {
            key: Arc::clone(&input.key),
            start: from,
            end: to,
            closed: false,
            accumulators: self.empty_accumulators(),
            position: input.position,
            dirty: false,
        };
        let mut parts: Vec<WindowState> = overlapping
            .into_iter()
            .filter_map(|start| {
                let id = (Arc::clone(&input.key), start);
                let window = self.remove(&id)?;
                self.changes.changed.remove(&id);
                self.changes.removed.insert(id);
                Some(window)
            })
            .collect();
        parts.sort_by_key(|w| w.start);
        let part_closed = parts.iter().any(|part| part.closed);
        let mut first = true;
        for part in parts {
            merged.start = merged.start.min(part.start);
            merged.end = merged.end.max(part.end);
            merged.position = merged.position.max(part.position);
            if first {
                merged.accumulators = part.accumulators;
                first = false;
                continue;
            }
            for ((spec, accumulator), later) in self
                .definition
                .aggregates
                .iter()
                .zip(&mut merged.accumulators)
                .zip(&part.accumulators)
            {
                if let (
                    Accumulator::Custom {
                        value: Some(earlier),
                    },
                    Accumulator::Custom { value: Some(later) },
                ) = (&*accumulator, later)
                {
                    let value = fold.merge(&spec.name, earlier, later);
                    *accumulator = Accumulator::Custom { value: Some(value) };
                } else {
                    accumulator.merge(later);
                }
            }
        }
        Self::take_into(&self.definition, &mut merged, input, fold);
        // As when one session is extended: closed by the clock, it stays closed (and is not
        // announced again) unless it now ends past the clock.
        merged.closed =
            self.is_closed(merged.end) || (part_closed && merged.end <= self.clock.closed);
        merged.dirty = false;
        let id = merged.id();
        self.insert(merged);
        self.touched(&id);
    }

    /// Moves the watermark to `to` (never back), closing the windows it passes and removing
    /// those past their retention.
    pub fn advance(&mut self, to: i64) {
        if to <= self.clock.watermark {
            return;
        }
        self.clock.watermark = to;
        self.changes.clock = true;
        self.close_to(to);
        while let Some((end, id)) = self.closed.first().cloned() {
            if !self.is_expired(end) {
                break;
            }
            self.remove(&id);
            self.changes.changed.remove(&id);
            self.changes.closed.remove(&id);
            self.changes.removed.insert(id);
        }
    }

    /// Closes the open windows ending at or before `to` (some may have opened behind the
    /// clock: the watermark closes them).
    fn close_to(&mut self, to: i64) {
        if to > self.clock.closed {
            self.clock.closed = to;
            self.changes.clock = true;
        }
        while let Some((end, id)) = self.open.first().cloned() {
            if end > to {
                break;
            }
            self.open.pop_first();
            self.closed.insert((end, id.clone()));
            if let Some(window) = self.windows.get_mut(&id) {
                window.closed = true;
            }
            self.changes.closed.insert(id.clone());
            self.touched(&id);
        }
    }

    /// Closes the windows the wall clock `now` (minus the lateness) has passed, as when the feed
    /// has been idle. It leaves the watermark alone: what is late depends on the log only.
    pub fn tick(&mut self, now: i64) {
        self.close_to(now.saturating_sub(self.definition.lateness as i64));
    }
}
