//! A saga as the catalog tells it, from its annotations alone: its states and what moves them,
//! the events it reads and how each finds its instance, the commands it sends and what undoes
//! them, its timeouts and retries; and its state diagram in mermaid. Whatever the annotations
//! hold, this renders: a state that `initial` or a `then` names without declaring it is drawn
//! all the same, and a saga without states is one arrow to its initial state.

use super::fields::inline_code;
use super::text::{mermaid_label, mermaid_text, node_id};
use crate::project::saga::{self, Retry, SagaAnnotations, Step};
use serde::Serialize;

/// The attempts of a command when neither the saga nor its `send` declares a `retry` (the
/// runtime's default).
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The first wait when a `retry` gives no `interval`.
pub const DEFAULT_INTERVAL: &str = "PT1S";
/// The backoff rate when a `retry` gives none.
pub const DEFAULT_BACKOFF_RATE: f64 = 2.0;
/// The longest wait when a `retry` gives no `max_interval`.
pub const DEFAULT_MAX_INTERVAL: &str = "PT1M";

/// How a saga runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// The state a new instance is in.
    pub initial: String,
    /// The states, in the file's order.
    pub states: Vec<StateFacts>,
    /// The events it reads: those that start it first, then as the file names them.
    pub reads: Vec<ReadFacts>,
    /// The commands it sends, as the file first names them (compensations included).
    pub commands: Vec<CommandUse>,
    /// Its named durations, by name.
    pub timeouts: Vec<TimeoutFacts>,
    /// The saga's retry policy (declared or the default), then each `send` with its own.
    pub retries: Vec<RetryFacts>,
    /// Every sent command that has a compensation, in the file's order.
    pub compensations: Vec<CompensationFacts>,
}

/// One state.
#[derive(Debug, Clone, Serialize)]
pub struct StateFacts {
    /// Its name.
    pub name: String,
    /// What it means (Markdown from the file, as written).
    pub description: String,
    /// Whether a new instance starts in it.
    pub initial: bool,
    /// For an end state, the instance's final status (`completed`, `compensated`, `failed`).
    pub end: Option<&'static str>,
    /// Events it keeps for a later state instead of dropping them.
    pub defers: Vec<String>,
    /// What each input does in it: events (in the file's order), then `accepted`, `rejected`,
    /// `timeout`.
    pub steps: Vec<StepFacts>,
}

/// What one input does in a state.
#[derive(Debug, Clone, Serialize)]
pub struct StepFacts {
    /// The input.
    pub trigger: Trigger,
    /// The state properties it sets.
    pub records: Vec<String>,
    /// The commands it sends.
    pub sends: Vec<SendFacts>,
    /// Whether it undoes every step done so far.
    pub compensate: bool,
    /// The next state (none: it stays).
    pub then: Option<String>,
    /// The rules method that may decide otherwise.
    pub rules: Option<String>,
}

/// The input a step handles.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// An event, by type.
    Event {
        /// `<aggregate>.<name>`.
        event_type: String,
    },
    /// Every command sent in the state was accepted.
    Accepted,
    /// A command sent in the state was rejected.
    Rejected,
    /// The state's timeout fired.
    Timeout {
        /// The name of its duration (`after`).
        name: Option<String>,
        /// The duration as written, when `timeouts` has the name.
        duration: Option<String>,
    },
}

impl Trigger {
    /// As a transition is labelled: `order.placed`, `accepted`, `timeout payment (PT30M)`.
    pub fn label(&self) -> String {
        match self {
            Trigger::Event { event_type } => event_type.clone(),
            Trigger::Accepted => "accepted".to_owned(),
            Trigger::Rejected => "rejected".to_owned(),
            Trigger::Timeout { name, duration } => match (name, duration) {
                (Some(name), Some(duration)) => format!("timeout {name} ({duration})"),
                (Some(name), None) => format!("timeout {name}"),
                (None, _) => "timeout".to_owned(),
            },
        }
    }
}

/// A command a step sends.
#[derive(Debug, Clone, Serialize)]
pub struct SendFacts {
    /// The step's name.
    pub step: String,
    /// `<aggregate>.<command>`.
    pub command: String,
    /// The array it sends one command per item of (a template, `$event.lines`).
    pub for_each: Option<String>,
    /// The command that undoes it.
    pub compensated_by: Option<String>,
}

/// An event the saga reads.
#[derive(Debug, Clone, Serialize)]
pub struct ReadFacts {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// Whether it starts an instance when none exists for its correlation value.
    pub starts: bool,
    /// As the file writes it: `$stream` or a property of the event.
    pub correlation: Option<String>,
    /// How it finds its instance, as Markdown: `the stream's aggregate id` or `` property `x` ``.
    pub finds_by: String,
    /// States with a step for it.
    pub handled_in: Vec<String>,
    /// States that keep it for later.
    pub deferred_in: Vec<String>,
}

/// A command the saga sends, and why.
#[derive(Debug, Clone, Serialize)]
pub struct CommandUse {
    /// `<aggregate>.<command>`.
    pub key: String,
    /// The steps that send it.
    pub steps: Vec<String>,
    /// The steps it undoes, as their compensation.
    pub undoes: Vec<String>,
}

/// A named duration.
#[derive(Debug, Clone, Serialize)]
pub struct TimeoutFacts {
    /// Its name.
    pub name: String,
    /// ISO 8601, as written.
    pub duration: String,
    /// The states whose timeout waits for it (armed on entering them).
    pub armed_in: Vec<String>,
}

/// A retry policy, with the defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct RetryFacts {
    /// The `send` step it is declared on; none for the saga's own.
    pub step: Option<String>,
    /// Whether the file declares it (the saga's may be the default).
    pub declared: bool,
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry (ISO 8601).
    pub interval: String,
    /// What each wait is multiplied by.
    pub backoff_rate: f64,
    /// The longest wait (ISO 8601).
    pub max_interval: String,
}

/// A sent command and what undoes it.
#[derive(Debug, Clone, Serialize)]
pub struct CompensationFacts {
    /// The step that sends it.
    pub step: String,
    /// The state whose step sends it.
    pub state: String,
    /// What the step handles there.
    pub trigger: Trigger,
    /// The command sent.
    pub command: String,
    /// The command that undoes it.
    pub undone_by: String,
}

/// How a saga runs, from its annotations.
pub fn machine(annotations: &SagaAnnotations) -> Machine {
    let mut machine = Machine {
        initial: annotations.initial.clone(),
        ..Machine::default()
    };
    for event in &annotations.starts {
        read(&mut machine.reads, annotations, event).starts = true;
    }
    for event in annotations.correlation.keys() {
        read(&mut machine.reads, annotations, event);
    }
    for (name, state) in &annotations.states {
        let mut steps = Vec::new();
        for (event, step) in &state.on {
            push_unique(
                &mut read(&mut machine.reads, annotations, event).handled_in,
                name,
            );
            let trigger = Trigger::Event {
                event_type: event.clone(),
            };
            steps.push((trigger, step));
        }
        for event in &state.defer {
            push_unique(
                &mut read(&mut machine.reads, annotations, event).deferred_in,
                name,
            );
        }
        steps.extend(state.accepted.iter().map(|step| (Trigger::Accepted, step)));
        steps.extend(state.rejected.iter().map(|step| (Trigger::Rejected, step)));
        steps.extend(state.timeout.iter().map(|step| {
            let name = step.after.clone();
            let duration = name
                .as_ref()
                .and_then(|n| annotations.timeouts.get(n))
                .cloned();
            (Trigger::Timeout { name, duration }, step)
        }));
        let steps: Vec<StepFacts> = steps
            .into_iter()
            .map(|(trigger, step)| {
                record_sends(&mut machine, name, &trigger, step);
                step_facts(trigger, step)
            })
            .collect();
        machine.states.push(StateFacts {
            name: name.clone(),
            description: state.description.clone().unwrap_or_default(),
            initial: *name == annotations.initial,
            end: state.end.map(saga::EndStatus::name),
            defers: state.defer.clone(),
            steps,
        });
    }
    machine.timeouts = annotations
        .timeouts
        .iter()
        .map(|(name, duration)| TimeoutFacts {
            name: name.clone(),
            duration: duration.clone(),
            armed_in: annotations
                .states
                .iter()
                .filter(|(_, s)| s.timeout.as_ref().and_then(|t| t.after.as_ref()) == Some(name))
                .map(|(state, _)| state.clone())
                .collect(),
        })
        .collect();
    machine.retries.insert(
        0,
        match &annotations.retry {
            Some(retry) => retry_facts(None, retry),
            None => RetryFacts {
                step: None,
                declared: false,
                attempts: DEFAULT_ATTEMPTS,
                interval: DEFAULT_INTERVAL.to_owned(),
                backoff_rate: DEFAULT_BACKOFF_RATE,
                max_interval: DEFAULT_MAX_INTERVAL.to_owned(),
            },
        },
    );
    machine
}

/// The entry of `event` in `reads`, added when missing.
fn read<'r>(
    reads: &'r mut Vec<ReadFacts>,
    annotations: &SagaAnnotations,
    event: &str,
) -> &'r mut ReadFacts {
    let index = match reads.iter().position(|r| r.event_type == event) {
        Some(index) => index,
        None => {
            let correlation = annotations.correlation.get(event).cloned();
            let finds_by = match correlation.as_deref() {
                Some(saga::STREAM) => "the stream's aggregate id".to_owned(),
                Some(property) => format!("property {}", inline_code(property)),
                None => "nothing declared".to_owned(),
            };
            reads.push(ReadFacts {
                event_type: event.to_owned(),
                starts: false,
                correlation,
                finds_by,
                handled_in: Vec::new(),
                deferred_in: Vec::new(),
            });
            reads.len() - 1
        }
    };
    &mut reads[index]
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|existing| existing == item) {
        list.push(item.to_owned());
    }
}

fn step_facts(trigger: Trigger, step: &Step) -> StepFacts {
    StepFacts {
        trigger,
        records: step.record.keys().cloned().collect(),
        sends: step
            .send
            .iter()
            .map(|send| SendFacts {
                step: send.step.clone(),
                command: send.command.clone(),
                for_each: send.for_each.clone(),
                compensated_by: send.compensate.as_ref().map(|c| c.command.clone()),
            })
            .collect(),
        compensate: step.compensate,
        then: step.then.clone(),
        rules: step.rules.clone(),
    }
}

/// The commands, compensations and retries of a step's sends.
fn record_sends(machine: &mut Machine, state: &str, trigger: &Trigger, step: &Step) {
    for send in &step.send {
        command(&mut machine.commands, &send.command)
            .steps
            .push(send.step.clone());
        if let Some(compensation) = &send.compensate {
            command(&mut machine.commands, &compensation.command)
                .undoes
                .push(send.step.clone());
            machine.compensations.push(CompensationFacts {
                step: send.step.clone(),
                state: state.to_owned(),
                trigger: trigger.clone(),
                command: send.command.clone(),
                undone_by: compensation.command.clone(),
            });
        }
        if let Some(retry) = &send.retry {
            machine
                .retries
                .push(retry_facts(Some(send.step.clone()), retry));
        }
    }
}

fn command<'c>(commands: &'c mut Vec<CommandUse>, key: &str) -> &'c mut CommandUse {
    let index = match commands.iter().position(|c| c.key == key) {
        Some(index) => index,
        None => {
            commands.push(CommandUse {
                key: key.to_owned(),
                steps: Vec::new(),
                undoes: Vec::new(),
            });
            commands.len() - 1
        }
    };
    &mut commands[index]
}

fn retry_facts(step: Option<String>, retry: &Retry) -> RetryFacts {
    RetryFacts {
        step,
        declared: true,
        attempts: retry.attempts,
        interval: retry
            .interval
            .clone()
            .unwrap_or_else(|| DEFAULT_INTERVAL.to_owned()),
        backoff_rate: retry.backoff_rate.unwrap_or(DEFAULT_BACKOFF_RATE),
        max_interval: retry
            .max_interval
            .clone()
            .unwrap_or_else(|| DEFAULT_MAX_INTERVAL.to_owned()),
    }
}

/// The saga's state diagram (mermaid `stateDiagram-v2`): `[*]` into the initial state, a
/// transition per step that has a `then`, labelled by what it handles, each end state into `[*]`
/// labelled by its status, and a note on each state that defers events. States are declared by
/// id (`s_<name>`, letters, digits and `_`) with their names as labels.
pub fn diagram(machine: &Machine) -> String {
    let id = |name: &str| node_id("s", name);
    let mut names: Vec<&str> = machine.states.iter().map(|s| s.name.as_str()).collect();
    let named = std::iter::once(machine.initial.as_str()).chain(
        machine
            .states
            .iter()
            .flat_map(|s| s.steps.iter().filter_map(|step| step.then.as_deref())),
    );
    for name in named {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut out = String::from("stateDiagram-v2\n");
    // An empty label (`state "" as s_`) is not mermaid; the bare id stands for an empty name.
    for name in names.iter().filter(|name| !name.is_empty()) {
        out.push_str(&format!(
            "  state {} as {}\n",
            mermaid_label(name),
            id(name)
        ));
    }
    out.push_str(&format!("  [*] --> {}\n", id(&machine.initial)));
    for state in &machine.states {
        for step in &state.steps {
            if let Some(then) = &step.then {
                out.push_str(&format!(
                    "  {} --> {} : {}\n",
                    id(&state.name),
                    id(then),
                    mermaid_text(&step.trigger.label())
                ));
            }
        }
        if let Some(end) = state.end {
            out.push_str(&format!("  {} --> [*] : {end}\n", id(&state.name)));
        }
    }
    for state in machine.states.iter().filter(|s| !s.defers.is_empty()) {
        out.push_str(&format!(
            "  note right of {}\n    defers {}\n  end note\n",
            id(&state.name),
            mermaid_text(&state.defers.join(", "))
        ));
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotations(value: serde_json::Value) -> SagaAnnotations {
        serde_json::from_value(value).unwrap()
    }

    /// A saga with a timeout, a deferred event and end states.
    fn payment() -> SagaAnnotations {
        annotations(json!({
            "starts": ["order.placed"],
            "correlation": {"order.placed": "$stream", "order.paid": "order_id"},
            "initial": "reserving",
            "timeouts": {"payment": "PT30M"},
            "states": {
                "reserving": {
                    "description": "Stock is being reserved.",
                    "on": {"order.placed": {
                        "record": {"lines": "$event.lines"},
                        "send": [{
                            "step": "reserve", "command": "stock.reserve_stock", "to": "$item.sku",
                            "for_each": "$event.lines",
                            "compensate": {"command": "stock.release_stock"},
                            "retry": {"attempts": 2}
                        }]
                    }},
                    "accepted": {"then": "awaiting-payment"},
                    "rejected": {"compensate": true, "then": "failed"},
                    "defer": ["order.paid"]
                },
                "awaiting-payment": {
                    "on": {"order.paid": {"then": "paid"}},
                    "timeout": {"after": "payment", "compensate": true, "then": "failed"}
                },
                "paid": {"end": "completed"},
                "failed": {"end": "compensated"}
            }
        }))
    }

    #[test]
    fn the_diagram_draws_steps_timeouts_deferrals_and_ends() {
        assert_eq!(
            diagram(&machine(&payment())),
            [
                "stateDiagram-v2",
                "  state \"reserving\" as s_reserving",
                "  state \"awaiting-payment\" as s_awaiting_2d_payment",
                "  state \"paid\" as s_paid",
                "  state \"failed\" as s_failed",
                "  [*] --> s_reserving",
                "  s_reserving --> s_awaiting_2d_payment : accepted",
                "  s_reserving --> s_failed : rejected",
                "  s_awaiting_2d_payment --> s_paid : order.paid",
                "  s_awaiting_2d_payment --> s_failed : timeout payment (PT30M)",
                "  s_paid --> [*] : completed",
                "  s_failed --> [*] : compensated",
                "  note right of s_reserving",
                "    defers order.paid",
                "  end note",
            ]
            .join("\n")
        );
    }

    #[test]
    fn facts_say_what_reads_sends_undoes_and_waits() {
        let machine = machine(&payment());
        let reads: Vec<(&str, bool, &str)> = machine
            .reads
            .iter()
            .map(|r| (r.event_type.as_str(), r.starts, r.finds_by.as_str()))
            .collect();
        assert_eq!(
            reads,
            [
                ("order.placed", true, "the stream's aggregate id"),
                ("order.paid", false, "property `order_id`"),
            ]
        );
        assert_eq!(machine.reads[1].handled_in, ["awaiting-payment"]);
        assert_eq!(machine.reads[1].deferred_in, ["reserving"]);
        let commands: Vec<(&str, &[String], &[String])> = machine
            .commands
            .iter()
            .map(|c| (c.key.as_str(), c.steps.as_slice(), c.undoes.as_slice()))
            .collect();
        assert_eq!(
            commands,
            [
                ("stock.reserve_stock", &["reserve".to_owned()][..], &[][..]),
                ("stock.release_stock", &[][..], &["reserve".to_owned()][..]),
            ]
        );
        assert_eq!(machine.compensations.len(), 1);
        assert_eq!(machine.compensations[0].undone_by, "stock.release_stock");
        assert_eq!(machine.timeouts[0].armed_in, ["awaiting-payment"]);
        // The saga's default policy, then the step's own with the defaults filled in.
        assert_eq!(machine.retries.len(), 2);
        assert!(!machine.retries[0].declared);
        assert_eq!(machine.retries[0].attempts, DEFAULT_ATTEMPTS);
        assert_eq!(machine.retries[1].step.as_deref(), Some("reserve"));
        assert_eq!(machine.retries[1].interval, DEFAULT_INTERVAL);
        let initial = &machine.states[0];
        assert!(initial.initial && initial.end.is_none());
        assert_eq!(initial.steps[0].records, ["lines"]);
        assert_eq!(
            machine.states[1].steps[1].trigger.label(),
            "timeout payment (PT30M)"
        );
    }

    #[test]
    fn odd_sagas_still_draw() {
        // No states: one arrow into the initial state, declared so its name shows.
        let empty = annotations(json!({
            "starts": [], "correlation": {}, "initial": "start", "states": {}
        }));
        assert_eq!(
            diagram(&machine(&empty)),
            "stateDiagram-v2\n  state \"start\" as s_start\n  [*] --> s_start"
        );
        let unnamed = annotations(json!({
            "starts": [], "correlation": {}, "initial": "", "states": {}
        }));
        assert_eq!(diagram(&machine(&unnamed)), "stateDiagram-v2\n  [*] --> s_");
        // An unknown initial state, a `then` to nowhere, a timeout without a duration, and names
        // and event types that mermaid would read as syntax.
        let odd = annotations(json!({
            "starts": ["a.b"], "correlation": {}, "initial": "nowhere",
            "states": {
                "x:y": {
                    "on": {"a;b": {"then": "\"q\""}},
                    "timeout": {"after": "none", "then": "x:y"},
                    "defer": ["c#d", "e<f>"]
                },
                "z": {"timeout": {"then": "z"}}
            }
        }));
        let drawn = diagram(&machine(&odd));
        assert_eq!(
            drawn,
            [
                "stateDiagram-v2",
                "  state \"x:y\" as s_x_3a_y",
                "  state \"z\" as s_z",
                "  state \"nowhere\" as s_nowhere",
                "  state \"#quot;q#quot;\" as s__22_q_22_",
                "  [*] --> s_nowhere",
                "  s_x_3a_y --> s__22_q_22_ : a#59;b",
                "  s_x_3a_y --> s_x_3a_y : timeout none",
                "  s_z --> s_z : timeout",
                "  note right of s_x_3a_y",
                "    defers c#35;d, e#lt;f#gt;",
                "  end note",
            ]
            .join("\n")
        );
        let odd = machine(&odd);
        let reads: Vec<&str> = odd.reads.iter().map(|r| r.finds_by.as_str()).collect();
        assert_eq!(reads, ["nothing declared"; 4]);
    }
}
