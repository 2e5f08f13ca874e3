//! A window's definition, as generated code gives it (JSON, durations in milliseconds): what it
//! reads, what it groups by, how it cuts time, and what it computes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A window, as the runner follows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Its name, which keys its checkpoint and tables.
    pub name: String,
    /// The event types it reads, with the version it reads them at (older ones are upcast).
    pub reads: BTreeMap<String, u32>,
    /// What it groups by: event properties (dotted paths) or envelope fields (`$stream`, ...).
    #[serde(default)]
    pub key: Vec<String>,
    /// How it cuts time.
    pub window: Cut,
    /// The event property holding the time (`None`: the recorded time).
    #[serde(default)]
    pub time: Option<String>,
    /// How far the watermark trails the latest event time, in ms.
    #[serde(default)]
    pub lateness: u64,
    /// How long the feed must be idle before the clock closes windows, in ms.
    pub idle: u64,
    /// What happens to an event whose window has closed.
    pub late: Late,
    /// The aggregates, in the file's order.
    pub aggregates: Vec<AggregateSpec>,
    /// How long a closed window is kept after its end, in ms (`None`: for good).
    #[serde(default)]
    pub retain: Option<u64>,
    /// Whether the latest window's values of each key are Prometheus gauges.
    #[serde(default)]
    pub gauges: bool,
    /// Whether closing a window appends [`CLOSED`](super::CLOSED).
    #[serde(default)]
    pub emit: bool,
}

/// How a window cuts time, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cut {
    /// Back-to-back windows of `size`, aligned on the Unix epoch.
    Tumbling {
        /// The length of a window.
        size: u64,
    },
    /// Windows of `size` starting every `hop`, aligned on the Unix epoch.
    Hopping {
        /// The length of a window.
        size: u64,
        /// How far apart windows start.
        hop: u64,
    },
    /// Per key, events less than `gap` apart form one session.
    Session {
        /// The inactivity that ends a session.
        gap: u64,
    },
}

impl Cut {
    /// The starts of the fixed windows holding time `at` (none for sessions), earliest first:
    /// the multiples of the hop in `(at - size, at]`.
    pub fn starts(&self, at: i64) -> std::iter::StepBy<std::ops::RangeInclusive<i64>> {
        let (size, hop) = match *self {
            Cut::Tumbling { size } => (size as i64, size as i64),
            Cut::Hopping { size, hop } => (size as i64, hop as i64),
            // No fixed window: an empty range.
            Cut::Session { .. } => {
                return std::ops::RangeInclusive::new(at.saturating_add(1), at).step_by(1);
            }
        };
        let last = at.div_euclid(hop) * hop;
        let first = ((at - size).div_euclid(hop) + 1) * hop;
        (first..=last).step_by(hop as usize)
    }

    /// The length of a fixed window, or a session's gap.
    pub fn span(&self) -> i64 {
        match *self {
            Cut::Tumbling { size } | Cut::Hopping { size, .. } => size as i64,
            Cut::Session { gap } => gap as i64,
        }
    }
}

/// What happens to an event whose window has closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Late {
    /// Left out, and counted.
    Drop,
    /// Taken into the closed window, which is updated.
    Correct,
    /// Kept in the side table of late events.
    Keep,
}

/// One aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// Its name, under which responses give it.
    pub name: String,
    /// What it computes.
    pub kind: Kind,
    /// The event property it reads (a dotted path).
    #[serde(default)]
    pub field: Option<String>,
    /// Whether its value is an integer (a sum of integers), not a number.
    #[serde(default)]
    pub integer: bool,
}

/// What an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// How many events.
    Count,
    /// The sum of a numeric field.
    Sum,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The mean of a numeric field.
    Average,
    /// How many distinct values.
    Distinct,
    /// Computed by the window's rules.
    Custom,
}

impl Definition {
    /// Parses generated code's JSON.
    pub fn parse(json: &str) -> Result<Self, String> {
        let definition: Self =
            serde_json::from_str(json).map_err(|e| format!("a window definition: {e}"))?;
        let zero = match definition.window {
            Cut::Tumbling { size } => size == 0,
            Cut::Hopping { size, hop } => size == 0 || hop == 0 || hop > size,
            Cut::Session { gap } => gap == 0,
        };
        if zero {
            return Err(format!(
                "window `{}`: its durations must be positive, a hop no longer than the size",
                definition.name
            ));
        }
        Ok(definition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_windows_hold_their_times() {
        let starts = |cut: Cut, at| cut.starts(at).collect::<Vec<_>>();
        let tumbling = Cut::Tumbling { size: 10 };
        assert_eq!(starts(tumbling, 0), [0]);
        assert_eq!(starts(tumbling, 19), [10]);
        assert_eq!(starts(tumbling, -1), [-10]);
        let hopping = Cut::Hopping { size: 10, hop: 5 };
        assert_eq!(starts(hopping, 12), [5, 10]);
        assert_eq!(starts(hopping, 10), [5, 10]);
        assert_eq!(starts(hopping, 4), [-5, 0]);
        let uneven = Cut::Hopping { size: 10, hop: 4 };
        assert_eq!(starts(uneven, 9), [0, 4, 8]);
        assert_eq!(starts(uneven, 10), [4, 8]);
        assert_eq!(starts(Cut::Session { gap: 3 }, 10), Vec::<i64>::new());
    }
}
