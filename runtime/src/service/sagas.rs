//! Sagas in the service: each runs as a projection (see [`crate::saga`]); beside it a
//! dispatcher sends the commands its outbox holds and a timer fires its due timeouts, both
//! answering through events of the saga's stream. `GET /sagas/{name}` lists instances,
//! `GET /sagas/{name}/{id}` shows one, `POST /sagas/{name}/{id}/retry` retries a failed one.

use super::Shared;
use super::commands::Commands;
use super::problem::Problem;
use super::queries::{Answer, Source};
use crate::repository::Execute;
use crate::saga::{self, Instance, Outcome, Outgoing, Status, Timer};
use crate::store::{
    Direction, EventStore, ExpectedVersion, IdempotencyKey, Metadata, NewEvent, StoreError,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A saga the service runs: where its tables are read, and what it was told to run.
pub(crate) struct SagaEntry {
    pub name: &'static str,
    pub source: Source,
    pub tables: &'static [crate::read_model::TableSpec],
    pub signals: Arc<Signals>,
}

/// What the runner tells the dispatcher and the timer.
pub(crate) struct Signals {
    /// The last position that recorded commands.
    commands: tokio::sync::watch::Sender<u64>,
    /// Timers armed, with their instance.
    armed: Mutex<Vec<(Timer, String)>>,
    armed_wake: tokio::sync::Notify,
}

impl Signals {
    pub(crate) fn new() -> Self {
        Self {
            commands: tokio::sync::watch::Sender::new(0),
            armed: Mutex::new(Vec::new()),
            armed_wake: tokio::sync::Notify::new(),
        }
    }
}

impl saga::Notify for Signals {
    fn commands(&self, position: u64) {
        self.commands.send_if_modified(|last| {
            let newer = position > *last;
            *last = (*last).max(position);
            newer
        });
    }

    fn armed(&self, timer: &Timer, instance: &str) {
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((timer.clone(), instance.to_owned()));
        self.armed_wake.notify_one();
    }
}

/// How long the dispatcher waits for the runner to commit commands it was told about.
const COMMIT_PATIENCE: Duration = Duration::from_secs(2);
/// How often the dispatcher and the timer read their tables even when told nothing (what
/// another instance of the service recorded, or a send that failed).
const POLL: Duration = Duration::from_secs(1);
/// How often the timer reads every armed timeout again.
const RELOAD: Duration = Duration::from_secs(30);
/// Rows read from the outbox at once.
const PAGE: usize = 10_000;
/// Commands on their way at once, per saga.
const SENDING: usize = 32;

/// Whether this instance of the service runs the saga (another one sharing the database may):
/// only that one sends its commands and fires its timeouts.
fn runs<S>(shared: &Shared<S>, entry: &SagaEntry) -> bool {
    // Running: the lease is held and a batch went through. (A runner that failed gave its
    // lease up before its pause, and one retrying an event may lose it.)
    matches!(
        shared.health.get(entry.name).map(|h| h.get()),
        Some(super::health::RunnerState::Running)
    )
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Sends the commands of `entry`'s outbox and fires its due timeouts until `stop`.
pub(crate) async fn run<S: EventStore + Clone + Sync + 'static>(
    shared: Arc<Shared<S>>,
    entry: Arc<SagaEntry>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let dispatcher = dispatch(Arc::clone(&shared), Arc::clone(&entry));
    let timer = fire(shared, entry);
    tokio::select! {
        () = dispatcher => {}
        () = timer => {}
        _ = stop.wait_for(|stop| *stop) => {}
    }
}

/// Reads the outbox when told (once the runner committed) and every [`POLL`], and sends each
/// command not already on its way.
async fn dispatch<S: EventStore + Clone + Sync + 'static>(
    shared: Arc<Shared<S>>,
    entry: Arc<SagaEntry>,
) {
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sending = Arc::new(tokio::sync::Semaphore::new(SENDING));
    let mut told = entry.signals.commands.subscribe();
    let outbox = &entry.tables[1];
    loop {
        let wanted = *told.borrow_and_update();
        if !runs(&shared, &entry) {
            tokio::time::sleep(POLL).await;
            continue;
        }
        let started = std::time::Instant::now();
        let rows = loop {
            match entry
                .source
                .read(entry.name, move |rows| rows.list(outbox, &[], PAGE))
                .await
            {
                Ok(Answer { value, position })
                    if position >= wanted || started.elapsed() > COMMIT_PATIENCE =>
                {
                    break Some(value);
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(problem) => {
                    tracing::warn!(saga = entry.name, detail = ?problem.body(), "the saga's outbox cannot be read");
                    break None;
                }
            }
        };
        for row in rows.unwrap_or_default() {
            let Some(command) = row
                .get("command")
                .cloned()
                .and_then(|c| serde_json::from_value::<Outgoing>(c).ok())
            else {
                continue;
            };
            let instance = row
                .get("instance")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if !lock(&busy).insert(command.key.clone()) {
                continue;
            }
            let (shared, entry, busy) =
                (Arc::clone(&shared), Arc::clone(&entry), Arc::clone(&busy));
            let Ok(permit) = Arc::clone(&sending).acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                let key = command.key.clone();
                send(&shared, &entry, &instance, command).await;
                drop(permit);
                // Still in the outbox until the runner takes the outcome in: a later read
                // skips it while this set holds it.
                tokio::time::sleep(COMMIT_PATIENCE).await;
                lock(&busy).remove(&key);
            });
        }
        tokio::select! {
            _ = told.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends one command (with its retries) and appends its outcome to the instance's stream,
/// unless an earlier run of the service did.
async fn send<S: EventStore + Clone + Sync + 'static>(
    shared: &Shared<S>,
    entry: &SagaEntry,
    instance: &str,
    command: Outgoing,
) {
    let stream = saga::stream(entry.name, instance);
    match answered(&shared.store, &stream, &command.key).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(saga = entry.name, %error, "the saga's stream cannot be read; the command waits");
            return;
        }
    }
    let outcome = execute(shared, entry, instance, &command).await;
    let mut data = json!({
        "saga": entry.name,
        "instance": instance,
        "key": command.key,
        "command": format!("{}.{}", command.aggregate, command.command),
        "to": command.to,
    });
    if let (Value::Object(data), Value::Object(outcome)) = (
        &mut data,
        serde_json::to_value(&outcome).unwrap_or_default(),
    ) {
        data.extend(outcome);
    }
    let event = NewEvent {
        event_type: saga::OUTCOME.to_owned(),
        version: 1,
        data: serde_json::to_vec(&data).unwrap_or_default(),
        metadata: metadata(instance, &command),
    };
    let key = IdempotencyKey::new(format!("{}/outcome", command.key), command.key.as_bytes());
    if let Err(error) = shared
        .store
        .append(&stream, ExpectedVersion::Any, vec![event], Some(&key))
        .await
    {
        tracing::warn!(saga = entry.name, key = %command.key, %error, "the outcome cannot be recorded; the command is sent again later");
    }
}

/// What a command's events and its outcome carry: the correlation id of the event it answers (the
/// instance's id when it answers none), the command's key as their cause, and the event's id
/// under `cause`, so a correlation trace goes from the event to the command to its events.
fn metadata(instance: &str, command: &Outgoing) -> Metadata {
    let cause = command.cause.as_ref();
    Metadata {
        correlation_id: Some(
            cause
                .and_then(|c| c.correlation_id.clone())
                .unwrap_or_else(|| instance.to_owned()),
        ),
        causation_id: Some(command.key.clone()),
        extra: cause
            .map(|c| (CAUSE.to_owned(), Value::String(c.event.clone())))
            .into_iter()
            .collect(),
    }
}

/// The metadata entry naming the event a saga's command answers.
pub(crate) const CAUSE: &str = "cause";

/// Whether the instance's stream already holds the outcome of `key`.
async fn answered<S: EventStore>(store: &S, stream: &str, key: &str) -> Result<bool, StoreError> {
    let mut from = 1;
    loop {
        let page = store
            .read_stream(stream, from, Direction::Forwards, 256)
            .await?;
        if page.iter().any(|event| {
            event.event_type == saga::OUTCOME
                && serde_json::from_slice::<Value>(&event.data).is_ok_and(|data| data["key"] == key)
        }) {
            return Ok(true);
        }
        match page.last() {
            Some(last) if page.len() == 256 => from = last.stream_version + 1,
            _ => return Ok(false),
        }
    }
}

/// Executes `command` in the service itself, retrying what fails transiently.
async fn execute<S: EventStore + Clone + Sync + 'static>(
    shared: &Shared<S>,
    entry: &SagaEntry,
    instance: &str,
    command: &Outgoing,
) -> Outcome {
    let Some(aggregate) = shared.aggregates.get(&command.aggregate) else {
        return Outcome::Rejected(format!(
            "the service has no aggregate `{}`",
            command.aggregate
        ));
    };
    let body = serde_json::to_vec(&command.payload).unwrap_or_default();
    let mut request = serde_json::to_vec(&json!([command.aggregate, command.to, command.command]))
        .unwrap_or_default();
    request.extend_from_slice(&body);
    let attempts = command.retry.attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let options = Execute {
            expected_version: None,
            idempotency_key: Some(IdempotencyKey::new(command.key.clone(), &request)),
            metadata: metadata(instance, command),
        };
        let failure = match Commands::execute(
            aggregate.as_ref(),
            &command.to,
            &command.command,
            &body,
            options,
        )
        .await
        {
            Ok(_) => return Outcome::Accepted,
            Err(problem) if !transient(&problem) => {
                return Outcome::Rejected(problem.detail.clone());
            }
            Err(problem) => problem.detail.clone(),
        };
        if attempt >= attempts {
            return Outcome::Failed(format!("{attempt} attempt(s): {failure}"));
        }
        metrics::counter!("eventsmith_saga_command_retries_total", "saga" => entry.name)
            .increment(1);
        let wait = command.retry.wait(attempt);
        tracing::warn!(saga = entry.name, key = %command.key, %failure, ?wait, "a command failed transiently; retrying it");
        tokio::time::sleep(wait).await;
    }
}

/// Whether a command's answer may change by trying again: the store busy or down, or the
/// aggregate changing under every retry (409 `concurrent-change`, not a rule's refusal).
fn transient(problem: &Problem) -> bool {
    let status = problem.status;
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || problem.kind == "concurrent-change"
}

/// Fires due timeouts: every armed one is read at start and every [`RELOAD`], and the runner
/// tells of new ones; each fires by an event with the timer's key as idempotency key, so it
/// fires once whoever fires it.
async fn fire<S: EventStore + Clone + Sync + 'static>(
    shared: Arc<Shared<S>>,
    entry: Arc<SagaEntry>,
) {
    let timeouts = &entry.tables[2];
    // By due time: the timer's key, its instance, and when this task learned of it.
    let mut due: BTreeMap<(u64, String), (String, std::time::Instant)> = BTreeMap::new();
    let mut reloaded: Option<std::time::Instant> = None;
    let mut previous: Option<std::time::Instant> = None;
    loop {
        if !runs(&shared, &entry) {
            // Another instance fires them; read them all again when this one takes over.
            reloaded = None;
            tokio::time::sleep(POLL).await;
            continue;
        }
        if reloaded.is_none_or(|at| at.elapsed() > RELOAD) {
            let reading = std::time::Instant::now();
            match entry
                .source
                .read(entry.name, move |rows| rows.list(timeouts, &[], usize::MAX))
                .await
            {
                Ok(Answer { value, .. }) => {
                    // What the table holds, and what the runner told of since the read began
                    // (committed after it, perhaps); cancelled ones are gone from both.
                    // (The runner tells before its transaction commits: what it told since the
                    // read before this one stays one more round.)
                    let since = previous.unwrap_or(reading);
                    due.retain(|_, (_, learned)| *learned > since);
                    previous = Some(reading);
                    for row in value {
                        let (Some(key), Some(instance), Some(at)) = (
                            row.get("key").and_then(Value::as_str),
                            row.get("instance").and_then(Value::as_str),
                            row.get("due").and_then(Value::as_u64),
                        ) else {
                            continue;
                        };
                        due.insert((at, key.to_owned()), (instance.to_owned(), reading));
                    }
                    reloaded = Some(reading);
                }
                Err(problem) => {
                    tracing::warn!(saga = entry.name, detail = ?problem.body(), "the saga's timeouts cannot be read")
                }
            }
        }
        for (timer, instance) in lock(&entry.signals.armed).drain(..) {
            due.insert(
                (timer.due, timer.key),
                (instance, std::time::Instant::now()),
            );
        }
        let now = unix_millis();
        while let Some(((at, key), instance)) = due
            .first_key_value()
            .map(|(k, (instance, _))| (k.clone(), instance.clone()))
        {
            if at > now {
                break;
            }
            let event = NewEvent {
                event_type: saga::TIMEOUT.to_owned(),
                version: 1,
                data: serde_json::to_vec(
                    &json!({"saga": entry.name, "instance": instance, "key": key}),
                )
                .unwrap_or_default(),
                metadata: Metadata {
                    correlation_id: Some(instance.clone()),
                    causation_id: Some(key.clone()),
                    ..Metadata::default()
                },
            };
            let idempotency = IdempotencyKey::new(key.clone(), key.as_bytes());
            match shared
                .store
                .append(
                    &saga::stream(entry.name, &instance),
                    ExpectedVersion::Any,
                    vec![event],
                    Some(&idempotency),
                )
                .await
            {
                Ok(_) => {
                    due.remove(&(at, key));
                }
                Err(error) => {
                    tracing::warn!(saga = entry.name, %key, %error, "a due timeout cannot be recorded; trying again");
                    break;
                }
            }
        }
        let next = due
            .first_key_value()
            .map(|((at, _), _)| Duration::from_millis(at.saturating_sub(unix_millis())));
        let wait = next.unwrap_or(POLL).min(POLL);
        tokio::select! {
            () = entry.signals.armed_wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

fn entry<S>(shared: &Shared<S>, name: &str) -> Result<Arc<SagaEntry>, Problem> {
    shared.sagas.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = shared.sagas.keys().map(String::as_str).collect();
        Problem::not_found(format!(
            "there is no saga `{name}`; the sagas are: {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}

fn time(millis: u64) -> Value {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    at.map_or(Value::Null, Value::String)
}

/// `GET /sagas/{name}?status=...&limit=...`: instances, newest first.
pub(crate) async fn list<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let entry = entry(&shared, &name)?;
    let mut filters = Vec::new();
    for (key, value) in &query {
        match key.as_str() {
            "status" if Status::from_name(value).is_some() => {
                filters.push(("status".to_owned(), value.clone()))
            }
            "status" => {
                return Err(Problem::bad_request(format!(
                    "status `{value}` is none of running, completed, compensated, failed"
                )));
            }
            "state" => filters.push(("state".to_owned(), value.clone())),
            "limit" => {}
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown parameter `{other}`: filter by `status` or `state`, and give a `limit`"
                )));
            }
        }
    }
    let limit = match query.get("limit") {
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| Problem::bad_request("`limit` is a number from 1 to 1000"))?,
        None => 100,
    };
    let instances = &entry.tables[0];
    let answer = entry
        .source
        .read(entry.name, move |rows| {
            let filters: Vec<(&str, &str)> = filters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            rows.list(instances, &filters, usize::MAX)
        })
        .await?;
    let mut rows = answer.value;
    rows.sort_by_key(|row| {
        std::cmp::Reverse(
            row.get("updated")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
        )
    });
    let listed: Vec<Value> = rows
        .into_iter()
        .take(limit)
        .map(|row| json!({"id": row["id"], "status": row["status"], "state": row["state"], "updated": time(row["updated"].as_u64().unwrap_or_default())}))
        .collect();
    Ok(
        Json(json!({"saga": name, "instances": listed, "position": answer.position}))
            .into_response(),
    )
}

/// `GET /sagas/{name}/{id}`: one instance, its state, status, pending commands and history.
pub(crate) async fn show<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let entry = entry(&shared, &name)?;
    let instances = &entry.tables[0];
    let key = id.clone();
    let answer = entry
        .source
        .read(entry.name, move |rows| rows.get(instances, &key))
        .await?;
    let Some(row) = answer.value else {
        return Err(Problem::not_found(format!(
            "saga `{name}` has no instance `{id}`"
        )));
    };
    let instance: Instance =
        serde_json::from_value(row.get("instance").cloned().unwrap_or_default())
            .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Json(describe(&entry, &instance, answer.position)).into_response())
}

fn describe(entry: &SagaEntry, instance: &Instance, position: u64) -> Value {
    let history: Vec<Value> = instance
        .history
        .iter()
        .map(|h| json!({"at": time(h.at), "input": h.input, "did": h.did, "state": h.state, "sent": h.sent}))
        .collect();
    let pending: Vec<Value> = instance
        .pending
        .iter()
        .map(|p| json!({"key": p.command.key, "step": p.command.step, "command": format!("{}.{}", p.command.aggregate, p.command.command), "to": p.command.to, "payload": p.command.payload}))
        .collect();
    let timeout = instance
        .timer
        .as_ref()
        .map(|t| json!({"name": t.name, "due": time(t.due)}));
    let mut state = Map::new();
    state.insert("id".into(), json!(instance.id));
    state.insert("saga".into(), json!(entry.name));
    state.insert("status".into(), json!(instance.status.name()));
    state.insert("state".into(), json!(instance.state));
    state.insert("data".into(), Value::Object(instance.data.clone()));
    state.insert("pending".into(), Value::Array(pending));
    state.insert("timeout".into(), timeout.unwrap_or(Value::Null));
    state.insert("error".into(), json!(instance.error));
    state.insert("history".into(), Value::Array(history));
    state.insert("position".into(), json!(position));
    Value::Object(state)
}

/// `POST /sagas/{name}/{id}/retry`: a failed instance sends the command that failed again.
pub(crate) async fn retry<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let entry = entry(&shared, &name)?;
    let instances = &entry.tables[0];
    let key = id.clone();
    let answer = entry
        .source
        .read(entry.name, move |rows| rows.get(instances, &key))
        .await?;
    let Some(row) = answer.value else {
        return Err(Problem::not_found(format!(
            "saga `{name}` has no instance `{id}`"
        )));
    };
    let status = row
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let waiting = row
        .get("instance")
        .and_then(|instance| instance.get("failed"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if status != "failed" || waiting == 0 {
        let why = if status == "failed" {
            format!("instance `{id}` ended in a failed state: it has no command to send again")
        } else {
            format!("instance `{id}` is {status}; only a failed instance is retried")
        };
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-failed",
            "The instance has nothing to retry",
            why,
        ));
    }
    let event = NewEvent {
        event_type: saga::RETRY.to_owned(),
        version: 1,
        data: serde_json::to_vec(&json!({"saga": entry.name, "instance": id})).unwrap_or_default(),
        metadata: Metadata {
            correlation_id: Some(id.clone()),
            ..Metadata::default()
        },
    };
    shared
        .store
        .append(
            &saga::stream(entry.name, &id),
            ExpectedVersion::Any,
            vec![event],
            None,
        )
        .await
        .map_err(super::commands::store_problem)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"saga": name, "instance": id, "retrying": true})),
    )
        .into_response())
}
