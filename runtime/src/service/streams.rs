//! Time travel: `GET /streams/{stream}/state?version=N`, a stream's state after any of its
//! versions, folded by the aggregate's own `apply`; and `GET /events/{position}`, one event as
//! stored and, when it was stored in an older version, as the service reads it (upcast).

use super::Shared;
use super::commands::{self, Commands};
use super::problem::Problem;
use crate::store::EventStore;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The aggregate whose streams `stream` is one of (the longest category that is a prefix, as
/// with `order` and `order-line`), with the aggregate's name and the id.
fn aggregate_of<'s, S>(
    shared: &'s Shared<S>,
    stream: &'s str,
) -> Option<(&'s str, &'s Arc<dyn Commands>, &'s str)> {
    shared
        .aggregates
        .iter()
        .filter_map(|(name, commands)| {
            let id = stream
                .strip_prefix(commands.category())?
                .strip_prefix('-')?;
            Some((name.as_str(), commands, id))
        })
        .max_by_key(|(_, commands, _)| commands.category().len())
}

/// `GET /streams/{stream}/state?version=N`: the state after version `N` (0: before the first
/// event; none: now), the event at `N`, and the stream's current version.
pub(crate) async fn state<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<String>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let Path(stream) = path.map_err(super::path_problem)?;
    if let Some(other) = query.keys().find(|k| *k != "version") {
        return Err(Problem::bad_request(format!(
            "unknown parameter `{other}`: give `version` (from 0 to the stream's version) or nothing"
        )));
    }
    let version = query
        .get("version")
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                Problem::bad_request(format!(
                    "`version` is a stream version (0 or more), not `{v}`"
                ))
            })
        })
        .transpose()?;
    let Some((aggregate, commands, id)) = aggregate_of(&shared, &stream) else {
        let categories: Vec<&str> = shared.aggregates.values().map(|c| c.category()).collect();
        return Err(Problem::not_found(format!(
            "stream `{stream}` is no aggregate's: their streams are `<category>-<id>`, with the categories {}",
            categories.join(", ")
        )));
    };
    let at = commands.state_at(&stream, version).await?;
    Ok(Json(json!({
        "stream": stream,
        "aggregate": aggregate,
        "id": id,
        "version": at.version,
        "latest": at.latest,
        "state": at.state,
        "event": at.event,
    }))
    .into_response())
}

/// `GET /events/{position}`: the event at a global position, as a CloudEvent, and `read_as`
/// (its latest version and payload) when it was stored in an older version.
pub(crate) async fn event<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(position) = path.map_err(super::path_problem)?;
    let position = position
        .parse::<u64>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "`{position}` is no position: positions are whole numbers from 1"
            ))
        })?;
    let found = shared
        .store
        .read_all(position, 1)
        .await
        .map_err(commands::store_problem)?;
    let Some(envelope) = found.into_iter().find(|e| e.position == position) else {
        return Err(Problem::not_found(format!(
            "there is no event at position {position}"
        )));
    };
    let read_as = aggregate_of(&shared, &envelope.stream)
        .and_then(|(_, commands, _)| commands.read_as(&envelope))
        .map(|(version, data)| json!({"version": version, "data": data}));
    Ok(Json(json!({
        "event": envelope.to_cloudevent(),
        "read_as": read_as.unwrap_or(Value::Null),
    }))
    .into_response())
}
