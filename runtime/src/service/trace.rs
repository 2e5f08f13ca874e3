//! `GET /correlations/{id}`: everything one request caused, as a causation tree. A command sent
//! over HTTP is the root; the events it appended are its children; a saga's commands are
//! children of the event they answer (the `cause` in their events' metadata), and their events
//! theirs. Commands are not stored: a command is known by its events, which carry its id as their
//! causation id (`command:<aggregate>/<id>/<name>` over HTTP, the saga's key for a saga's).

use super::Shared;
use super::commands;
use super::problem::Problem;
use super::sagas::CAUSE;
use crate::store::{Envelope, EventStore};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The most events one trace shows.
const MOST: usize = 1_000;

/// A command, as its events make it known.
struct Command<'e> {
    id: &'e str,
    /// Its events, by position.
    events: Vec<&'e Envelope>,
    /// The event it answers (a saga's command).
    cause: Option<&'e str>,
}

impl Command<'_> {
    /// `order.place_order` for a command sent over HTTP; for a saga's, the command its outcome
    /// names, else the step in its key.
    fn shown(&self, outcomes: &HashMap<String, Value>) -> Value {
        let first = self
            .events
            .first()
            .map(|e| e.to_cloudevent()["time"].clone());
        let (name, origin, saga) = match self.id.strip_prefix("command:") {
            Some(path) => {
                // `<aggregate>/<id>/<name>#<request>`; the id may hold `/` or `#`.
                let path = path.rsplit_once('#').map_or(path, |(path, _)| path);
                let mut parts = path.split('/');
                let aggregate = parts.next().unwrap_or_default();
                let command = parts.next_back().unwrap_or_default();
                (format!("{aggregate}.{command}"), "http", None)
            }
            None => {
                // saga:<saga>:<instance>:<step number>:<step>[...]; the instance may hold `:`.
                let saga = self.id.split(':').nth(1).map(str::to_owned);
                let step = self.id.rsplit(':').next().unwrap_or(self.id);
                let name = outcomes
                    .get(self.id)
                    .and_then(|outcome| outcome.get("command"))
                    .and_then(Value::as_str)
                    .map_or_else(|| step.to_owned(), str::to_owned);
                (name, "saga", saga)
            }
        };
        json!({
            "kind": "command",
            "id": self.id,
            "name": name,
            "origin": origin,
            "saga": saga,
            "at": first,
        })
    }
}

/// `GET /correlations/{id}`: the events of correlation id `id` (by position) and their tree.
pub(crate) async fn trace<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(id) = path.map_err(super::path_problem)?;
    let events = shared
        .store
        .read_correlated(&id, 1, MOST + 1)
        .await
        .map_err(commands::store_problem)?;
    if events.is_empty() {
        return Err(Problem::not_found(format!(
            "no event has correlation id `{id}`"
        )));
    }
    let truncated = events.len() > MOST;
    let events = &events[..events.len().min(MOST)];
    Ok(Json(json!({
        "correlation_id": id,
        "events": events.iter().map(Envelope::to_cloudevent).collect::<Vec<_>>(),
        "trace": tree(events),
        "truncated": truncated,
    }))
    .into_response())
}

/// Whether a causation id names a command (rather than an event or a timer).
fn is_command(causation: &str) -> bool {
    causation.starts_with("command:") || causation.starts_with("saga:")
}

/// The causation tree of `events` (by position): roots first by position.
fn tree(events: &[Envelope]) -> Vec<Value> {
    let texts: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    let by_id: HashMap<&str, &Envelope> = texts.iter().map(String::as_str).zip(events).collect();
    // A saga's outcome event names the command it answers; the trace names the command by it.
    let outcomes: HashMap<String, Value> = events
        .iter()
        .filter(|e| e.event_type == crate::saga::OUTCOME)
        .filter_map(|e| {
            let data: Value = serde_json::from_slice(&e.data).ok()?;
            Some((data.get("key")?.as_str()?.to_owned(), data))
        })
        .collect();
    let mut commands: BTreeMap<&str, Command> = BTreeMap::new();
    // What each event caused: commands (a saga's), or events directly.
    let mut caused: HashMap<&str, Vec<Node>> = HashMap::new();
    let mut roots: Vec<(u64, Node)> = Vec::new();
    for event in events {
        // A saga's timeout or retry is an event of its own, not a command's.
        let own = [crate::saga::TIMEOUT, crate::saga::RETRY].contains(&event.event_type.as_str());
        match event.metadata.causation_id.as_deref() {
            Some(command) if !own && is_command(command) => {
                let entry = commands.entry(command).or_insert_with(|| Command {
                    id: command,
                    events: Vec::new(),
                    cause: None,
                });
                entry.events.push(event);
                if entry.cause.is_none() {
                    entry.cause = event
                        .metadata
                        .extra
                        .get(CAUSE)
                        .and_then(Value::as_str)
                        .filter(|cause| by_id.contains_key(cause));
                }
            }
            Some(parent) if by_id.contains_key(parent) => {
                caused.entry(parent).or_default().push(Node::Event(event));
            }
            _ => roots.push((event.position, Node::Event(event))),
        }
    }
    for command in commands.values() {
        match command.cause {
            Some(event) => caused
                .entry(event)
                .or_default()
                .push(Node::Command(command.id)),
            None => {
                let first = command.events.first().map_or(0, |e| e.position);
                roots.push((first, Node::Command(command.id)));
            }
        }
    }
    roots.sort_by_key(|(position, _)| *position);
    let built = Built {
        commands: &commands,
        caused: &caused,
        outcomes: &outcomes,
    };
    roots
        .into_iter()
        .map(|(_, node)| built.node(&node, 0))
        .collect()
}

/// A node of the tree before it is shown.
#[derive(Clone, Copy)]
enum Node<'e> {
    Event(&'e Envelope),
    Command(&'e str),
}

impl Node<'_> {
    fn position(&self, commands: &BTreeMap<&str, Command>) -> u64 {
        match self {
            Node::Event(event) => event.position,
            Node::Command(id) => commands
                .get(id)
                .and_then(|c| c.events.first())
                .map_or(0, |e| e.position),
        }
    }
}

struct Built<'m, 'e> {
    commands: &'m BTreeMap<&'e str, Command<'e>>,
    caused: &'m HashMap<&'e str, Vec<Node<'e>>>,
    outcomes: &'m HashMap<String, Value>,
}

impl Built<'_, '_> {
    /// The node with its children (by position); `depth` bounds a cycle, which the service's
    /// own metadata never makes.
    fn node(&self, node: &Node, depth: usize) -> Value {
        const DEEPEST: usize = 64;
        let children = |nodes: Vec<Node>| -> Value {
            if depth >= DEEPEST {
                return Value::Array(Vec::new());
            }
            let mut nodes = nodes;
            nodes.sort_by_key(|n| n.position(self.commands));
            Value::Array(nodes.iter().map(|n| self.node(n, depth + 1)).collect())
        };
        match node {
            Node::Event(event) => {
                let id = event.id.to_string();
                let caused = self.caused.get(id.as_str()).cloned().unwrap_or_default();
                json!({"kind": "event", "event": event.to_cloudevent(), "children": children(caused)})
            }
            Node::Command(id) => {
                let Some(command) = self.commands.get(id) else {
                    return Value::Null;
                };
                let mut shown = command.shown(self.outcomes);
                let events = command.events.iter().map(|e| Node::Event(e)).collect();
                shown["children"] = children(events);
                shown
            }
        }
    }
}
