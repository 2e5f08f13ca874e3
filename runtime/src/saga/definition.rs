//! A saga's definition as generated code embeds it: the saga file's `x-eventsmith`, checked by
//! `eventsmith validate`, with its durations in milliseconds.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The whole saga.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Its name (the file's).
    pub name: String,
    /// Event types that start an instance.
    pub starts: Vec<String>,
    /// Per event type: `$stream` or the property holding the instance id.
    pub correlation: BTreeMap<String, String>,
    /// The state of a new instance.
    pub initial: String,
    /// Named durations, in milliseconds.
    #[serde(default)]
    pub timeouts: BTreeMap<String, u64>,
    /// Retries of commands that fail transiently.
    #[serde(default)]
    pub retry: Retry,
    /// The states.
    pub states: IndexMap<String, StateDef>,
    /// The user's rules, which steps naming `rules` call.
    #[serde(skip)]
    pub rules: super::rules::RulesHandle,
}

/// One state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// What it means.
    #[serde(default)]
    pub description: Option<String>,
    /// Per event type, what the event does.
    #[serde(default)]
    pub on: IndexMap<String, StepDef>,
    /// Once every command sent into this state was accepted.
    #[serde(default)]
    pub accepted: Option<StepDef>,
    /// When a command sent into this state was rejected.
    #[serde(default)]
    pub rejected: Option<StepDef>,
    /// A timeout armed on entering the state.
    #[serde(default)]
    pub timeout: Option<StepDef>,
    /// Events kept for a later state.
    #[serde(default)]
    pub defer: Vec<String>,
    /// The final status of an end state.
    #[serde(default)]
    pub end: Option<Status>,
}

/// What one input does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// For a timeout, the name of its duration.
    #[serde(default)]
    pub after: Option<String>,
    /// State properties to set.
    #[serde(default)]
    pub record: IndexMap<String, Value>,
    /// Commands to send.
    #[serde(default)]
    pub send: Vec<SendDef>,
    /// Undo every step done so far.
    #[serde(default)]
    pub compensate: bool,
    /// The next state.
    #[serde(default)]
    pub then: Option<String>,
    /// The rules method that decides what cannot be declared.
    #[serde(default)]
    pub rules: Option<String>,
}

/// A command to send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendDef {
    /// The step's name.
    pub step: String,
    /// `<aggregate>.<command>`.
    pub command: String,
    /// The target's id.
    pub to: Value,
    /// One command per item of this array.
    #[serde(default)]
    pub for_each: Option<String>,
    /// The payload.
    #[serde(default)]
    pub payload: IndexMap<String, Value>,
    /// What undoes it.
    #[serde(default)]
    pub compensate: Option<CompensationDef>,
    /// Its own retries.
    #[serde(default)]
    pub retry: Option<Retry>,
}

/// The command that undoes another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompensationDef {
    /// `<aggregate>.<command>`.
    pub command: String,
    /// The target's id (default: the undone command's).
    #[serde(default)]
    pub to: Option<Value>,
    /// The payload.
    #[serde(default)]
    pub payload: IndexMap<String, Value>,
}

/// Retries of a command that fails transiently.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: u32,
    /// The first wait, in milliseconds.
    pub interval_ms: u64,
    /// What each wait is multiplied by.
    pub backoff_rate: f64,
    /// The longest wait, in milliseconds.
    pub max_interval_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 3,
            interval_ms: 1_000,
            backoff_rate: 2.0,
            max_interval_ms: 60_000,
        }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (from 1).
    pub fn wait(&self, attempt: u32) -> Duration {
        let factor = self
            .backoff_rate
            .max(1.0)
            .powi(attempt.saturating_sub(1) as i32);
        let millis = (self.interval_ms as f64 * factor).min(self.max_interval_ms as f64);
        Duration::from_millis(millis as u64)
    }
}

/// Where an instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still going, or finishing the commands it sent.
    Running,
    /// Done what it set out to do.
    Completed,
    /// Undid what it had done.
    Compensated,
    /// Cannot go on (a command failed past its retries, or a step broke).
    Failed,
}

impl Status {
    /// As in the API: `running`, `completed`, `compensated`, `failed`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Compensated => "compensated",
            Status::Failed => "failed",
        }
    }

    /// The status called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Status::Running,
            Status::Completed,
            Status::Compensated,
            Status::Failed,
        ]
        .into_iter()
        .find(|status| status.name() == name)
    }
}

impl Definition {
    /// The definition of saga `G`, with its rules.
    pub fn of<G: super::Saga>() -> Result<Self, String> {
        let mut definition = Self::parse(G::DEFINITION)?;
        definition.rules = super::rules::RulesHandle(std::sync::Arc::new(G::default()));
        Ok(definition)
    }

    /// Parses a definition generated code embeds.
    pub fn parse(json: &str) -> Result<Self, String> {
        serde_json::from_str(json).map_err(|e| format!("the saga definition does not parse: {e}"))
    }

    /// Replaces the duration of timeout `name`, or of the retries' `retry.interval` or
    /// `retry.max_interval` (a step's own: `<step>.retry.interval`); an error names what there is.
    pub fn override_timeout(&mut self, name: &str, duration: Duration) -> Result<(), String> {
        let millis = duration.as_millis().min(u64::MAX as u128) as u64;
        if let Some(slot) = self.timeouts.get_mut(name) {
            *slot = millis;
            return Ok(());
        }
        // Retries: the saga's (`retry.interval`, `retry.max_interval`), or one step's own
        // (`<step>.retry.interval`).
        let (step, field) = match name.strip_prefix("retry.") {
            Some(field) => (None, field),
            None => match name.rsplit_once(".retry.") {
                Some((step, field)) => (Some(step), field),
                None => (None, ""),
            },
        };
        let set = |retry: &mut Retry| match field {
            "interval" => retry.interval_ms = millis,
            _ => retry.max_interval_ms = millis,
        };
        if matches!(field, "interval" | "max_interval") {
            match step {
                None => {
                    set(&mut self.retry);
                    for send in self.sends_mut() {
                        if let Some(retry) = &mut send.retry {
                            set(retry);
                        }
                    }
                    return Ok(());
                }
                Some(step) => {
                    let fallback = self.retry;
                    let mut found = false;
                    for send in self.sends_mut().filter(|send| send.step == step) {
                        let mut retry = send.retry.unwrap_or(fallback);
                        set(&mut retry);
                        send.retry = Some(retry);
                        found = true;
                    }
                    if found {
                        return Ok(());
                    }
                }
            }
        }
        Err(format!(
            "saga `{}` has no timeout `{name}`; it has {}, and its retries' `retry.interval` and `retry.max_interval` (or a step's: `<step>.retry.interval`)",
            self.name,
            if self.timeouts.is_empty() {
                "none".to_owned()
            } else {
                self.timeouts
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    }

    /// Every `send` of every step.
    fn sends_mut(&mut self) -> impl Iterator<Item = &mut SendDef> {
        self.states.values_mut().flat_map(|state| {
            state
                .on
                .values_mut()
                .chain(state.accepted.as_mut())
                .chain(state.rejected.as_mut())
                .chain(state.timeout.as_mut())
                .flat_map(|step| step.send.iter_mut())
        })
    }

    /// Every event type the saga reads.
    pub fn reads(&self, event_type: &str) -> bool {
        self.correlation.contains_key(event_type)
    }
}
