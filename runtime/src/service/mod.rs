//! The HTTP service a generated service runs: commands in, events and read models out.
//!
//! - `POST /commands/{aggregate}/{id}/{command}`, with `If-Match: "<version>"` and
//!   `Idempotency-Key`; 200 with the stream's new version and the appended events.
//! - `GET /streams/{stream}?after=V&limit=N`, `GET /events?after=P&limit=N`, `GET /events/live` (server-sent
//!   events).
//! - `GET /projections/{name}/{key}`, `GET /projections/{name}?field=value`, each with the
//!   position the read model reflects.
//! - `GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus text).
//!
//! Errors are RFC 9457 problem details ([`Problem`]). Bodies are limited (1 MiB by default).
//! With a token configured every route but the health checks requires a bearer token, and a
//! read-only token may read but send no command ([`access`]).

pub mod access;
pub mod app;
mod commands;
mod health;
pub mod listen;
mod live;
mod operations;
mod problem;
mod queries;
#[cfg(feature = "nats")]
pub mod relay;
mod sagas;
mod streams;
mod trace;
pub mod ui;
mod windows;

pub use access::AccessError;
pub use app::App;
pub use commands::Outcome;
pub use problem::Problem;

use crate::Aggregate;
use crate::command::CommandSet;
use crate::projection::{Ended, Projection, ProjectionError, ProjectionRunner};
use crate::read_model::Tabled;
use crate::repository::{Execute, Repository};
use crate::store::{Direction, Envelope, EventStore, Head, IdempotencyKey, Metadata};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use health::{Backoff, Health, RunnerState};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a service is configured with, apart from its domain.
#[derive(Clone)]
pub struct Settings {
    /// The service's name, as its page (`/ui`) and `/operations` show it.
    pub name: String,
    /// The largest request body accepted (413 beyond).
    pub body_limit: usize,
    /// When set, every route but `/healthz` and `/readyz` needs `Authorization: Bearer <token>`
    /// (401 otherwise): this one allows everything.
    pub token: Option<String>,
    /// A token that may read everything but send no command (403). Needs `token` too.
    pub read_token: Option<String>,
    /// The origins browsers may call the service from (CORS); none: no CORS headers.
    pub cors_origins: Vec<String>,
    /// How many events a projection may be behind the store before `/readyz` answers 503.
    pub ready_lag: u64,
    /// The most connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// The most `/events/live` clients at once (503 beyond).
    pub max_live_clients: usize,
    /// How long a client may take to send a request's body once its headers are in (408).
    pub body_timeout: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            name: "eventsmith".to_owned(),
            body_limit: 1024 * 1024,
            token: None,
            read_token: None,
            cors_origins: Vec::new(),
            ready_lag: 1000,
            max_connections: 10_000,
            max_live_clients: 5_000,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for Settings {
    // Tokens stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("name", &self.name)
            .field("body_limit", &self.body_limit)
            .field("access", &self.access())
            .field("ready_lag", &self.ready_lag)
            .field("max_connections", &self.max_connections)
            .field("max_live_clients", &self.max_live_clients)
            .finish()
    }
}

impl Settings {
    /// The access settings, checked: no empty token, no read-only token alone or equal to the
    /// write token.
    pub fn access(&self) -> Result<access::Access, AccessError> {
        access::Access {
            token: self.token.clone(),
            read_token: self.read_token.clone(),
            cors_origins: self.cors_origins.clone(),
            loopback: true,
        }
        .checked()
    }
}

/// The longest `Idempotency-Key` accepted, in bytes: keys are stored, so their size is bounded.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Starts a projection runner, given the stop signal.
type Runner = Box<
    dyn FnOnce(tokio::sync::watch::Receiver<bool>) -> std::io::Result<std::thread::JoinHandle<()>>
        + Send,
>;

/// A service over store `S`: its aggregates' commands, its projections' runners and queries.
pub struct Service<S> {
    shared: Arc<Shared<S>>,
    runners: Vec<Runner>,
}

struct Shared<S> {
    store: S,
    /// Set when the service shuts down: live feeds end, so connections can close.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The live feed's shared reader and client limit.
    live: live::LiveFeed,
    settings: Settings,
    aggregates: BTreeMap<String, Arc<dyn commands::Commands>>,
    projections: BTreeMap<String, Arc<dyn queries::Query>>,
    /// The sagas, by name.
    sagas: BTreeMap<String, Arc<sagas::SagaEntry>>,
    /// The windows, by name.
    windows: BTreeMap<String, Arc<windows::WindowEntry>>,
    /// Each projection's runner: running or down.
    health: BTreeMap<String, Arc<Health>>,
    /// Each runner's (projection, saga or window) requests: an operator's dead-letter work,
    /// which the runner does between batches.
    requests: BTreeMap<String, tokio::sync::mpsc::Sender<crate::projection::Request>>,
    /// The relay to NATS, when the service publishes.
    relay: Option<Arc<Health>>,
    /// The head of each projection's feed that is not the store (a NATS stream).
    feeds: BTreeMap<String, Head>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl<S: EventStore> Shared<S> {
    /// The last position of projection `name`'s feed.
    fn head_of(&self, name: &str) -> u64 {
        match self.feeds.get(name) {
            Some(head) => head.position(),
            None => self.store.head().position(),
        }
    }
}

/// Installs the process's metrics recorder, Prometheus's, for [`Service::metrics`]. Call it once,
/// before anything records a metric.
pub fn install_metrics()
-> Result<metrics_exporter_prometheus::PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()
}

impl<S: EventStore + Clone + Sync + 'static> Service<S> {
    /// A service over `store` (clones share it) with default settings and nothing registered.
    pub fn new(store: S) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                stopping: tokio::sync::watch::Sender::new(false),
                live: live::LiveFeed::new(Settings::default().max_live_clients),
                settings: Settings::default(),
                aggregates: BTreeMap::new(),
                projections: BTreeMap::new(),
                sagas: BTreeMap::new(),
                windows: BTreeMap::new(),
                health: BTreeMap::new(),
                requests: BTreeMap::new(),
                relay: None,
                feeds: BTreeMap::new(),
                metrics: None,
            }),
            runners: Vec::new(),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared<S> {
        Arc::get_mut(&mut self.shared).expect("the service is configured before it serves")
    }

    /// Replaces the settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.shared_mut().live = live::LiveFeed::new(settings.max_live_clients);
        self.shared_mut().settings = settings;
        self
    }

    /// Answers `GET /metrics` in Prometheus text from `handle` (see [`install_metrics`]).
    pub fn metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.shared_mut().metrics = Some(handle);
        self
    }

    /// Serves the commands of aggregate `name` (as in URLs) through `repository`.
    pub fn aggregate<A>(mut self, name: &str, repository: Repository<S, A>) -> Self
    where
        A: Aggregate + 'static,
        A::Command: CommandSet,
    {
        self.shared_mut()
            .aggregates
            .insert(name.to_owned(), Arc::new(repository));
        self
    }

    /// Runs `projection` into the SQLite database at `db` while the service serves, and answers
    /// queries on its rows.
    pub fn projection<P>(
        self,
        projection: P,
        db: impl AsRef<std::path::Path>,
    ) -> Result<Self, ProjectionError>
    where
        P: Projection + Tabled + 'static,
        P::Row: 'static,
    {
        let store = self.shared.store.clone();
        self.sqlite_projection_from(store, None, projection, db)
    }

    /// [`projection`](Self::projection), fed by `feed` (the store, or a NATS stream whose head
    /// is `head`).
    fn sqlite_projection_from<F, P>(
        self,
        feed: F,
        head: Option<Head>,
        projection: P,
        db: impl AsRef<std::path::Path>,
    ) -> Result<Self, ProjectionError>
    where
        F: EventStore + 'static,
        P: Projection + Tabled + 'static,
        P::Row: 'static,
    {
        let path = db.as_ref().to_path_buf();
        let runner = ProjectionRunner::open(feed, projection, &path)?;
        Ok(self.run_projection(runner, queries::Source::Sqlite(path), head))
    }

    /// Runs `projection` into schema `schema` of the PostgreSQL database at `url` while the
    /// service serves (one instance at a time of those sharing the database runs it: the others
    /// stand by), and answers queries on its rows.
    #[cfg(feature = "postgres")]
    pub fn postgres_projection<P>(
        self,
        projection: P,
        url: &str,
        schema: &str,
    ) -> Result<Self, ProjectionError>
    where
        P: Projection + Tabled + 'static,
        P::Row: 'static,
    {
        let store = self.shared.store.clone();
        self.postgres_projection_from(store, None, projection, url, schema)
    }

    /// [`postgres_projection`](Self::postgres_projection), fed by `feed` (the store, or a NATS
    /// stream whose head is `head`).
    #[cfg(feature = "postgres")]
    fn postgres_projection_from<F, P>(
        self,
        feed: F,
        head: Option<Head>,
        projection: P,
        url: &str,
        schema: &str,
    ) -> Result<Self, ProjectionError>
    where
        F: EventStore + 'static,
        P: Projection + Tabled + 'static,
        P::Row: 'static,
    {
        let backend = crate::read_model::postgres::PostgresReadModel::open(url, schema)?;
        let runner = ProjectionRunner::new(feed, projection, backend)?;
        let readers = queries::PostgresReaders::new(url, schema);
        Ok(self.run_projection(runner, queries::Source::Postgres(Arc::new(readers)), head))
    }

    /// Publishes every event, in order, to NATS JetStream while the service serves (see
    /// [`relay`]), its checkpoint and lease in `backend`.
    #[cfg(feature = "nats")]
    pub fn relay<B: crate::read_model::Backend + 'static>(
        mut self,
        backend: B,
        publishing: relay::Publishing,
    ) -> Self {
        let health = Arc::new(Health::new());
        self.shared_mut().relay = Some(Arc::clone(&health));
        let relay = relay::Relay::new(self.shared.store.clone(), backend, publishing);
        self.runners.push(Box::new(move |stop| {
            std::thread::Builder::new()
                .name("relay".to_owned())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => relay::supervise(relay, &runtime, stop, &health),
                        Err(error) => health.set(RunnerState::Down {
                            error: format!("no runtime for the relay: {error}"),
                            failures: 0,
                        }),
                    }
                    health.set(RunnerState::Stopped);
                })
        }));
        self
    }

    /// Runs `saga` in the SQLite database at `db` (beside the projections) while the service
    /// serves: its runner, the dispatcher of its commands and the timer of its timeouts.
    pub fn saga<G: crate::saga::Saga>(
        self,
        saga: crate::saga::SagaProjection<G>,
        db: impl AsRef<std::path::Path>,
    ) -> Result<Self, ProjectionError> {
        let path = db.as_ref().to_path_buf();
        let backend = crate::read_model::sqlite::SqliteReadModel::open(&path)?;
        Ok(self.run_saga(saga, backend, queries::Source::Sqlite(path)))
    }

    /// Runs `saga` in schema `schema` of the PostgreSQL database at `url` (one instance at a
    /// time of those sharing the database runs it).
    #[cfg(feature = "postgres")]
    pub fn postgres_saga<G: crate::saga::Saga>(
        self,
        saga: crate::saga::SagaProjection<G>,
        url: &str,
        schema: &str,
    ) -> Result<Self, ProjectionError> {
        let backend = crate::read_model::postgres::PostgresReadModel::open(url, schema)?;
        let readers = queries::PostgresReaders::new(url, schema);
        Ok(self.run_saga(saga, backend, queries::Source::Postgres(Arc::new(readers))))
    }

    /// Runs `window` in the SQLite database at `db` (beside the projections) while the service
    /// serves, and answers `GET /windows/{name}` and its live feed.
    pub fn window<W: crate::window::Window>(
        self,
        window: crate::window::WindowProjection<W>,
        db: impl AsRef<std::path::Path>,
    ) -> Result<Self, ProjectionError> {
        let path = db.as_ref().to_path_buf();
        let backend = crate::read_model::sqlite::SqliteReadModel::open(&path)?;
        Ok(self.run_window(window, backend, queries::Source::Sqlite(path)))
    }

    /// Runs `window` in schema `schema` of the PostgreSQL database at `url` (one instance at a
    /// time of those sharing the database runs it).
    #[cfg(feature = "postgres")]
    pub fn postgres_window<W: crate::window::Window>(
        self,
        window: crate::window::WindowProjection<W>,
        url: &str,
        schema: &str,
    ) -> Result<Self, ProjectionError> {
        let backend = crate::read_model::postgres::PostgresReadModel::open(url, schema)?;
        let readers = queries::PostgresReaders::new(url, schema);
        Ok(self.run_window(
            window,
            backend,
            queries::Source::Postgres(Arc::new(readers)),
        ))
    }

    fn run_window<W, B>(
        mut self,
        window: crate::window::WindowProjection<W>,
        backend: B,
        source: queries::Source,
    ) -> Self
    where
        W: crate::window::Window,
        B: crate::read_model::Backend + 'static,
    {
        let broadcast = Arc::new(windows::Broadcast::new());
        let entry = Arc::new(windows::WindowEntry {
            name: W::NAME,
            source,
            table: &W::TABLES[0],
            outbox: &W::TABLES[2],
            definition: Arc::new(window.definition().clone()),
            updates: broadcast.0.clone(),
        });
        let window = window.notify(broadcast as Arc<dyn crate::window::Notify>);
        self.shared_mut().windows.insert(W::NAME.to_owned(), entry);
        let runner = ProjectionRunner::new(self.shared.store.clone(), window, backend);
        self.run_made(runner, "window")
    }

    /// Runs the runner made for a saga or window, or reports it down with why it could not
    /// start.
    fn run_made<P, B>(
        mut self,
        made: Result<ProjectionRunner<S, P, B>, ProjectionError>,
        kind: &str,
    ) -> Self
    where
        P: Projection + 'static,
        B: crate::read_model::Backend + 'static,
    {
        match made {
            Ok(runner) => self.run_supervised(runner, Arc::new(Health::new())),
            Err(error) => {
                let health = Arc::new(Health::new());
                health.set(RunnerState::Down {
                    error: error.to_string(),
                    failures: 1,
                });
                tracing::error!(%kind, name = P::NAME, %error, "it cannot start");
                self.shared_mut().health.insert(P::NAME.to_owned(), health);
                self
            }
        }
    }

    fn run_saga<G, B>(
        mut self,
        saga: crate::saga::SagaProjection<G>,
        backend: B,
        source: queries::Source,
    ) -> Self
    where
        G: crate::saga::Saga,
        B: crate::read_model::Backend + 'static,
    {
        let signals = Arc::new(sagas::Signals::new());
        let head = self.shared.store.head().position();
        let saga = saga
            .starting_after(head)
            .notify(Arc::clone(&signals) as Arc<dyn crate::saga::Notify>);
        let entry = Arc::new(sagas::SagaEntry {
            name: G::NAME,
            source,
            tables: G::TABLES,
            signals,
        });
        self.shared_mut()
            .sagas
            .insert(G::NAME.to_owned(), Arc::clone(&entry));
        let runner = ProjectionRunner::new(self.shared.store.clone(), saga, backend);
        self.run_made(runner, "saga")
    }

    /// Runs `runner` (over the store, or over another feed such as a NATS stream) while the
    /// service serves, and answers queries on its rows from `source`.
    fn run_projection<F, P, B>(
        mut self,
        runner: ProjectionRunner<F, P, B>,
        source: queries::Source,
        feed: Option<Head>,
    ) -> Self
    where
        F: EventStore + 'static,
        P: Projection + Tabled + 'static,
        P::Row: 'static,
        B: crate::read_model::Backend + 'static,
    {
        self.shared_mut().projections.insert(
            P::NAME.to_owned(),
            Arc::new(queries::TableQuery::<P::Row> {
                source,
                name: P::NAME,
                row: std::marker::PhantomData,
            }),
        );
        if let Some(head) = feed {
            self.shared_mut().feeds.insert(P::NAME.to_owned(), head);
        }
        let health = Arc::new(Health::new());
        self.run_supervised(runner, health)
    }

    /// Runs `runner` on a thread of its own under [`supervise`], `health` telling how it goes.
    fn run_supervised<F, P, B>(
        mut self,
        runner: ProjectionRunner<F, P, B>,
        health: Arc<Health>,
    ) -> Self
    where
        F: EventStore + 'static,
        P: Projection + 'static,
        B: crate::read_model::Backend + 'static,
    {
        let told = Arc::clone(&health);
        let runner = runner.on_transient(move |error| {
            told.set(match error {
                Some(error) => {
                    tracing::warn!(projection = P::NAME, %error, "an event fails transiently; retrying it");
                    RunnerState::Retrying {
                        error: error.to_owned(),
                    }
                }
                None => {
                    tracing::info!(projection = P::NAME, "the failing event went through");
                    RunnerState::Running
                }
            })
        });
        self.shared_mut()
            .health
            .insert(P::NAME.to_owned(), Arc::clone(&health));
        let (requests, mut received) = tokio::sync::mpsc::channel(REQUESTS_WAITING);
        self.shared_mut()
            .requests
            .insert(P::NAME.to_owned(), requests);
        // Each runner on a thread of its own: its read-model work is synchronous, and HTTP
        // requests keep the async workers.
        self.runners.push(Box::new(move |stop| {
            std::thread::Builder::new()
                .name(format!("projection-{}", P::NAME))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            tracing::error!(projection = P::NAME, %error, "no runtime for the projection");
                            health.set(RunnerState::Down {
                                error: format!("no runtime for the projection: {error}"),
                                failures: 0,
                            });
                            return;
                        }
                    };
                    supervise(runner, &runtime, stop, &health, &mut received);
                    health.set(RunnerState::Stopped);
                })
        }));
        self
    }

    /// The HTTP routes, or why the settings do not allow them. Without a token they answer only
    /// requests to `localhost` or an IP address, as [`serve`](Self::serve) does on loopback.
    pub fn router(&self) -> Result<Router, AccessError> {
        self.routes(true)
    }

    fn routes(&self, loopback: bool) -> Result<Router, AccessError> {
        let limit = self.shared.settings.body_limit;
        let mut access = self.shared.settings.access()?;
        access.loopback = loopback;
        let access = Arc::new(access);
        Ok(Router::new()
            .route("/commands/{aggregate}/{id}/{command}", post(command::<S>))
            .route("/streams/{stream}", get(stream::<S>))
            .route("/streams/{stream}/state", get(streams::state::<S>))
            .route("/events", get(events::<S>))
            .route("/events/live", get(live::<S>))
            .route("/events/{position}", get(streams::event::<S>))
            .route("/correlations/{id}", get(trace::trace::<S>))
            .route("/projections/{name}", get(list::<S>))
            .route("/projections/{name}/{key}", get(row::<S>))
            .route("/sagas/{name}", get(sagas::list::<S>))
            .route("/sagas/{name}/{id}", get(sagas::show::<S>))
            .route("/sagas/{name}/{id}/retry", post(sagas::retry::<S>))
            .route("/windows/{name}", get(windows::list::<S>))
            .route("/windows/{name}/live", get(windows::live::<S>))
            .route("/operations", get(operations::overview::<S>))
            .route("/dead-letters", get(operations::list::<S>))
            .route(
                "/dead-letters/{runner}/{id}/retry",
                post(operations::retry::<S>),
            )
            .route(
                "/dead-letters/{runner}/{id}/skip",
                post(operations::skip::<S>),
            )
            .route("/ui", get(ui::page))
            .route("/ui/", get(ui::page))
            .route("/ui/{file}", get(ui::file))
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready::<S>))
            .route("/metrics", get(prometheus::<S>))
            .fallback(|| async { Problem::not_found("no such resource") })
            .method_not_allowed_fallback(|| async {
                Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "The method is not allowed here",
                    "commands are POSTed to /commands/... (a failed saga instance is retried with POST /sagas/{name}/{id}/retry, a dead letter with POST /dead-letters/{runner}/{id}/retry or /skip); everything else is read with GET",
                )
            })
            .layer(axum::middleware::from_fn_with_state(access, access::guard))
            .layer(axum::middleware::from_fn(log_request))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(Arc::clone(&self.shared)))
    }

    /// Serves on `listener` until `shutdown` resolves: in-flight requests finish, and the
    /// projection runners stop between batches.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let loopback = listener.local_addr()?.ip().is_loopback();
        let router = Service {
            shared: Arc::clone(&self.shared),
            runners: Vec::new(),
        }
        .routes(loopback)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if let Some(handle) = self.shared.metrics.clone() {
            // Histograms and idle metrics need regular upkeep.
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => handle.run_upkeep(),
                        _ = stopped.wait_for(|stop| *stop) => return,
                    }
                }
            });
        }
        let mut runners = self
            .runners
            .into_iter()
            .map(|start| start(stopped.clone()))
            .collect::<std::io::Result<Vec<_>>>()?;
        for entry in self.shared.sagas.values() {
            let (shared, entry, stop) =
                (Arc::clone(&self.shared), Arc::clone(entry), stopped.clone());
            let name = entry.name;
            runners.push(
                std::thread::Builder::new()
                    .name(format!("saga-{name}"))
                    .spawn(move || {
                        match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(runtime) => runtime.block_on(sagas::run(shared, entry, stop)),
                            Err(error) => {
                                tracing::error!(saga = name, %error, "no runtime for the saga's dispatcher");
                            }
                        }
                    })?,
            );
        }
        for entry in self.shared.windows.values() {
            if !entry.definition.emit {
                continue;
            }
            let (shared, entry, stop) =
                (Arc::clone(&self.shared), Arc::clone(entry), stopped.clone());
            let name = entry.name;
            runners.push(
                std::thread::Builder::new()
                    .name(format!("window-{name}"))
                    .spawn(move || {
                        match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(runtime) => runtime.block_on(windows::send(shared, entry, stop)),
                            Err(error) => {
                                tracing::error!(window = name, %error, "no runtime for the window's sender");
                            }
                        }
                    })?,
            );
        }
        let shared = Arc::clone(&self.shared);
        let shutdown = async move {
            shutdown.await;
            shared.stopping.send_replace(true);
        };
        let served = listen::serve(
            listener,
            router,
            self.shared.settings.max_connections,
            shutdown,
        )
        .await;
        let _ = stop.send(true);
        for runner in runners {
            let _ = tokio::task::spawn_blocking(move || runner.join()).await;
        }
        served
    }
}

/// How often a standing-by runner tries to take its projection's lease.
const STANDBY_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Operators' requests a runner holds while it works through a batch; more are refused (busy).
const REQUESTS_WAITING: usize = 16;

/// Runs `runner` until the service stops: a failed run (a stall, the store or read model down,
/// a panic) starts again from its checkpoint after a pause that doubles up to a minute, and
/// `health` says meanwhile that it is down, with the error. Operators' requests that wait when a
/// run ends are dropped, so their senders hear at once that it is not running.
fn supervise<S, P, B>(
    mut runner: ProjectionRunner<S, P, B>,
    runtime: &tokio::runtime::Runtime,
    mut stop: tokio::sync::watch::Receiver<bool>,
    health: &Health,
    requests: &mut tokio::sync::mpsc::Receiver<crate::projection::Request>,
) where
    S: EventStore,
    P: Projection,
    B: crate::read_model::Backend,
{
    let mut backoff = Backoff::default();
    loop {
        let started = std::time::Instant::now();
        let mut asked = stop.clone();
        let stopped = async move {
            let _ = asked.wait_for(|stop| *stop).await;
        };
        // Running once a batch went through: a restart that fails at once stays down.
        let run = std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                // Standing by while another instance on the same database runs the projection.
                let mut waiting = stop.clone();
                while !runner.claim()? {
                    if !matches!(health.get(), RunnerState::Standby) {
                        tracing::info!(
                            projection = P::NAME,
                            "another instance runs the projection; standing by"
                        );
                        health.set(RunnerState::Standby);
                        metrics::gauge!("eventsmith_projection_up", "projection" => P::NAME)
                            .set(0.0);
                    }
                    tokio::select! {
                        _ = waiting.wait_for(|stop| *stop) => return Ok(Ended::Stopped),
                        () = tokio::time::sleep(STANDBY_POLL) => {}
                    }
                }
                if matches!(health.get(), RunnerState::Standby) {
                    tracing::info!(projection = P::NAME, "took over the projection");
                }
                runner.run_batch().await?;
                health.set(RunnerState::Running);
                metrics::gauge!("eventsmith_projection_up", "projection" => P::NAME).set(1.0);
                runner.run_answering(stopped, Some(&mut *requests)).await
            })
        });
        let ended = std::panic::catch_unwind(run);
        while requests.try_recv().is_ok() {}
        let error = match ended {
            Ok(Ok(Ended::Stopped)) => {
                let _ = runner.release_lease();
                return;
            }
            Ok(Ok(Ended::Yielded)) => {
                // An operator's `replay` or `dlq` waits for the lease: it gets it now, and
                // the runner claims it again once it is done.
                tracing::info!(
                    projection = P::NAME,
                    "giving the projection to an operator's command"
                );
                if let Err(error) = runner.release_lease() {
                    tracing::warn!(projection = P::NAME, %error, "cannot give up the lease");
                }
                health.set(RunnerState::Standby);
                continue;
            }
            Ok(Err(error)) => {
                // The read model busy or locked (a checkpoint that could not be written, say):
                // retried like an event that fails transiently, and reported so.
                let transient = matches!(&error, ProjectionError::ReadModel(e) if e.transient);
                (error.to_string(), transient)
            }
            Err(panic) => (
                format!(
                    "the runner panicked: {}",
                    crate::projection::panic_message(panic.as_ref())
                ),
                false,
            ),
        };
        let (error, transient) = error;
        // Free for a healthy instance to take over meanwhile.
        if let Err(error) = runner.release_lease() {
            tracing::warn!(projection = P::NAME, %error, "cannot give up the lease");
        }
        let pause = backoff.after(started.elapsed());
        metrics::gauge!("eventsmith_projection_up", "projection" => P::NAME).set(0.0);
        metrics::counter!("eventsmith_projection_restarts_total", "projection" => P::NAME)
            .increment(1);
        tracing::error!(projection = P::NAME, %error, ?pause, "the projection failed; restarting it from its checkpoint");
        health.set(if transient {
            RunnerState::Retrying { error }
        } else {
            RunnerState::Down {
                error,
                failures: backoff.failures(),
            }
        });
        let stopping = runtime.block_on(async {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => true,
                () = tokio::time::sleep(pause) => false,
            }
        });
        if stopping {
            return;
        }
    }
}

/// Logs each request with `tracing`: method, path, status, duration and correlation id. Every
/// answer carries the correlation id (`X-Correlation-Id`); a failure's cause goes to the log
/// under it, and its answer says only that the service failed, with the id to quote.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let asked = correlation(request.headers());
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    // The command route answers with the id it stored in the events.
    let correlation_id = match response
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
    {
        Some(id) => id.to_owned(),
        None => {
            if let Ok(id) = HeaderValue::from_str(&asked) {
                response.headers_mut().insert("x-correlation-id", id);
            }
            asked
        }
    };
    let millis = started.elapsed().as_secs_f64() * 1e3;
    if let Some(problem::Cause { cause, mut body }) =
        response.extensions_mut().remove::<problem::Cause>()
    {
        tracing::error!(%method, %path, status, millis, correlation_id, cause, "request failed");
        body["correlation_id"] = Value::String(correlation_id);
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, axum::body::Body::from(body.to_string()));
    }
    if status >= 500 {
        tracing::error!(%method, %path, status, millis, correlation_id, "request failed");
    } else {
        tracing::info!(%method, %path, status, millis, correlation_id, "request");
    }
    response
}

/// A path that does not decode (`/streams/%FF`), as a problem.
fn path_problem(rejection: PathRejection) -> Problem {
    Problem::bad_request(rejection.body_text())
}

/// `If-Match: "<version>"` (an entity tag holding the stream version).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let tag = text.strip_prefix("W/").unwrap_or(text);
    tag.trim_matches('"').parse().map(Some).map_err(|_| {
        Problem::bad_request(format!(
            "If-Match `{text}` is not a quoted stream version, like \"3\""
        ))
    })
}

/// How long a client may take to send a request's body once its headers are in, by default.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "The body is too large",
        format!("bodies are limited to {limit} bytes"),
    )
}

/// Reads a command's body, at most `limit` bytes within `timeout`: a client that trickles its
/// body cannot hold a handler (nor a command's place in line) longer.
async fn read_body(
    body: axum::body::Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, Problem> {
    use http_body_util::BodyExt;
    match tokio::time::timeout(timeout, http_body_util::Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Ok(Err(_)) => Err(Problem::bad_request("the body could not be read")),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "The body took too long",
            format!("a request's body must arrive within {timeout:?} of its headers"),
        )),
    }
}

/// The longest `X-Correlation-Id` kept: it is stored in every event the request appends.
const MAX_CORRELATION_ID: usize = 128;

/// The correlation id: `X-Correlation-Id` (at most 128 letters, digits and `-._:`), else the
/// trace id of `traceparent`, else a new one.
fn correlation(headers: &HeaderMap) -> String {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let usable = |id: &&str| {
        !id.is_empty()
            && id.len() <= MAX_CORRELATION_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    };
    if let Some(id) = text("x-correlation-id").filter(usable) {
        return id.to_owned();
    }
    // traceparent: version-traceid-parentid-flags
    if let Some(trace) = text("traceparent").and_then(|t| t.split('-').nth(1))
        && trace.len() == 32
        && trace.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return trace.to_owned();
    }
    uuid::Uuid::now_v7().to_string()
}

async fn command<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let correlation_id = correlation(&headers);
    let result = async {
        let Path((aggregate, id, name)) = path.map_err(path_problem)?;
        let commands = shared
            .aggregates
            .get(&aggregate)
            .ok_or_else(|| Problem::not_found(format!("there is no aggregate `{aggregate}`")))?;
        commands::own_stream(
            commands.category(),
            &id,
            shared.aggregates.values().map(|other| other.category()),
        )?;
        let settings = &shared.settings;
        // Refused before it is uploaded when its length says so.
        if headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > settings.body_limit as u64)
        {
            return Err(too_large(settings.body_limit));
        }
        let body = read_body(body, settings.body_limit, settings.body_timeout).await?;
        let key = match headers.get("idempotency-key").map(HeaderValue::to_str) {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(_)) => {
                return Err(Problem::bad_request(
                    "an Idempotency-Key is visible ASCII (a UUID, say)",
                ));
            }
        };
        if key.is_some_and(str::is_empty) {
            return Err(Problem::bad_request(
                "an Idempotency-Key is not empty; send a new one (a UUID, say) with each new command",
            ));
        }
        if let Some(key) = key
            && key.len() > MAX_IDEMPOTENCY_KEY
        {
            return Err(Problem::bad_request(format!(
                "an Idempotency-Key is at most {MAX_IDEMPOTENCY_KEY} bytes; this one has {} (a UUID has 36)",
                key.len()
            )));
        }
        if let Some(key) = key
            && key.starts_with("saga:")
        {
            return Err(Problem::bad_request(format!(
                "Idempotency-Key `{key}` starts with `saga:`, which the service's sagas use for the commands they send; choose another key"
            )));
        }
        let options = Execute {
            expected_version: if_match(&headers)?,
            // Bound to the command's URL and body: the same key with another request is 422.
            // JSON keeps the URL's parts apart whatever they hold.
            idempotency_key: key.map(|key| {
                let mut request = json!([aggregate, id, name]).to_string().into_bytes();
                request.push(b'\n');
                request.extend_from_slice(&body);
                IdempotencyKey::new(key, &request)
            }),
            metadata: Metadata {
                correlation_id: Some(correlation_id.clone()),
                // One per request: a trace tells two calls of a command apart.
                causation_id: Some(format!(
                    "command:{aggregate}/{id}/{name}#{}",
                    uuid::Uuid::now_v7().simple()
                )),
                extra: Default::default(),
            },
        };
        commands.execute(&id, &name, &body, options).await
    }
    .await;
    let mut response = match result {
        Ok(outcome) => {
            let etag = format!("\"{}\"", outcome.version);
            let mut response = axum::Json(json!({
                "stream": outcome.stream,
                "version": outcome.version,
                "events": outcome.events,
            }))
            .into_response();
            if let Ok(etag) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, etag);
            }
            response
        }
        Err(problem) => problem.into_response(),
    };
    if let Ok(id) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert("x-correlation-id", id);
    }
    response
}

/// The most events one read answers with.
const MAX_PAGE: usize = 1_000;

/// The most payload bytes one page holds: a page ends before the event that would pass it
/// (it holds one event at least, whatever its size).
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Events read from the store at a time while a page fills (few: payloads may be large).
const READ_CHUNK: usize = 16;

/// What an event weighs in a page: its payload and metadata.
fn weight(envelope: &Envelope) -> usize {
    let metadata = &envelope.metadata;
    envelope.data.len()
        + metadata.correlation_id.as_ref().map_or(0, String::len)
        + metadata.causation_id.as_ref().map_or(0, String::len)
        + metadata
            .extra
            .iter()
            .map(|(key, value)| key.len() + value.to_string().len())
            .sum::<usize>()
}

/// Up to `limit` events from `first` on, read through `read(from, count)` a chunk at a time and
/// bounded by [`MAX_PAGE_BYTES`]; `after` gives where the next chunk starts.
async fn page<F, R>(
    first: u64,
    limit: usize,
    mut read: R,
    after: fn(&Envelope) -> u64,
) -> Result<Vec<Envelope>, Problem>
where
    R: FnMut(u64, usize) -> F,
    F: Future<Output = Result<Vec<Envelope>, crate::store::StoreError>>,
{
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut next = first;
    while events.len() < limit {
        let want = (limit - events.len()).min(READ_CHUNK);
        let chunk = read(next, want).await.map_err(commands::store_problem)?;
        let ended = chunk.len() < want;
        for envelope in chunk {
            let weight = weight(&envelope);
            if !events.is_empty() && bytes + weight > MAX_PAGE_BYTES {
                return Ok(events);
            }
            bytes += weight;
            next = after(&envelope) + 1;
            events.push(envelope);
        }
        if ended {
            break;
        }
    }
    Ok(events)
}

/// `GET /streams/{stream}?after=V&limit=N`: the stream's events after version `V`, a page at a
/// time, with the stream's current version.
async fn stream<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    stream: Result<Path<String>, PathRejection>,
    page: Result<Query<Feed>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Path(stream) = stream.map_err(path_problem)?;
    let Query(page) = page.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = page.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let latest = shared
        .store
        .read_stream(&stream, u64::MAX, Direction::Backwards, 1)
        .await
        .map_err(commands::store_problem)?;
    let Some(version) = latest.first().map(|e| e.stream_version) else {
        return Err(Problem::not_found(format!("there is no stream `{stream}`")));
    };
    let events = self::page(
        page.after.saturating_add(1),
        limit,
        |from, count| {
            shared
                .store
                .read_stream(&stream, from, Direction::Forwards, count)
        },
        |e| e.stream_version,
    )
    .await?;
    let next = events.last().map_or(page.after, |e| e.stream_version);
    let events: Vec<Value> = events.iter().map(|e| e.to_cloudevent()).collect();
    Ok(
        axum::Json(json!({ "stream": stream, "version": version, "events": events, "next": next }))
            .into_response(),
    )
}

/// `after` (a position or version) and `limit`, for the paged reads.
#[derive(serde::Deserialize)]
struct Feed {
    #[serde(default)]
    after: u64,
    /// `GET /events` only: the page that ends before this position, for reading back in time.
    before: Option<u64>,
    limit: Option<usize>,
}

/// Up to `limit` events just before position `before`, oldest first, bounded by
/// [`MAX_PAGE_BYTES`] (the newest kept): read back a chunk at a time, as positions may have gaps.
async fn page_before<S: EventStore>(
    store: &S,
    before: u64,
    limit: usize,
) -> Result<Vec<Envelope>, Problem> {
    let mut newest_first = Vec::new();
    let mut bytes = 0;
    let mut end = before.min(store.head().position().saturating_add(1));
    while newest_first.len() < limit && end > 1 {
        let want = (limit - newest_first.len()).min(MAX_PAGE);
        let start = end.saturating_sub(want as u64).max(1);
        let chunk = store
            .read_all(start, want)
            .await
            .map_err(commands::store_problem)?;
        for envelope in chunk.into_iter().filter(|e| e.position < end).rev() {
            let weight = weight(&envelope);
            if !newest_first.is_empty() && bytes + weight > MAX_PAGE_BYTES {
                newest_first.reverse();
                return Ok(newest_first);
            }
            bytes += weight;
            newest_first.push(envelope);
        }
        end = start;
    }
    newest_first.reverse();
    Ok(newest_first)
}

async fn events<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    feed: Result<Query<Feed>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(feed) = feed.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = feed.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    if let Some(before) = feed.before {
        if feed.after != 0 {
            return Err(Problem::bad_request(
                "give `after` (the page after a position) or `before` (the page before one), not both",
            ));
        }
        let events = page_before(&shared.store, before, limit).await?;
        let next = events.first().map_or(before, |e| e.position);
        let events: Vec<Value> = events.iter().map(|e| e.to_cloudevent()).collect();
        return Ok(axum::Json(json!({ "events": events, "next": next })).into_response());
    }
    let events = page(
        feed.after.saturating_add(1),
        limit,
        |from, count| shared.store.read_all(from, count),
        |e| e.position,
    )
    .await?;
    let next = events.last().map_or(feed.after, |e| e.position);
    let events: Vec<Value> = events.iter().map(|e| e.to_cloudevent()).collect();
    Ok(axum::Json(json!({ "events": events, "next": next })).into_response())
}

/// `GET /events/live`: server-sent events from `after` (or `Last-Event-ID`), each with its
/// position as id, its type as event name and its CloudEvent as data; stored events first, then
/// new ones as they are appended.
async fn live<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    headers: HeaderMap,
    feed: Result<Query<Feed>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    use axum::response::sse::{KeepAlive, Sse};
    let Query(feed) = feed.map_err(|e| Problem::bad_request(e.body_text()))?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(feed.after);
    let events = live::feed(&shared, after)?;
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn projection_of<'s, S>(
    shared: &'s Shared<S>,
    name: &str,
) -> Result<&'s Arc<dyn queries::Query>, Problem> {
    shared
        .projections
        .get(name)
        .ok_or_else(|| Problem::not_found(format!("there is no projection `{name}`")))
}

async fn row<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let Path((name, key)) = path.map_err(path_problem)?;
    let answer = projection_of(&shared, &name)?.get(key.clone()).await?;
    let (lag, healthy) = freshness(&shared, &name, answer.position);
    let Some(row) = answer.value else {
        return Err(Problem::not_found(format!("`{name}` has no row `{key}`"))
            .with("position", answer.position.into())
            .with("lag", lag.into())
            .with("healthy", healthy.into()));
    };
    Ok(axum::Json(
        json!({ "row": row, "position": answer.position, "lag": lag, "healthy": healthy }),
    )
    .into_response())
}

async fn list<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    name: Result<Path<String>, PathRejection>,
    filters: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Path(name) = name.map_err(path_problem)?;
    let Query(mut filters) = filters.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = match filters.remove("limit") {
        Some(limit) => limit
            .parse::<usize>()
            .map_err(|_| Problem::bad_request(format!("limit `{limit}` is not a number")))?,
        None => 100,
    }
    .clamp(1, MAX_PAGE);
    let answer = projection_of(&shared, &name)?
        .list(filters.into_iter().collect(), limit)
        .await?;
    let (lag, healthy) = freshness(&shared, &name, answer.position);
    Ok(axum::Json(json!({
        "rows": answer.value, "position": answer.position, "lag": lag, "healthy": healthy
    }))
    .into_response())
}

async fn prometheus<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
) -> Result<Response, Problem> {
    let handle = shared
        .metrics
        .as_ref()
        .ok_or_else(|| Problem::not_found("this service exports no metrics"))?;
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(response)
}

async fn ready<S: EventStore + Clone + Sync + 'static>(
    State(shared): State<Arc<Shared<S>>>,
) -> Result<Response, Problem> {
    shared.store.read_all(1, 1).await.map_err(|error| {
        // The cause is in the log (this route needs no token).
        tracing::error!(%error, "readiness: the event store cannot be read");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "The store cannot be read",
            "the event store cannot be read; the log says why",
        )
    })?;
    let mut reasons = Vec::new();
    let mut projections = Vec::new();

    for (name, query) in &shared.projections {
        // The cause is in the log (this route needs no token): the answer names the state.
        match shared.health.get(name).map(|h| h.get()) {
            Some(RunnerState::Down { failures, .. }) => {
                reasons.push(format!(
                    "projection `{name}` is down ({failures} failure(s) in a row; the log says why), restarting"
                ));
                projections
                    .push(json!({"projection": name, "state": "down", "failures": failures}));
                continue;
            }
            Some(RunnerState::Retrying { .. }) => {
                reasons.push(format!(
                    "projection `{name}` is retrying an event that fails transiently (the log says why)"
                ));
                projections.push(json!({"projection": name, "state": "retrying"}));
                continue;
            }
            _ => {}
        }
        match query.position().await {
            Ok(answer) => {
                let lag = shared.head_of(name).saturating_sub(answer.position);
                if lag > shared.settings.ready_lag {
                    reasons.push(format!(
                        "projection `{name}` is {lag} events behind (more than {})",
                        shared.settings.ready_lag
                    ));
                    projections.push(json!({"projection": name, "state": "lagging", "position": answer.position, "lag": lag}));
                }
            }
            Err(problem) => {
                tracing::error!(projection = %name, detail = ?problem.body(), "readiness: the read model cannot be read");
                reasons.push(format!("projection `{name}`'s read model cannot be read"));
                projections.push(json!({"projection": name, "state": "unreadable"}));
            }
        }
    }
    let runners = shared
        .sagas
        .iter()
        .map(|(name, entry)| ("saga", name, &entry.source, entry.name))
        .chain(
            shared
                .windows
                .iter()
                .map(|(name, entry)| ("window", name, &entry.source, entry.name)),
        );
    for (kind, name, source, table) in runners {
        match shared.health.get(name).map(|h| h.get()) {
            Some(RunnerState::Down { failures, .. }) => {
                reasons.push(format!(
                    "{kind} `{name}` is down ({failures} failure(s) in a row; the log says why), restarting"
                ));
                projections.push(json!({kind: name, "state": "down", "failures": failures}));
                continue;
            }
            Some(RunnerState::Retrying { .. }) => {
                reasons.push(format!(
                    "{kind} `{name}` is retrying an event that fails transiently (the log says why)"
                ));
                projections.push(json!({kind: name, "state": "retrying"}));
                continue;
            }
            _ => {}
        }
        match source.read(table, |_| Ok(())).await {
            Ok(answer) => {
                let lag = shared
                    .store
                    .head()
                    .position()
                    .saturating_sub(answer.position);
                if lag > shared.settings.ready_lag {
                    reasons.push(format!(
                        "{kind} `{name}` is {lag} events behind (more than {})",
                        shared.settings.ready_lag
                    ));
                    projections.push(json!({kind: name, "state": "lagging", "position": answer.position, "lag": lag}));
                }
            }
            Err(problem) => {
                tracing::error!(%kind, %name, detail = ?problem.body(), "readiness: the tables cannot be read");
                reasons.push(format!("{kind} `{name}`'s tables cannot be read"));
                projections.push(json!({kind: name, "state": "unreadable"}));
            }
        }
    }
    // A relay that is down does not make the service unready: commands and queries go on, and
    // the relay publishes what it missed once NATS is back. It is reported, not failed.
    let relay = match shared.relay.as_ref().map(|h| h.get()) {
        Some(RunnerState::Down { failures, .. }) => Some(json!({
            "relay": "nats", "state": "down", "failures": failures,
            "detail": "the relay to NATS is down (the log says why); it publishes what it missed when NATS is back"
        })),
        _ => None,
    };
    if reasons.is_empty() {
        return Ok(match relay {
            Some(relay) => {
                axum::Json(json!({"status": "degraded", "relay": relay})).into_response()
            }
            None => "ready".into_response(),
        });
    }
    let problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "A projection is down or behind",
        reasons.join("; "),
    )
    .with("projections", Value::Array(projections));
    Err(match relay {
        Some(relay) => problem.with("relay", relay),
        None => problem,
    })
}

/// How fresh a projection's answer is: events it is behind the store, and whether its runner
/// is running (not down after a failure).
fn freshness<S: EventStore>(shared: &Shared<S>, name: &str, position: u64) -> (u64, bool) {
    let lag = shared.head_of(name).saturating_sub(position);
    let healthy = shared
        .health
        .get(name)
        .is_none_or(|health| health.is_running());
    (lag, healthy)
}
