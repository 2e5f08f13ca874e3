//! What an operator looks at and acts on: `GET /operations` (every projection, saga and window
//! runner: position, lag, state, open dead letters), `GET /dead-letters` and
//! `POST /dead-letters/{runner}/{id}/retry|skip`. Dead-letter work is done by the runner itself,
//! between batches ([`ProjectionRunner::run_answering`](crate::projection::ProjectionRunner::run_answering)),
//! so it needs no stopped service and no lease of its own; it is answered by the instance that
//! runs the runner.

use super::Shared;
use super::health::RunnerState;
use super::problem::Problem;
use crate::projection::{DeadLetter, ProjectionError, Released, Request};
use crate::store::EventStore;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a listing waits for a busy runner (a long batch, a slow database).
const LIST_WAIT: Duration = Duration::from_secs(2);
/// How long a retry or skip waits: the events parked behind a dead letter go through with it.
const ACT_WAIT: Duration = Duration::from_secs(30);

/// A runner's state as the routes name it, and its error.
fn state(shared: &Shared<impl EventStore>, name: &str) -> (&'static str, Option<String>) {
    match shared.health.get(name).map(|h| h.get()) {
        Some(RunnerState::Starting) | None => ("starting", None),
        Some(RunnerState::Running) => ("running", None),
        Some(RunnerState::Standby) => ("standby", None),
        Some(RunnerState::Retrying { error }) => ("retrying", Some(error)),
        Some(RunnerState::Down { error, .. }) => ("down", Some(error)),
        Some(RunnerState::Stopped) => ("stopped", None),
    }
}

/// Sends runner `name` the request `make` builds, and waits up to `wait` for its answer.
async fn ask<S: EventStore, T>(
    shared: &Shared<S>,
    name: &str,
    make: impl FnOnce(oneshot::Sender<Result<T, ProjectionError>>) -> Request,
    wait: Duration,
) -> Result<T, Problem> {
    let requests = shared.requests.get(name).ok_or_else(|| {
        Problem::not_found(format!(
            "there is no projection, saga or window `{name}`; GET /operations lists them"
        ))
    })?;
    let unavailable = |detail: String| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "runner-unavailable",
            "The runner cannot answer now",
            detail,
        )
    };
    match state(shared, name) {
        ("running", _) => {}
        ("standby", _) => {
            return Err(unavailable(format!(
                "another instance sharing the database runs `{name}`: ask that instance, or stop the service and use `dlq`"
            )));
        }
        (state, error) => {
            let why = error.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(unavailable(format!(
                "`{name}` is {state}{why}; try again once it runs"
            )));
        }
    }
    let (reply, answer) = oneshot::channel();
    requests.try_send(make(reply)).map_err(|_| {
        unavailable(format!(
            "`{name}` has too many requests waiting; try again shortly"
        ))
    })?;
    let answered = tokio::time::timeout(wait, answer).await.map_err(|_| {
        unavailable(format!(
            "`{name}` did not answer within {} s (a long batch?); try again shortly",
            wait.as_secs()
        ))
    })?;
    let result = answered.map_err(|_| unavailable(format!("`{name}` stopped before answering")))?;
    result.map_err(|error| match error {
        ProjectionError::NoDeadLetter(_) => Problem::not_found(error.to_string()),
        ProjectionError::StillFailing(_) | ProjectionError::Parked { .. } => Problem::new(
            StatusCode::CONFLICT,
            "dead-letter-not-released",
            "The dead letter is still open",
            error.to_string(),
        ),
        other => Problem::internal(other.to_string()),
    })
}

/// The runners, each with its kind.
fn runners<S>(shared: &Shared<S>) -> impl Iterator<Item = (&'static str, &str)> {
    let projections = shared
        .projections
        .keys()
        .map(|n| ("projection", n.as_str()));
    let sagas = shared.sagas.keys().map(|n| ("saga", n.as_str()));
    let windows = shared.windows.keys().map(|n| ("window", n.as_str()));
    projections.chain(sagas).chain(windows)
}

/// One runner as `/operations` shows it; `position` is `None` when its tables cannot be read.
async fn runner<S: EventStore>(
    shared: &Shared<S>,
    name: &str,
    position: Option<u64>,
) -> serde_json::Map<String, Value> {
    let (state, error) = state(shared, name);
    let letters = match state {
        "running" => ask(shared, name, Request::DeadLetters, LIST_WAIT)
            .await
            .ok()
            .map(|letters| letters.len()),
        _ => None,
    };
    let mut shown = serde_json::Map::new();
    shown.insert("name".into(), json!(name));
    shown.insert("position".into(), json!(position));
    shown.insert(
        "lag".into(),
        json!(position.map(|p| shared.head_of(name).saturating_sub(p))),
    );
    shown.insert("state".into(), json!(state));
    shown.insert("error".into(), json!(error));
    // `null` when the runner cannot say (not running here, or busy).
    shown.insert("dead_letters".into(), json!(letters));
    shown
}

/// `GET /operations`: every runner, with the service's aggregates and the store's head. The
/// runners are asked at once, so a busy one delays the answer by [`LIST_WAIT`] at most.
pub(crate) async fn overview<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
) -> Result<Response, Problem> {
    let projections = join_all(shared.projections.iter().map(|(name, query)| {
        let shared = &shared;
        async move {
            let position = query.position().await.ok().map(|a| a.position);
            Value::Object(runner(shared, name, position).await)
        }
    }))
    .await;
    let sagas = join_all(shared.sagas.iter().map(|(name, entry)| {
        let shared = &shared;
        async move {
            let instances = &entry.tables[0];
            let counted = entry
                .source
                .read(entry.name, move |rows| {
                    let mut counts = BTreeMap::new();
                    for status in ["running", "completed", "compensated", "failed"] {
                        let rows = rows.list(instances, &[("status", status)], usize::MAX)?;
                        counts.insert(status, rows.len());
                    }
                    Ok(counts)
                })
                .await
                .ok();
            let mut shown = runner(shared, name, counted.as_ref().map(|a| a.position)).await;
            shown.insert(
                "instances".into(),
                json!(counted.map(|answer| answer.value)),
            );
            Value::Object(shown)
        }
    }))
    .await;
    let windows = join_all(shared.windows.iter().map(|(name, entry)| {
        let shared = &shared;
        async move {
            let position = entry
                .source
                .read(entry.name, |_| Ok(()))
                .await
                .ok()
                .map(|a| a.position);
            let mut shown = runner(shared, name, position).await;
            let definition = &entry.definition;
            shown.insert("key".into(), json!(definition.key));
            // `{"kind": "tumbling", "size": 3600000}`, durations in ms.
            shown.insert("window".into(), json!(definition.window));
            shown.insert(
                "aggregates".into(),
                json!(
                    definition
                        .aggregates
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                ),
            );
            Value::Object(shown)
        }
    }))
    .await;
    let aggregates: Vec<Value> = shared
        .aggregates
        .iter()
        .map(|(name, commands)| json!({"name": name, "category": commands.category()}))
        .collect();
    let events: Vec<Value> = shared
        .aggregates
        .iter()
        .flat_map(|(name, commands)| {
            commands
                .event_types()
                .iter()
                .map(move |(event_type, latest)| {
                    json!({"type": event_type, "aggregate": name, "latest": latest})
                })
        })
        .collect();
    Ok(Json(json!({
        "service": shared.settings.name,
        "head": shared.store.head().position(),
        "aggregates": aggregates,
        "events": events,
        "projections": projections,
        "sagas": sagas,
        "windows": windows,
    }))
    .into_response())
}

/// A dead letter as the routes show it; `parked` when an earlier one of its stream is open.
fn shown(runner: &str, letter: &DeadLetter, parked: bool) -> Value {
    json!({
        "runner": runner,
        "id": letter.id,
        "position": letter.position,
        "stream": letter.stream,
        "type": letter.event_type,
        "version": letter.version,
        "error": letter.error,
        "attempts": letter.attempts,
        "parked": parked,
    })
}

/// `GET /dead-letters?runner=NAME`: the open dead letters of one runner, or of every runner
/// this instance runs, oldest first.
pub(crate) async fn list<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    if let Some(other) = query.keys().find(|k| *k != "runner") {
        return Err(Problem::bad_request(format!(
            "unknown parameter `{other}`: give `runner` (a projection, saga or window) or nothing"
        )));
    }
    let names: Vec<&str> = match query.get("runner") {
        Some(name) => vec![name.as_str()],
        None => runners(&shared)
            .map(|(_, name)| name)
            .filter(|name| state(&shared, name).0 == "running")
            .collect(),
    };
    let one = query.contains_key("runner");
    let asked = join_all(names.iter().map(|name| {
        let shared = &shared;
        async move {
            (
                *name,
                ask(shared, name, Request::DeadLetters, LIST_WAIT).await,
            )
        }
    }))
    .await;
    let mut shown_letters = Vec::new();
    // When every runner is listed, one that cannot answer now is named, not an error.
    let mut unavailable = Vec::new();
    for (name, letters) in asked {
        let letters = match letters {
            Ok(letters) => letters,
            Err(problem) if one => return Err(problem),
            Err(problem) => {
                unavailable.push(json!({"runner": name, "detail": problem.detail}));
                continue;
            }
        };
        let mut heads: HashMap<&str, i64> = HashMap::new();
        for letter in &letters {
            let head = heads.entry(letter.stream.as_str()).or_insert(letter.id);
            *head = (*head).min(letter.id);
        }
        shown_letters.extend(
            letters
                .iter()
                .map(|letter| shown(name, letter, heads[letter.stream.as_str()] != letter.id)),
        );
    }
    Ok(Json(json!({ "dead_letters": shown_letters, "unavailable": unavailable })).into_response())
}

/// The runner and dead letter a route names.
fn letter(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, i64), Problem> {
    let Path((name, id)) = path.map_err(super::path_problem)?;
    let id = id.parse().map_err(|_| {
        Problem::bad_request(format!(
            "`{id}` is no dead letter's id: ids are whole numbers, as GET /dead-letters lists them"
        ))
    })?;
    Ok((name, id))
}

fn released(released: Released) -> Response {
    Json(json!({
        "released": released.applied,
        "failed": released.failed.map(|(id, error)| json!({"id": id, "error": error})),
    }))
    .into_response()
}

/// `POST /dead-letters/{runner}/{id}/retry`: handles the dead letter's event again, as the store
/// holds it, then the events parked behind it.
pub(crate) async fn retry<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let (name, id) = letter(path)?;
    ask(&shared, &name, |reply| Request::Retry(id, reply), ACT_WAIT)
        .await
        .map(released)
}

/// `POST /dead-letters/{runner}/{id}/skip`: gives up on the dead letter, then applies the events
/// parked behind it.
pub(crate) async fn skip<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let (name, id) = letter(path)?;
    ask(&shared, &name, |reply| Request::Skip(id, reply), ACT_WAIT)
        .await
        .map(released)
}
