//! A window file's `x-eventsmith` (`schema/windows/<name>.json`): an aggregation of events over
//! time windows, per key. The file's schema is the object of the window's aggregates (one
//! property per aggregate, typed); these annotations say which events it reads, what it groups
//! them by, how it cuts time into windows, which time it uses and what happens to late events.
//! Their JSON shape is `schema/meta/x-eventsmith.schema.json#/$defs/window`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The envelope fields a key may read, besides the event's properties.
pub const ENVELOPE_FIELDS: &[(&str, &str)] = &[
    ("$stream", "the event's stream (`<category>-<id>`)"),
    ("$aggregate_id", "the id of the event's aggregate"),
    ("$type", "the event type"),
    ("$correlation_id", "the event's correlation id"),
];

/// The envelope time, the default time of a window.
pub const RECORDED: &str = "$recorded";

/// Annotations of a window file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowAnnotations {
    /// The event types it reads.
    pub reads: Vec<String>,
    /// What it groups by: event properties (`customer_id`, `address.city`) or envelope fields
    /// (`$stream`, `$aggregate_id`, `$type`, `$correlation_id`). Empty: one group.
    #[serde(default)]
    pub key: Vec<String>,
    /// How it cuts time.
    pub window: WindowKind,
    /// Which time places an event, and what happens to late ones.
    #[serde(default)]
    pub time: Time,
    /// The aggregates, in the order the file gives them; each names a property of the schema.
    pub aggregates: IndexMap<String, Aggregate>,
    /// How long a closed window is kept (ISO 8601), counted from its end; kept for good when absent.
    #[serde(default)]
    pub retain: Option<String>,
    /// Whether the latest window's values of each key are exported as Prometheus gauges.
    #[serde(default)]
    pub gauges: bool,
    /// Whether an event `eventsmith.window.closed` is appended when a window closes.
    #[serde(default)]
    pub emit: bool,
    /// Teams that own the window.
    #[serde(default)]
    pub owners: Vec<String>,
}

/// How a window cuts time. Durations are ISO 8601.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowKind {
    /// Back-to-back windows of `size`, aligned on the Unix epoch.
    Tumbling {
        /// The length of a window.
        size: String,
    },
    /// Windows of `size` starting every `hop` (aligned on the Unix epoch): an event falls in
    /// each one holding its time (`size / hop` of them when the hop divides the size).
    Hopping {
        /// The length of a window.
        size: String,
        /// How far apart windows start.
        hop: String,
    },
    /// Per key, events less than `gap` apart belong to one session.
    Session {
        /// The inactivity that ends a session.
        gap: String,
    },
}

impl Default for WindowKind {
    fn default() -> Self {
        WindowKind::Tumbling {
            size: "PT1H".to_owned(),
        }
    }
}

impl WindowKind {
    /// `tumbling`, `hopping` or `session`.
    pub fn name(&self) -> &'static str {
        match self {
            WindowKind::Tumbling { .. } => "tumbling",
            WindowKind::Hopping { .. } => "hopping",
            WindowKind::Session { .. } => "session",
        }
    }

    /// Its durations with their names, in file order.
    pub fn durations(&self) -> Vec<(&'static str, &str)> {
        match self {
            WindowKind::Tumbling { size } => vec![("size", size)],
            WindowKind::Hopping { size, hop } => vec![("size", size), ("hop", hop)],
            WindowKind::Session { gap } => vec![("gap", gap)],
        }
    }
}

/// The time that places an event in windows, and the watermark that closes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Time {
    /// `$recorded` (the time the store recorded the event: no late data exists) or a
    /// `date-time` property of the event.
    #[serde(default = "recorded")]
    pub from: String,
    /// How long after a window's end it still takes events (ISO 8601): the watermark trails
    /// the latest event time by this much.
    #[serde(default)]
    pub lateness: Option<String>,
    /// When the feed has been idle this long (ISO 8601), the watermark follows the wall clock
    /// (minus the lateness). Default `PT10S`.
    #[serde(default)]
    pub idle: Option<String>,
    /// What happens to an event whose window has closed.
    #[serde(default)]
    pub late: Option<LatePolicy>,
}

fn recorded() -> String {
    RECORDED.to_owned()
}

impl Default for Time {
    fn default() -> Self {
        Self {
            from: recorded(),
            lateness: None,
            idle: None,
            late: None,
        }
    }
}

impl Time {
    /// Whether it is the recorded time.
    pub fn is_recorded(&self) -> bool {
        self.from == RECORDED
    }

    /// The late policy in force: as written, else `correct` on recorded time (where lateness
    /// comes only from clocks) and `drop` on an event's own time.
    pub fn late_policy(&self) -> LatePolicy {
        self.late.unwrap_or(if self.is_recorded() {
            LatePolicy::Correct
        } else {
            LatePolicy::Drop
        })
    }

    /// The idle time after which the watermark follows the clock.
    pub fn idle_or_default(&self) -> &str {
        self.idle.as_deref().unwrap_or("PT10S")
    }
}

/// What happens to an event later than the watermark allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// It is left out (and counted in `eventsmith_window_late_events_total`).
    Drop,
    /// It is taken into its closed window, which is updated.
    Correct,
    /// It is kept in the window's side table of late events, for a person to look at.
    Keep,
}

impl LatePolicy {
    /// As written in the file.
    pub fn name(self) -> &'static str {
        match self {
            LatePolicy::Drop => "drop",
            LatePolicy::Correct => "correct",
            LatePolicy::Keep => "keep",
        }
    }
}

/// One aggregate of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// What it computes.
    pub kind: AggregateKind,
    /// The event property it reads (every kind but `count`; optional for `custom`).
    #[serde(default)]
    pub field: Option<String>,
}

/// What an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateKind {
    /// How many events.
    Count,
    /// The sum of a numeric field.
    Sum,
    /// The smallest value of a field (numbers, or strings such as times).
    Min,
    /// The largest value of a field.
    Max,
    /// The mean of a numeric field.
    Average,
    /// How many distinct values a field takes.
    Distinct,
    /// Computed by a method of the window's user-owned rules (its name is the aggregate's).
    Custom,
}

impl AggregateKind {
    /// As written in the file.
    pub fn name(self) -> &'static str {
        match self {
            AggregateKind::Count => "count",
            AggregateKind::Sum => "sum",
            AggregateKind::Min => "min",
            AggregateKind::Max => "max",
            AggregateKind::Average => "average",
            AggregateKind::Distinct => "distinct",
            AggregateKind::Custom => "custom",
        }
    }

    /// Whether it reads a field.
    pub fn needs_field(self) -> bool {
        !matches!(self, AggregateKind::Count | AggregateKind::Custom)
    }

    /// Whether its field must be numeric.
    pub fn needs_number(self) -> bool {
        matches!(self, AggregateKind::Sum | AggregateKind::Average)
    }
}
