//! Windows in the service: each runs as a projection (see [`crate::window`]).
//! `GET /windows/{name}?key=&from=&to=&limit=` answers its windows with the position they
//! reflect; `GET /windows/{name}/live` streams what each committed batch changed as server-sent
//! events, after a snapshot of the open windows. For a window with `emit`, a sender appends the
//! closing events its runner leaves in its outbox.

use super::Shared;
use super::problem::Problem;
use super::queries::Source;
use crate::read_model::TableSpec;
use crate::store::{EventStore, ExpectedVersion, IdempotencyKey, Metadata, NewEvent};
use crate::window::{Definition, Notify};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Updates a live client may be behind before it is told to reconnect.
const LIVE_BUFFER: usize = 256;
/// Windows answered at most, unless `limit` says fewer.
const MOST: usize = 10_000;

/// A window the service runs: where its rows are read, and its live updates.
pub(crate) struct WindowEntry {
    pub name: &'static str,
    pub source: Source,
    pub table: &'static TableSpec,
    /// Its outbox of closing events.
    pub outbox: &'static TableSpec,
    pub definition: Arc<Definition>,
    pub updates: broadcast::Sender<Arc<Update>>,
}

/// What one committed batch changed.
pub(crate) struct Update {
    windows: Vec<Value>,
    position: u64,
}

/// Hands the runner's committed changes to live clients.
pub(crate) struct Broadcast(pub broadcast::Sender<Arc<Update>>);

impl Broadcast {
    pub(crate) fn new() -> Self {
        Self(broadcast::Sender::new(LIVE_BUFFER))
    }
}

impl Notify for Broadcast {
    fn changed(&self, _: &'static str, windows: &[Value], position: u64) {
        // No client listening is no error.
        let _ = self.0.send(Arc::new(Update {
            windows: windows.to_vec(),
            position,
        }));
    }

    fn listening(&self) -> bool {
        self.0.receiver_count() > 0
    }
}

/// How often the sender reads the outbox.
const POLL: Duration = Duration::from_secs(1);
/// Outbox rows read at once.
const PAGE: usize = 1_000;

/// Whether this instance runs the window (another one sharing the database may): only that one
/// appends its closing events.
fn runs<S>(shared: &Shared<S>, entry: &WindowEntry) -> bool {
    matches!(
        shared.health.get(entry.name).map(|h| h.get()),
        Some(super::health::RunnerState::Running)
    )
}

/// The idempotency key of a closing event: its outbox key, hashed (keys hold the window's key,
/// which may be long).
fn idempotency(window: &str, key: &str) -> IdempotencyKey {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    IdempotencyKey::new(format!("window:{window}:{hex}"), key.as_bytes())
}

/// Appends the closing events of `entry`'s outbox, each once (its idempotency key makes a
/// second append after a crash a no-op), until `stop`. The runner deletes an outbox row when
/// it reads the event back.
pub(crate) async fn send<S: EventStore + Clone + Sync + 'static>(
    shared: Arc<Shared<S>>,
    entry: Arc<WindowEntry>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut sent: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if !runs(&shared, &entry) {
            continue;
        }
        let outbox = entry.outbox;
        let rows = match entry
            .source
            .read(entry.name, move |rows| rows.list(outbox, &[], PAGE))
            .await
        {
            Ok(answer) => answer.value,
            Err(problem) => {
                tracing::warn!(window = entry.name, detail = ?problem.body(), "the outbox cannot be read; trying again");
                continue;
            }
        };
        let waiting: HashSet<&str> = rows
            .iter()
            .filter_map(|row| row.get("key").and_then(Value::as_str))
            .collect();
        sent.retain(|key| waiting.contains(key.as_str()));
        for row in &rows {
            let (Some(key), Some(start), Some(event)) = (
                row.get("key").and_then(Value::as_str),
                row.get("start").and_then(Value::as_i64),
                row.get("event"),
            ) else {
                continue;
            };
            if sent.contains(key) {
                continue;
            }
            let closed = NewEvent {
                event_type: crate::window::CLOSED.to_owned(),
                version: 1,
                data: serde_json::to_vec(event).unwrap_or_default(),
                metadata: Metadata {
                    causation_id: Some(key.to_owned()),
                    ..Metadata::default()
                },
            };
            let appended = shared
                .store
                .append(
                    &crate::window::stream(entry.name, start),
                    ExpectedVersion::Any,
                    vec![closed],
                    Some(&idempotency(entry.name, key)),
                )
                .await;
            match appended {
                Ok(_) => {
                    sent.insert(key.to_owned());
                }
                Err(error) => {
                    tracing::warn!(window = entry.name, %key, %error, "a closing event cannot be appended; trying again");
                }
            }
        }
    }
}

/// `GET /windows/{name}`'s parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Filter {
    /// The key: its value when the window has one key field, else a JSON object.
    key: Option<String>,
    /// Windows ending after this time (RFC 3339).
    from: Option<String>,
    /// Windows starting before this time (RFC 3339).
    to: Option<String>,
    /// At most this many windows (the latest).
    limit: Option<usize>,
}

fn entry<'s, S>(shared: &'s Shared<S>, name: &str) -> Result<&'s Arc<WindowEntry>, Problem> {
    shared.windows.get(name).ok_or_else(|| {
        let known: Vec<&str> = shared.windows.keys().map(String::as_str).collect();
        Problem::not_found(format!(
            "there is no window `{name}`; this service has: {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}

fn millis(name: &str, text: &str) -> Result<i64, Problem> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| {
            Problem::bad_request(format!(
                "`{name}={text}` is not an RFC 3339 time ({e}); write e.g. `2026-03-14T09:00:00Z`"
            ))
        })
}

/// The key objects a `key=` text may mean, as stored (canonical JSON in key order).
fn keys(definition: &Definition, text: &str) -> Result<Vec<String>, Problem> {
    let fields = &definition.key;
    if let Ok(Value::Object(given)) = serde_json::from_str::<Value>(text) {
        let mut key = Map::new();
        for field in fields {
            let Some(value) = given.get(field) else {
                return Err(Problem::bad_request(format!(
                    "`key` lacks `{field}`: window `{}` is keyed by {}",
                    definition.name,
                    fields.join(", ")
                )));
            };
            key.insert(field.clone(), value.clone());
        }
        if let Some(extra) = given.keys().find(|k| !fields.contains(k)) {
            return Err(Problem::bad_request(format!(
                "`key` has `{extra}`, which window `{}` is not keyed by ({})",
                definition.name,
                fields.join(", ")
            )));
        }
        return Ok(vec![Value::Object(key).to_string()]);
    }
    let [field] = fields.as_slice() else {
        return Err(Problem::bad_request(format!(
            "window `{}` is keyed by {}: give `key` as a JSON object, like `key={{\"{}\":...}}`",
            definition.name,
            if fields.is_empty() {
                "nothing".to_owned()
            } else {
                fields.join(", ")
            },
            fields.first().map_or("field", String::as_str)
        )));
    };
    // The text as a string, and as the number, boolean or quoted string it may spell.
    let mut candidates = vec![json!({ field: text }).to_string()];
    if let Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) =
        serde_json::from_str::<Value>(text)
    {
        candidates.push(json!({ field: value }).to_string());
    }
    Ok(candidates)
}

/// Stored rows as the service shows them.
fn shown(definition: &Definition, rows: Vec<Map<String, Value>>) -> Result<Vec<Value>, Problem> {
    rows.into_iter()
        .map(|row| crate::window::shown(definition, row).map_err(Problem::internal))
        .collect()
}

/// `GET /windows/{name}`: the windows (of one key, overlapping `[from, to)`), earliest first,
/// with the position they reflect.
pub(crate) async fn list<S: Send + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path(name): Path<String>,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(filter) = filter.map_err(|e| Problem::bad_request(e.body_text()))?;
    let entry = Arc::clone(entry(&shared, &name)?);
    let from = filter
        .from
        .as_deref()
        .map(|t| millis("from", t))
        .transpose()?;
    let to = filter.to.as_deref().map(|t| millis("to", t)).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(Problem::bad_request(
            "`from` is after `to`: windows overlapping [from, to) are asked for",
        ));
    }
    let keys = match &filter.key {
        Some(text) => Some(keys(&entry.definition, text)?),
        None => None,
    };
    let limit = filter.limit.unwrap_or(MOST).min(MOST);
    let table = entry.table;
    let answer = entry
        .source
        .read(entry.name, move |rows| {
            let mut found = Vec::new();
            match &keys {
                Some(keys) => {
                    for key in keys {
                        found.extend(rows.list(table, &[("key", key.as_str())], usize::MAX)?);
                    }
                }
                None => found = rows.list(table, &[], usize::MAX)?,
            }
            Ok(found)
        })
        .await?;
    let int = |row: &Map<String, Value>, name: &str| {
        row.get(name).and_then(Value::as_i64).unwrap_or_default()
    };
    let mut rows: Vec<Map<String, Value>> = answer
        .value
        .into_iter()
        .filter(|row| from.is_none_or(|from| int(row, "end") > from))
        .filter(|row| to.is_none_or(|to| int(row, "start") < to))
        .collect();
    rows.sort_by(|a, b| {
        (int(a, "start"), a.get("key").and_then(Value::as_str))
            .cmp(&(int(b, "start"), b.get("key").and_then(Value::as_str)))
    });
    let skip = rows.len().saturating_sub(limit);
    let windows = shown(&entry.definition, rows.split_off(skip))?;
    Ok(axum::Json(json!({"windows": windows, "position": answer.position})).into_response())
}

/// `GET /windows/{name}/live`'s parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveFilter {
    /// Only this key's windows (as for `GET /windows/{name}`).
    key: Option<String>,
}

/// `GET /windows/{name}/live`: a `snapshot` event with the open windows, then an `update`
/// event per committed batch with the windows it changed (`"removed": true` for a session
/// merged into another). A client too slow to keep up is sent `overflow` and closed.
pub(crate) async fn live<S: Send + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path(name): Path<String>,
    filter: Result<Query<LiveFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(filter) = filter.map_err(|e| Problem::bad_request(e.body_text()))?;
    let entry = Arc::clone(entry(&shared, &name)?);
    let wanted: Option<Vec<Value>> = match &filter.key {
        Some(text) => Some(
            keys(&entry.definition, text)?
                .iter()
                .filter_map(|k| serde_json::from_str(k).ok())
                .collect(),
        ),
        None => None,
    };
    // Subscribed before the snapshot is read: nothing committed in between is missed.
    let updates = entry.updates.subscribe();
    let table = entry.table;
    let snapshot = entry
        .source
        .read(entry.name, move |rows| {
            rows.list(table, &[("closed", "false")], MOST)
        })
        .await?;
    let keep = move |window: &Value| {
        wanted
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| window.get("key") == Some(k)))
    };
    let open: Vec<Value> = shown(&entry.definition, snapshot.value)?
        .into_iter()
        .filter(&keep)
        .collect();
    let first = Event::default()
        .event("snapshot")
        .id(snapshot.position.to_string())
        .data(json!({"windows": open, "position": snapshot.position}).to_string());
    let stopping = shared.stopping.subscribe();
    let after = snapshot.position;
    let state = (Some(first), updates, stopping, false);
    let events = futures_util::stream::unfold(
        state,
        move |(mut first, mut updates, mut stopping, done)| {
            let keep = keep.clone();
            async move {
                if let Some(event) = first.take() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (None, updates, stopping, done),
                    ));
                }
                if done {
                    return None;
                }
                loop {
                    let received = tokio::select! {
                        received = updates.recv() => received,
                        _ = stopping.wait_for(|stop| *stop) => return None,
                    };
                    match received {
                        // Committed before the snapshot was read: already in it. (One at the
                        // snapshot's position may be a later tick's, so it is sent; sending a
                        // window twice is harmless.)
                        Ok(update) if update.position < after => continue,
                        Ok(update) => {
                            let windows: Vec<&Value> =
                                update.windows.iter().filter(|w| keep(w)).collect();
                            if windows.is_empty() {
                                continue;
                            }
                            let event = Event::default()
                                .event("update")
                                .id(update.position.to_string())
                                .data(
                                    json!({"windows": windows, "position": update.position})
                                        .to_string(),
                                );
                            return Some((Ok(event), (None, updates, stopping, false)));
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let event = Event::default().event("overflow").data(
                                json!({"reconnect": "updates were missed; read the windows again"})
                                    .to_string(),
                            );
                            return Some((Ok(event), (None, updates, stopping, true)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        },
    );
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}
