//! A saga file's `x-eventsmith` (`schema/sagas/<name>.json`): a long-running process as a state
//! machine over events. The file's schema is the saga's own state; these annotations say which
//! events start it, how each event finds its instance, and per state what each event, each
//! command outcome and each timeout does: record state, send commands, compensate, move on.
//! Their JSON shape is `schema/meta/x-eventsmith.schema.json#/$defs/saga`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How an event finds its instance: the stream's aggregate id.
pub const STREAM: &str = "$stream";

/// Annotations of a saga file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaAnnotations {
    /// Event types that start an instance when none exists for their correlation value.
    pub starts: Vec<String>,
    /// Per event type the saga reads: `$stream` (the aggregate id of the event's stream) or a
    /// top-level property of the event whose value is the instance id.
    pub correlation: BTreeMap<String, String>,
    /// The state a new instance is in; it handles the start event.
    pub initial: String,
    /// Named durations (ISO 8601, like `PT30M`) that states wait for.
    #[serde(default)]
    pub timeouts: BTreeMap<String, String>,
    /// How commands that fail transiently are retried, unless a `send` says otherwise.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// The states, in the order the file gives them.
    pub states: IndexMap<String, State>,
    /// Teams that own the saga.
    #[serde(default)]
    pub owners: Vec<String>,
}

/// One state of the saga.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// What the state means, for the catalog.
    #[serde(default)]
    pub description: Option<String>,
    /// What each event does in this state, by event type.
    #[serde(default)]
    pub on: IndexMap<String, Step>,
    /// What happens once every command sent in this state has been accepted.
    #[serde(default)]
    pub accepted: Option<Step>,
    /// What happens when a command sent in this state is rejected.
    #[serde(default)]
    pub rejected: Option<Step>,
    /// A timeout armed on entering the state, cancelled on leaving it.
    #[serde(default)]
    pub timeout: Option<Step>,
    /// Events kept for a later state rather than dropped when this state does not handle them.
    #[serde(default)]
    pub defer: Vec<String>,
    /// An end state: the instance's final status.
    #[serde(default)]
    pub end: Option<EndStatus>,
}

/// What one input does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// For a timeout: the name of its duration in `timeouts`.
    #[serde(default)]
    pub after: Option<String>,
    /// State properties to set, each from a template.
    #[serde(default)]
    pub record: IndexMap<String, Value>,
    /// Commands to send.
    #[serde(default)]
    pub send: Vec<Send>,
    /// Undo every step done so far (their `compensate` commands, newest first).
    #[serde(default)]
    pub compensate: bool,
    /// The next state (none: stay).
    #[serde(default)]
    pub then: Option<String>,
    /// A method of the saga's user-owned rules that decides what cannot be declared: it may
    /// change the state, send more commands and choose the next state.
    #[serde(default)]
    pub rules: Option<String>,
}

/// A command the saga sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// The step's name, unique in the saga: it names idempotency keys and history entries.
    pub step: String,
    /// `<aggregate>.<command>`.
    pub command: String,
    /// The target aggregate's id (a template).
    pub to: Value,
    /// One command per item of this array (`$event.lines`); `$item` is the item.
    #[serde(default)]
    pub for_each: Option<String>,
    /// The command's payload: an object of templates.
    #[serde(default)]
    pub payload: IndexMap<String, Value>,
    /// What undoes this command once it was accepted.
    #[serde(default)]
    pub compensate: Option<Compensation>,
    /// Retries for this command, instead of the saga's.
    #[serde(default)]
    pub retry: Option<Retry>,
}

/// The command that undoes a sent command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compensation {
    /// `<aggregate>.<command>`.
    pub command: String,
    /// The target's id (default: the undone command's).
    #[serde(default)]
    pub to: Option<Value>,
    /// The payload, from the same templates as the undone command's.
    #[serde(default)]
    pub payload: IndexMap<String, Value>,
}

/// Retries of a command that fails transiently (the store was busy, the service overloaded), in
/// the spirit of AWS Step Functions' `Retry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry (ISO 8601).
    #[serde(default)]
    pub interval: Option<String>,
    /// What each wait is multiplied by.
    #[serde(default)]
    pub backoff_rate: Option<f64>,
    /// The longest wait (ISO 8601).
    #[serde(default)]
    pub max_interval: Option<String>,
}

/// How an instance ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    /// It did what it set out to do.
    Completed,
    /// It undid what it had done.
    Compensated,
    /// It could not go on.
    Failed,
}

impl EndStatus {
    /// As written in the file.
    pub fn name(self) -> &'static str {
        match self {
            EndStatus::Completed => "completed",
            EndStatus::Compensated => "compensated",
            EndStatus::Failed => "failed",
        }
    }
}

impl State {
    /// Every step of the state with where it sits under the state (`on/order.placed`, `timeout`).
    pub fn steps(&self) -> impl Iterator<Item = (String, &Step)> {
        let on = self
            .on
            .iter()
            .map(|(event, step)| (format!("on/{}", crate::text::pointer::escape(event)), step));
        let outcomes = [
            ("accepted", &self.accepted),
            ("rejected", &self.rejected),
            ("timeout", &self.timeout),
        ]
        .into_iter()
        .filter_map(|(name, step)| step.as_ref().map(|step| (name.to_owned(), step)));
        on.chain(outcomes)
    }
}

/// Where a template reads a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `$event.<path>`: the event being handled (its latest version).
    Event,
    /// `$state.<path>`: the saga's state before the step.
    State,
    /// `$item.<path>`: the item of `for_each`.
    Item,
    /// `$saga.id`: the instance id.
    SagaId,
}

/// A parsed `$...` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    /// What it reads.
    pub source: Source,
    /// Property names (or array indexes) below it.
    pub path: Vec<String>,
}

/// A template string: `None` for a literal (`$$` escapes a leading `$`), else its expression or
/// why it is not one.
pub fn expression(text: &str) -> Option<Result<Expression, String>> {
    if !text.starts_with('$') || text.starts_with("$$") {
        return None;
    }
    let mut parts = text[1..].split('.');
    let head = parts.next().unwrap_or_default();
    let path: Vec<String> = parts.map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Some(Err(format!("`{text}` has an empty name between dots")));
    }
    let source = match head {
        "event" => Source::Event,
        "state" => Source::State,
        "item" => Source::Item,
        "saga" if path == ["id"] => {
            return Some(Ok(Expression {
                source: Source::SagaId,
                path: Vec::new(),
            }));
        }
        "saga" => return Some(Err(format!("`{text}`: the saga offers only `$saga.id`"))),
        _ => {
            return Some(Err(format!(
                "`{text}` reads `${head}`, which is not a source: write `$event.<field>`, `$state.<field>`, `$item.<field>` or `$saga.id` (`$$` for a literal `$`)"
            )));
        }
    };
    Some(Ok(Expression { source, path }))
}

/// Every expression of a template with the JSON pointer below the template where it sits.
pub fn expressions(template: &Value) -> Vec<(String, Result<Expression, String>)> {
    fn walk(value: &Value, at: String, found: &mut Vec<(String, Result<Expression, String>)>) {
        match value {
            Value::String(text) => {
                if let Some(parsed) = expression(text) {
                    found.push((at, parsed));
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(
                        item,
                        crate::text::pointer::push(&at, &index.to_string()),
                        found,
                    );
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(item, crate::text::pointer::push(&at, key), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(template, String::new(), &mut found);
    found
}

/// An ISO 8601 duration of weeks, days, hours, minutes and seconds (`PT30M`, `P1DT12H`,
/// `PT0.5S`). Years and months are refused: their length depends on the calendar.
pub fn duration(text: &str) -> Result<Duration, String> {
    let refuse = |why: &str| {
        Err(format!(
            "`{text}` is not an ISO 8601 duration: {why}; write e.g. `PT30M`, `PT2S`, `P1DT12H`"
        ))
    };
    let Some(rest) = text.strip_prefix('P') else {
        return refuse("it does not start with `P`");
    };
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return refuse("a `T` is followed by no time"),
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return refuse("it gives no amount");
    }
    let mut seconds = 0f64;
    /// Units and their seconds, in the order they must come.
    type Units = &'static [(char, f64)];
    let parts: [(&str, bool, Units); 2] = [
        (date, true, &[('W', 604_800.0), ('D', 86_400.0)]),
        (
            time.unwrap_or(""),
            false,
            &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)],
        ),
    ];
    for (part, is_date, units) in parts {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            if c == 'Y' || (c == 'M' && is_date) {
                return refuse("years and months have no fixed length; write weeks or days");
            }
            let Some(position) = units[next_unit..].iter().position(|(unit, _)| *unit == c) else {
                return refuse(&format!("`{c}` is not a unit here, or comes out of order"));
            };
            let factor = units[next_unit + position].1;
            next_unit += position + 1;
            let Ok(amount) = number.parse::<f64>() else {
                return refuse(&format!("`{c}` has no number before it"));
            };
            if number.contains('.') && c != 'S' {
                return refuse("only seconds take a fraction");
            }
            seconds += amount * factor;
            number.clear();
        }
        if !number.is_empty() {
            return refuse("a number has no unit after it");
        }
    }
    if seconds > 100.0 * 365.0 * 86_400.0 {
        return refuse("it is longer than a century");
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_iso_8601() {
        assert_eq!(duration("PT30M"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("PT2S"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("PT0.5S"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("P1DT12H"), Ok(Duration::from_secs(129_600)));
        assert_eq!(duration("P2W"), Ok(Duration::from_secs(1_209_600)));
        for bad in [
            "30M", "P", "PT", "P1M", "P1Y", "PT1.5M", "PT5", "PTS", "PT1S2M", "P1H",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expressions_and_literals() {
        assert_eq!(expression("out of stock"), None);
        assert_eq!(expression("$$5"), None);
        assert_eq!(
            expression("$item.sku"),
            Some(Ok(Expression {
                source: Source::Item,
                path: vec!["sku".into()]
            }))
        );
        assert_eq!(
            expression("$saga.id"),
            Some(Ok(Expression {
                source: Source::SagaId,
                path: vec![]
            }))
        );
        assert!(matches!(expression("$order.id"), Some(Err(_))));
        assert!(matches!(expression("$event..x"), Some(Err(_))));
        let found = expressions(&serde_json::json!({"a": "$event.x", "b": ["$state.y", 3]}));
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].0, "/b/0");
    }
}
