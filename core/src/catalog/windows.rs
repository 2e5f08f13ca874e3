//! A window as the catalog tells it, from its annotations and schemas: the events it reads and
//! the fields it reads from each, its key, how it cuts time and which time it goes by, in words
//! with the ISO 8601 durations beside them, and its aggregates with their types. Whatever the
//! annotations hold, this tells it: a duration that does not parse (`validate` reports it) is
//! shown as written.

use super::fields::Field;
use crate::project::saga;
use crate::project::window::{ENVELOPE_FIELDS, WindowAnnotations, WindowKind};
use serde::Serialize;
use std::time::Duration;

/// How a window computes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Windowing {
    /// The events it reads, as the file names them, with the fields it reads from each.
    pub reads: Vec<ReadFacts>,
    /// What it groups by, in the file's order.
    pub key: Vec<KeyPart>,
    /// How it cuts time.
    pub cut: CutFacts,
    /// Which time places an event, what closes windows, and what happens to late events.
    pub time: TimeFacts,
    /// Its aggregates, in the file's order.
    pub aggregates: Vec<WindowAggregate>,
    /// How long a closed window is kept after its end; none: for good.
    pub retain: Option<DurationFacts>,
    /// Whether the latest window's values of each key are Prometheus gauges.
    pub gauges: bool,
    /// Whether closing a window appends `eventsmith.window.closed`.
    pub emit: bool,
}

/// An ISO 8601 duration, with its words when it parses (`1 hour`, `500 milliseconds`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DurationFacts {
    /// As written.
    pub iso: String,
    /// Its length, when it parses.
    #[serde(skip)]
    pub length: Option<Duration>,
    /// In words, when it parses.
    pub words: Option<String>,
}

impl DurationFacts {
    /// The facts of `iso`.
    pub fn of(iso: &str) -> Self {
        let length = saga::duration(iso).ok();
        Self {
            iso: iso.to_owned(),
            length,
            words: length.map(words),
        }
    }

    /// Its words then its ISO form (`1 hour (`PT1H`)`), or only the ISO form.
    pub fn text(&self) -> String {
        match &self.words {
            Some(words) => format!("{words} (`{}`)", self.iso),
            None => format!("`{}`", self.iso),
        }
    }
}

/// An event a window reads.
#[derive(Debug, Clone, Serialize)]
pub struct ReadFacts {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// The properties it reads of it: key fields, aggregate fields, then the time, each once.
    pub fields: Vec<FieldRead>,
}

/// A property a window reads of an event.
#[derive(Debug, Clone, Serialize)]
pub struct FieldRead {
    /// Its dotted path.
    pub path: String,
    /// Its type in the event's latest version (older ones are upcast first); none when the
    /// event or the property is unknown.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// What it is read for.
    pub uses: Vec<FieldUse>,
}

/// What a window reads a property for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "use", rename_all = "snake_case")]
pub enum FieldUse {
    /// A key field.
    Key,
    /// An aggregate's field.
    Aggregate {
        /// The aggregate.
        name: String,
        /// What it computes (`sum`).
        kind: &'static str,
    },
    /// The time that places the event.
    Time,
}

/// One field of the key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyPart {
    /// As written: a dotted property path, or an envelope field (`$stream`).
    pub field: String,
    /// For an envelope field, what it holds.
    pub envelope: Option<&'static str>,
}

/// How a window cuts time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CutFacts {
    /// `tumbling`, `hopping` or `session`.
    pub kind: &'static str,
    /// Its durations by name (`size`, `hop`, `gap`), in the file's order.
    pub durations: Vec<(&'static str, DurationFacts)>,
    /// In words: `tumbling windows of 1 hour (`PT1H`), aligned on the hour (UTC epoch)`.
    pub text: String,
}

/// Which time a window goes by.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimeFacts {
    /// `$recorded` or a property of the events.
    pub from: String,
    /// Whether it is the time the store recorded each event.
    pub recorded: bool,
    /// How far the watermark trails the latest event time, when the file says.
    pub lateness: Option<DurationFacts>,
    /// How long the feed must be idle before the watermark follows the wall clock.
    pub idle: DurationFacts,
    /// Whether `idle` is the default.
    pub idle_default: bool,
    /// The late policy in force: `drop`, `correct` or `keep`.
    pub late: &'static str,
    /// Whether the policy is the default for the time.
    pub late_default: bool,
}

/// One aggregate.
#[derive(Debug, Clone, Serialize)]
pub struct WindowAggregate {
    /// Its name: the property of the window's schema that holds it.
    pub name: String,
    /// What it computes (`count`, `sum`, ...).
    pub kind: &'static str,
    /// The event property it reads.
    pub field: Option<String>,
    /// Its property's type in the window's schema (empty without one).
    #[serde(rename = "type")]
    pub ty: String,
    /// Its property's description.
    pub description: String,
}

/// How a window computes, from its annotations, the fields of its schema (`properties`, one per
/// aggregate) and the fields of each event's latest version (`event_fields`).
pub fn windowing<'f>(
    annotations: &WindowAnnotations,
    schema_fields: &[Field],
    event_fields: &dyn Fn(&str) -> Option<&'f [Field]>,
) -> Windowing {
    let key: Vec<KeyPart> = annotations
        .key
        .iter()
        .map(|field| KeyPart {
            field: field.clone(),
            envelope: ENVELOPE_FIELDS
                .iter()
                .find(|(name, _)| name == field)
                .map(|(_, means)| *means),
        })
        .collect();
    // What every event is read for, the same for each: key, aggregate fields, then the time.
    let mut uses: Vec<(String, FieldUse)> = key
        .iter()
        .filter(|part| part.envelope.is_none())
        .map(|part| (part.field.clone(), FieldUse::Key))
        .collect();
    for (name, aggregate) in &annotations.aggregates {
        if let Some(field) = &aggregate.field {
            let kind = aggregate.kind.name();
            let name = name.clone();
            uses.push((field.clone(), FieldUse::Aggregate { name, kind }));
        }
    }
    let time = &annotations.time;
    if !time.is_recorded() {
        uses.push((time.from.clone(), FieldUse::Time));
    }
    let reads = annotations
        .reads
        .iter()
        .map(|event_type| {
            let fields = event_fields(event_type);
            let mut read: Vec<FieldRead> = Vec::new();
            for (path, used) in &uses {
                match read.iter_mut().find(|f| &f.path == path) {
                    Some(field) => field.uses.push(used.clone()),
                    None => read.push(FieldRead {
                        path: path.clone(),
                        ty: fields
                            .and_then(|fields| fields.iter().find(|f| &f.path == path))
                            .map(|f| f.ty.clone()),
                        uses: vec![used.clone()],
                    }),
                }
            }
            ReadFacts {
                event_type: event_type.clone(),
                fields: read,
            }
        })
        .collect();
    let aggregates = annotations
        .aggregates
        .iter()
        .map(|(name, aggregate)| {
            let property = schema_fields
                .iter()
                .find(|f| f.depth == 0 && &f.path == name);
            WindowAggregate {
                name: name.clone(),
                kind: aggregate.kind.name(),
                field: aggregate.field.clone(),
                ty: property.map(|p| p.ty.clone()).unwrap_or_default(),
                description: property.map(|p| p.description.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Windowing {
        reads,
        key,
        cut: cut(&annotations.window, !annotations.key.is_empty()),
        time: TimeFacts {
            from: time.from.clone(),
            recorded: time.is_recorded(),
            lateness: time.lateness.as_deref().map(DurationFacts::of),
            idle: DurationFacts::of(time.idle_or_default()),
            idle_default: time.idle.is_none(),
            late: time.late_policy().name(),
            late_default: time.late.is_none(),
        },
        aggregates,
        retain: annotations.retain.as_deref().map(DurationFacts::of),
        gauges: annotations.gauges,
        emit: annotations.emit,
    }
}

/// How `window` cuts time, in words.
fn cut(window: &WindowKind, keyed: bool) -> CutFacts {
    let durations: Vec<(&'static str, DurationFacts)> = window
        .durations()
        .into_iter()
        .map(|(name, iso)| (name, DurationFacts::of(iso)))
        .collect();
    let text = match durations.as_slice() {
        [("size", size)] => format!(
            "tumbling windows of {}{}",
            size.text(),
            aligned(size.length)
        ),
        [("size", size), ("hop", hop)] => format!(
            "hopping windows of {} every {}{}: {}",
            size.text(),
            hop.text(),
            aligned(hop.length),
            windows_per_event(size.length, hop.length)
        ),
        [("gap", gap)] => format!(
            "{}: events less than {} apart belong to one session, which ends {} after its last event",
            if keyed {
                "sessions per key"
            } else {
                "sessions"
            },
            gap.text(),
            gap.words
                .clone()
                .unwrap_or_else(|| format!("`{}`", gap.iso))
        ),
        _ => window.name().to_owned(),
    };
    CutFacts {
        kind: window.name(),
        durations,
        text,
    }
}

/// Where fixed windows (or hops) of `length` start: multiples of it since the Unix epoch, which
/// is midnight UTC, so a length that divides a day lands on round times.
fn aligned(length: Option<Duration>) -> String {
    const DAY: u128 = 86_400_000;
    let Some(millis) = length.map(|l| l.as_millis()).filter(|&ms| ms > 0) else {
        return String::new();
    };
    let on = match millis {
        1_000 => "on the second (UTC epoch)".to_owned(),
        60_000 => "on the minute (UTC epoch)".to_owned(),
        3_600_000 => "on the hour (UTC epoch)".to_owned(),
        DAY => "on midnight (UTC epoch)".to_owned(),
        // 1970-01-01 was a Thursday.
        604_800_000 => "on the UTC epoch: weeks start on Thursdays at midnight".to_owned(),
        _ if DAY % millis == 0 => format!(
            "on multiples of {} from midnight (UTC epoch)",
            words(Duration::from_millis(millis as u64))
        ),
        _ => "on the UTC epoch (1970-01-01T00:00:00Z)".to_owned(),
    };
    format!(", aligned {on}")
}

/// How many hopping windows of `size` every `hop` hold an event.
fn windows_per_event(size: Option<Duration>, hop: Option<Duration>) -> String {
    let (Some(size), Some(hop)) = (size, hop) else {
        return "an event counts in every window that holds its time".to_owned();
    };
    let (size, hop) = (size.as_millis(), hop.as_millis());
    if hop == 0 || hop > size {
        return "an event counts in every window that holds its time".to_owned();
    }
    let fewest = size / hop;
    let plural = |n: u128| if n == 1 { "window" } else { "windows" };
    if size % hop == 0 {
        format!("an event counts in {fewest} {}", plural(fewest))
    } else {
        let most = fewest + 1;
        format!("an event counts in {fewest} or {most} {}", plural(most))
    }
}

/// A duration in words: `1 hour`, `1 day 12 hours`, `2 weeks`, `1.5 seconds`, `250 milliseconds`.
pub fn words(duration: Duration) -> String {
    const UNITS: [(u128, &str); 5] = [
        (604_800_000, "week"),
        (86_400_000, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1_000, "second"),
    ];
    let count = |n: u128, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "no time".to_owned();
    }
    if millis < 1_000 {
        return count(millis, "millisecond");
    }
    let mut parts = Vec::new();
    for (size, unit) in UNITS {
        // Weeks only when they are the whole of it: `P10D` reads better as 10 days.
        if unit == "week" && millis % size != 0 {
            continue;
        }
        let whole = millis / size;
        if unit == "second" && millis % size != 0 {
            let seconds = millis as f64 / 1_000.0;
            parts.push(format!("{seconds} seconds"));
            millis = 0;
        } else if whole > 0 {
            parts.push(count(whole, unit));
            millis %= size;
        }
    }
    if millis > 0 {
        parts.push(count(millis, "millisecond"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotations(value: serde_json::Value) -> WindowAnnotations {
        serde_json::from_value(value).unwrap()
    }

    fn field(path: &str, ty: &str) -> Field {
        Field {
            path: path.to_owned(),
            ty: ty.to_owned(),
            required: true,
            constraints: Vec::new(),
            description: format!("The {path}."),
            depth: path.matches('.').count(),
        }
    }

    #[test]
    fn durations_read_as_words() {
        let cases = [
            ("PT1H", "1 hour"),
            ("PT90M", "1 hour 30 minutes"),
            ("P1DT12H", "1 day 12 hours"),
            ("P2W", "2 weeks"),
            ("P10D", "10 days"),
            ("PT1.5S", "1.5 seconds"),
            ("PT0.25S", "250 milliseconds"),
            ("PT0S", "no time"),
        ];
        for (iso, said) in cases {
            assert_eq!(DurationFacts::of(iso).words.as_deref(), Some(said), "{iso}");
        }
        assert_eq!(DurationFacts::of("P1M").text(), "`P1M`");
    }

    #[test]
    fn cuts_read_as_words() {
        let text = |window: serde_json::Value, keyed: bool| {
            cut(&serde_json::from_value(window).unwrap(), keyed).text
        };
        assert_eq!(
            text(json!({"kind": "tumbling", "size": "PT1H"}), true),
            "tumbling windows of 1 hour (`PT1H`), aligned on the hour (UTC epoch)"
        );
        assert_eq!(
            text(
                json!({"kind": "hopping", "size": "PT1H", "hop": "PT15M"}),
                true
            ),
            "hopping windows of 1 hour (`PT1H`) every 15 minutes (`PT15M`), aligned on multiples of 15 minutes from midnight (UTC epoch): an event counts in 4 windows"
        );
        assert_eq!(
            text(
                json!({"kind": "hopping", "size": "PT10M", "hop": "PT7M"}),
                true
            ),
            "hopping windows of 10 minutes (`PT10M`) every 7 minutes (`PT7M`), aligned on the UTC epoch (1970-01-01T00:00:00Z): an event counts in 1 or 2 windows"
        );
        assert_eq!(
            text(json!({"kind": "session", "gap": "PT30M"}), true),
            "sessions per key: events less than 30 minutes (`PT30M`) apart belong to one session, which ends 30 minutes after its last event"
        );
        assert_eq!(
            text(json!({"kind": "tumbling", "size": "P7D"}), false),
            "tumbling windows of 1 week (`P7D`), aligned on the UTC epoch: weeks start on Thursdays at midnight"
        );
        // Unparsable durations are shown as written, without claims about alignment.
        assert_eq!(
            text(
                json!({"kind": "hopping", "size": "P1M", "hop": "nope"}),
                false
            ),
            "hopping windows of `P1M` every `nope`: an event counts in every window that holds its time"
        );
    }

    #[test]
    fn reads_list_each_field_once_with_its_uses_and_type() {
        let window = annotations(json!({
            "reads": ["order.paid", "order.gone"],
            "key": ["method", "$stream"],
            "window": {"kind": "tumbling", "size": "PT1H"},
            "time": {"from": "paid_at", "lateness": "PT5M"},
            "aggregates": {
                "count": {"kind": "count"},
                "total": {"kind": "sum", "field": "amount"},
                "methods": {"kind": "distinct", "field": "method"}
            }
        }));
        let paid = [field("amount", "number"), field("method", "string")];
        let schema = [field("count", "integer"), field("total", "Amount: number")];
        let facts = windowing(&window, &schema, &|t| {
            (t == "order.paid").then_some(&paid[..])
        });
        let read: Vec<(&str, Option<&str>, usize)> = facts.reads[0]
            .fields
            .iter()
            .map(|f| (f.path.as_str(), f.ty.as_deref(), f.uses.len()))
            .collect();
        assert_eq!(
            read,
            [
                ("method", Some("string"), 2),
                ("amount", Some("number"), 1),
                ("paid_at", None, 1),
            ]
        );
        assert_eq!(facts.reads[0].fields[2].uses, [FieldUse::Time]);
        assert!(facts.reads[1].fields.iter().all(|f| f.ty.is_none()));
        assert_eq!(facts.key[1].envelope, Some(ENVELOPE_FIELDS[0].1));
        assert_eq!(facts.aggregates[1].ty, "Amount: number");
        assert_eq!(facts.aggregates[2].ty, "");
        // An event's own time defaults to dropping late events; the idle time to `PT10S`.
        assert!(!facts.time.recorded);
        assert_eq!((facts.time.late, facts.time.late_default), ("drop", true));
        assert_eq!(facts.time.idle.iso, "PT10S");
        assert!(facts.time.idle_default);
        assert_eq!(facts.time.lateness.unwrap().words.unwrap(), "5 minutes");
    }
}
