//! What a saga file cannot declare: a step that names `rules` calls that method of the saga's
//! user-owned rules (the generated `<Name>Rules` trait), which may change the state, send more
//! commands and choose the next state. The default the service writes changes nothing: the
//! step runs as declared.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A command a rules method sends, beside the step's declared ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The target aggregate (`stock`).
    pub aggregate: String,
    /// The command's name (`reserve_stock`).
    pub command: String,
    /// The target's id.
    pub to: String,
    /// The payload (checked against the command's schema when it is executed: a payload the
    /// schema refuses is a rejection).
    pub payload: Value,
}

/// A step's decision, as a rules method sees it: the event it handles, the saga's state after
/// the step's `record`, commands to send besides the declared ones, and the next state.
#[derive(Debug)]
pub struct Decision<'a, S> {
    /// The instance's id.
    pub id: &'a str,
    /// When the input was recorded, in Unix milliseconds. Decide from what the decision holds
    /// (not the clock, not another service): an input handled again after a crash must decide
    /// the same, since its commands' keys are the same.
    pub now: u64,
    /// The event the step handles, `(type, payload at its latest version)`; `None` for an
    /// outcome or a timeout.
    pub event: Option<(&'a str, &'a Value)>,
    /// The saga's state, to change at will (it must stay valid under the saga file's schema).
    pub state: S,
    /// More commands to send (each under its own idempotency key).
    pub send: Vec<Command>,
    /// The state to go to instead of the step's `then` (a state of the saga).
    pub then: Option<String>,
}

/// [`Decision`] on the state as JSON: what the saga runner hands [`Rules`].
pub type JsonDecision<'a> = Decision<'a, Map<String, Value>>;

/// A saga's rules, by method name (what generated `<Name>Saga<R>` implements over the user's
/// `<Name>Rules`).
pub trait Rules: Send + Sync {
    /// Runs rules method `method` on `decision`.
    fn decide(&self, method: &str, decision: &mut JsonDecision<'_>) -> Result<(), String>;
}

/// Rules that change nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Declared;

impl Rules for Declared {
    fn decide(&self, _: &str, _: &mut JsonDecision<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// Runs `decide` on `decision` with its state typed as `S` (what generated code calls).
pub fn decide_typed<S: Serialize + DeserializeOwned>(
    decision: &mut JsonDecision<'_>,
    decide: impl FnOnce(&mut Decision<'_, S>) -> Result<(), String>,
) -> Result<(), String> {
    let state: S = serde_json::from_value(Value::Object(decision.state.clone()))
        .map_err(|e| format!("the saga's state does not decode before the rules: {e}"))?;
    let mut typed = Decision {
        id: decision.id,
        now: decision.now,
        event: decision.event,
        state,
        send: std::mem::take(&mut decision.send),
        then: decision.then.take(),
    };
    decide(&mut typed)?;
    decision.state = match serde_json::to_value(&typed.state) {
        Ok(Value::Object(state)) => state,
        Ok(other) => return Err(format!("the rules left a state that is no object: {other}")),
        Err(e) => return Err(format!("the rules left a state that does not encode: {e}")),
    };
    decision.send = typed.send;
    decision.then = typed.then;
    Ok(())
}

/// The rules a definition runs with (none by default); compared as always equal.
#[derive(Clone)]
pub struct RulesHandle(pub Arc<dyn Rules>);

impl Default for RulesHandle {
    fn default() -> Self {
        Self(Arc::new(Declared))
    }
}

impl std::fmt::Debug for RulesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RulesHandle")
    }
}

impl PartialEq for RulesHandle {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
