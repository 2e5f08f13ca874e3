//! `POST /commands/{aggregate}/{id}/{command}`: a JSON body decoded by command name, decided by
//! the aggregate's repository, answered with the stream's new version and the appended events.

use super::problem::Problem;
use crate::command::{CommandError, CommandSet};
use crate::repository::{Execute, Repository, RepositoryError};
use crate::store::{Direction, Envelope, EventStore, StoreError};
use crate::{Aggregate, EventSet};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;

/// What a command did: the stream, its version, and the appended events as CloudEvents.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The aggregate's stream.
    pub stream: String,
    /// Its version after the command.
    pub version: u64,
    /// The events appended (none when the command changed nothing).
    pub events: Vec<Value>,
}

/// An aggregate's command endpoint, whatever its types.
pub(crate) trait Commands: Send + Sync {
    /// Decodes and executes command `name` on aggregate `id`.
    fn execute<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        body: &'a [u8],
        options: Execute,
    ) -> Pin<Box<dyn Future<Output = Result<Outcome, Problem>> + Send + 'a>>;

    /// The aggregate's stream category: its streams are `<category>-<id>`.
    fn category(&self) -> &'static str;

    /// Stream `stream`'s state after `version` (`None`: the state as it is), folded from its
    /// events as the aggregate's `apply` does, with the event at that version.
    fn state_at<'a>(
        &'a self,
        stream: &'a str,
        version: Option<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<StateAt, Problem>> + Send + 'a>>;

    /// A stored event of an older version, as the aggregate reads it: its latest version and
    /// payload after upcasting (`None` when stored in its latest version, or not the
    /// aggregate's).
    fn read_as(&self, event: &Envelope) -> Option<(u32, Value)>;

    /// The aggregate's event types, each with the version the service reads it as.
    fn event_types(&self) -> &'static [(&'static str, u32)];
}

/// A stream's state after one of its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct StateAt {
    /// The version the state is after (0: before the first event).
    pub version: u64,
    /// The stream's current version.
    pub latest: u64,
    /// The state, `null` before the aggregate exists.
    pub state: Value,
    /// The event at `version`, as a CloudEvent (none at 0).
    pub event: Option<Value>,
}

/// Events read at a time while a state is folded.
const FOLD_PAGE: usize = 256;

/// Refuses an id whose stream would be another aggregate's: with aggregates `order` and
/// `order-line`, order `line-5` would write `order-line-5`, order line `5`'s stream.
pub(crate) fn own_stream<'a>(
    category: &str,
    id: &str,
    categories: impl IntoIterator<Item = &'a str>,
) -> Result<(), Problem> {
    let stream = format!("{category}-{id}");
    let owner = categories.into_iter().find(|other| {
        other.len() > category.len()
            && stream.len() > other.len() + 1
            && stream.starts_with(other)
            && stream.as_bytes()[other.len()] == b'-'
    });
    match owner {
        Some(owner) => Err(Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "ambiguous-stream",
            "The id would write into another aggregate's stream",
            format!(
                "id `{id}` gives stream `{stream}`, which is a stream of `{owner}`: choose an id that does not start with `{}-`",
                &owner[category.len() + 1..]
            ),
        )),
        None => Ok(()),
    }
}

impl<S, A> Commands for Repository<S, A>
where
    S: EventStore + Sync,
    A: Aggregate + 'static,
    A::Command: CommandSet,
{
    fn category(&self) -> &'static str {
        A::CATEGORY
    }

    fn state_at<'a>(
        &'a self,
        stream: &'a str,
        version: Option<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<StateAt, Problem>> + Send + 'a>> {
        Box::pin(async move {
            let store = self.store();
            let latest = store
                .read_stream(stream, u64::MAX, Direction::Backwards, 1)
                .await
                .map_err(store_problem)?
                .first()
                .map(|e| e.stream_version)
                .ok_or_else(|| Problem::not_found(format!("there is no stream `{stream}`")))?;
            let version = version.unwrap_or(latest);
            if version > latest {
                return Err(Problem::bad_request(format!(
                    "stream `{stream}` is at version {latest}; ask for a version from 0 to {latest}"
                )));
            }
            let mut state: Option<A::State> = None;
            let mut last = None;
            let mut from = 1;
            while from <= version {
                let want = FOLD_PAGE.min((version + 1 - from) as usize);
                let page = store
                    .read_stream(stream, from, Direction::Forwards, want)
                    .await
                    .map_err(store_problem)?;
                let Some(end) = page.last().map(|e| e.stream_version) else {
                    break;
                };
                for envelope in &page {
                    let event =
                        A::Event::decode(&envelope.event_type, envelope.version, &envelope.data)
                            .map_err(|e| {
                                Problem::internal(format!(
                                    "event {} of stream `{stream}` cannot be read: {e}",
                                    envelope.stream_version
                                ))
                            })?;
                    A::apply(&mut state, &event);
                }
                last = page.last().map(Envelope::to_cloudevent);
                from = end + 1;
            }
            Ok(StateAt {
                version,
                latest,
                state: serde_json::to_value(&state)
                    .map_err(|e| Problem::internal(format!("the state cannot be shown: {e}")))?,
                event: last,
            })
        })
    }

    fn event_types(&self) -> &'static [(&'static str, u32)] {
        A::Event::LATEST
    }

    fn read_as(&self, event: &Envelope) -> Option<(u32, Value)> {
        let decoded = A::Event::decode(&event.event_type, event.version, &event.data).ok()?;
        if decoded.version() == event.version {
            return None;
        }
        let data = decoded.encode().ok()?;
        Some((decoded.version(), serde_json::from_slice(&data).ok()?))
    }

    fn execute<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        body: &'a [u8],
        options: Execute,
    ) -> Pin<Box<dyn Future<Output = Result<Outcome, Problem>> + Send + 'a>> {
        Box::pin(async move {
            let command = A::Command::decode(name, body).map_err(command_problem)?;
            let if_match = options.expected_version.is_some();
            let executed = Repository::execute(self, id, &command, &options)
                .await
                .map_err(|e| repository_problem(e, if_match))?;
            let stream = Self::stream(id);
            if let Some(error) = &executed.snapshot_failed {
                tracing::warn!(%stream, %error, "the snapshot after the command could not be saved");
            }
            // The events are stored: a failure to read them back for the answer is logged, and
            // the command still succeeds (a client retrying without a key would append twice).
            let events = match executed.appended {
                Some(appended) => {
                    let count = (appended.last_version + 1 - appended.first_version) as usize;
                    match self
                        .store()
                        .read_stream(&stream, appended.first_version, Direction::Forwards, count)
                        .await
                    {
                        Ok(stored) => stored.iter().map(|e| e.to_cloudevent()).collect(),
                        Err(error) => {
                            tracing::error!(%stream, %error, "the events appended could not be read back for the answer");
                            Vec::new()
                        }
                    }
                }
                None => Vec::new(),
            };
            Ok(Outcome {
                stream,
                version: executed.aggregate.version,
                events,
            })
        })
    }
}

pub(crate) fn store_problem(error: StoreError) -> Problem {
    Problem::internal(error.to_string())
}

fn command_problem(error: CommandError) -> Problem {
    match error {
        CommandError::Unknown(name) => Problem::not_found(format!("there is no command `{name}`")),
        CommandError::Malformed(error) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "The body is not JSON",
            error.to_string(),
        ),
        CommandError::Invalid {
            command,
            violations,
        } => {
            let errors: Vec<Value> = violations
                .iter()
                .map(|v| json!({ "pointer": v.pointer, "detail": v.message }))
                .collect();
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-command",
                "The command does not match its schema",
                format!(
                    "the `{command}` command breaks {} rule(s) of its schema",
                    errors.len()
                ),
            )
            .with("errors", Value::Array(errors))
        }
    }
}

fn repository_problem(error: RepositoryError, if_match: bool) -> Problem {
    match error {
        RepositoryError::Rejected(reason) => Problem::new(
            StatusCode::CONFLICT,
            "rejected",
            "The command was rejected",
            reason.to_string(),
        ),
        RepositoryError::Conflict {
            stream,
            expected,
            actual,
        } if if_match => Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "version-mismatch",
            "The aggregate is not at the version in If-Match",
            format!("`{stream}` is at version {actual}, not {expected}"),
        )
        .with("expected", expected.into())
        .with("actual", actual.into()),
        RepositoryError::Conflict { stream, .. } => Problem::new(
            StatusCode::CONFLICT,
            "concurrent-change",
            "The aggregate kept changing",
            format!("`{stream}` changed under every retry; try again"),
        ),
        RepositoryError::Store(StoreError::KeyReused { key }) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "The idempotency key was used for another request",
            format!(
                "Idempotency-Key `{key}` was first sent with another command or body; a retry sends the same request, a new request a new key"
            ),
        ),
        RepositoryError::Store(StoreError::Overloaded) => Problem::unavailable(
            "too many commands are waiting to be written; try again after the Retry-After seconds",
        ),
        other => Problem::internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{RepositoryError, StoreError, own_stream, repository_problem};
    use axum::response::IntoResponse;

    #[test]
    fn store_refusals_are_told_apart() {
        let full = repository_problem(RepositoryError::Store(StoreError::Overloaded), false);
        let response = full.clone().into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(full.detail.contains("Retry-After"), "{}", full.detail);
        let reused = repository_problem(
            RepositoryError::Store(StoreError::KeyReused { key: "k".into() }),
            false,
        );
        assert_eq!(
            (reused.status.as_u16(), reused.kind),
            (422, "idempotency-key-reused")
        );
    }

    #[test]
    fn an_id_that_lands_in_another_aggregate_s_stream_is_refused() {
        let categories = ["order", "order-line", "cart"];
        let refused = own_stream("order", "line-5", categories).unwrap_err();
        assert_eq!(refused.kind, "ambiguous-stream");
        assert!(
            refused.detail.contains("`order-line-5`"),
            "{}",
            refused.detail
        );
        assert!(
            refused.detail.contains("does not start with `line-`"),
            "{}",
            refused.detail
        );
        assert!(own_stream("order", "5", categories).is_ok());
        assert!(own_stream("order", "line", categories).is_ok());
        assert!(own_stream("order", "liner-5", categories).is_ok());
        assert!(own_stream("order-line", "5", categories).is_ok());
        assert!(own_stream("cart", "line-5", categories).is_ok());
    }
}
