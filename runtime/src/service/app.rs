//! The command line of a generated service: `serve`, `replay --projection P` and
//! `dlq list|retry|skip`. A generated `main.rs` lists its aggregates and projections on an
//! [`App`] and calls [`App::main`]; everything else (settings from flags and the environment,
//! logs, signals, the database layout) lives here.

use super::{Service, Settings};
use crate::Aggregate;
use crate::command::CommandSet;
use crate::projection::{
    DeadLetter, Projection, ProjectionError, ProjectionRunner, Released, Status,
};
use crate::read_model::Tabled;
use crate::repository::Repository;
use crate::store::{AnyStore, SqliteOptions, SqliteStore, StoreError};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The store a generated service runs on: SQLite or PostgreSQL, by its database URL.
pub type Store = Arc<AnyStore>;

type AddAggregate = Box<dyn Fn(Service<Store>, Store, usize) -> Service<Store>>;
type AddProjection = Box<
    dyn Fn(
        Service<Store>,
        &Layout,
        Option<&Consume>,
        &tokio::runtime::Runtime,
        &[SagaTimeout],
    ) -> Result<Service<Store>, ProjectionError>,
>;

/// `--saga-timeout <saga>.<timeout>=<duration>`.
#[derive(Debug, Clone, PartialEq)]
struct SagaTimeout {
    saga: String,
    timeout: String,
    duration: std::time::Duration,
}

fn saga_timeout(text: &str) -> Result<SagaTimeout, String> {
    let usage = || {
        format!("`{text}` is not `<saga>.<timeout>=<duration>`, like `order_fulfilment.payment=2s`")
    };
    let (name, duration_text) = text.trim().split_once('=').ok_or_else(usage)?;
    let (saga, timeout) = name.split_once('.').ok_or_else(usage)?;
    if saga.is_empty() || timeout.is_empty() {
        return Err(usage());
    }
    Ok(SagaTimeout {
        saga: saga.to_owned(),
        timeout: timeout.to_owned(),
        duration: duration(duration_text)?,
    })
}

/// Where projections read events from instead of the service's own store (`--consume`): a
/// NATS JetStream stream another service publishes to.
struct Consume {
    url: String,
    stream: String,
    /// This service's name: each projection reads through consumer `<service>_<projection>`.
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    service: &'static str,
}
/// Runs an operation on a projection: `replay` and `dlq` (the store is `None` for `dlq list`,
/// which reads the read model alone).
type Administer = Box<
    dyn Fn(
        Option<Store>,
        &Layout,
        Option<&Consume>,
        &tokio::runtime::Runtime,
        Operation,
    ) -> Result<Done, ProjectionError>,
>;

/// A service's domain, as its generated `main.rs` lists it.
pub struct App {
    name: &'static str,
    version: &'static str,
    about: &'static str,
    aggregates: Vec<(&'static str, AddAggregate)>,
    projections: Vec<(&'static str, AddProjection, Administer)>,
    /// The sagas' definitions (they are among `projections` too), to check `--saga-timeout`.
    sagas: Vec<crate::saga::Definition>,
    /// The windows' names (they are among `projections` too), for `replay --window`.
    windows: Vec<&'static str>,
}

/// What `replay` and `dlq` do to one projection.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Rebuild,
    List,
    Retry(i64),
    Skip(i64),
}

enum Done {
    Rebuilt(Status),
    Letters(Vec<DeadLetter>),
    Resolved(Released),
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the events are.
#[derive(clap::Args, Clone)]
struct Database {
    /// The event store: `sqlite://PATH` (projections go beside it, in PATH's directory) or
    /// `postgres://USER@HOST:PORT/DATABASE` (projections go in the same schema; several
    /// instances may serve one database).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/events.db",
        value_name = "URL"
    )]
    database: String,
    /// On PostgreSQL, the schema that holds everything of this service (default: the service's
    /// name).
    #[arg(long, env = "EVENTSMITH_SCHEMA", value_name = "NAME")]
    schema: Option<String>,
    /// Run the projections from this NATS server's JetStream stream (another service's
    /// events, as its --publish sends them) instead of this service's own store.
    #[arg(long, env = "EVENTSMITH_CONSUME", value_name = "URL")]
    consume: Option<String>,
    /// The stream --consume reads (default: this service's, `<SERVICE>`).
    #[arg(long, env = "EVENTSMITH_CONSUME_STREAM", value_name = "NAME")]
    consume_stream: Option<String>,
}

// Parsed once, at startup: the size of `serve`'s settings does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and run the projections until SIGTERM or Ctrl-C.
    Serve {
        /// The address to listen on.
        #[arg(
            long,
            env = "EVENTSMITH_LISTEN",
            default_value = "127.0.0.1:8080",
            value_name = "ADDR"
        )]
        listen: String,
        #[command(flatten)]
        database: Database,
        /// The largest request body accepted, in bytes (413 beyond).
        #[arg(
            long,
            env = "EVENTSMITH_BODY_LIMIT",
            default_value_t = 1024 * 1024,
            value_name = "BYTES"
        )]
        body_limit: usize,
        /// A file holding the bearer token every route but /healthz and /readyz then needs
        /// (else the environment's EVENTSMITH_TOKEN; never a flag, which `ps` would show).
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// A file holding a read-only token, which may read but send no command (else the
        /// environment's EVENTSMITH_READ_TOKEN).
        #[arg(long, value_name = "PATH")]
        read_token_file: Option<PathBuf>,
        /// The origins browsers may call the service from, comma-separated (CORS; none by default).
        #[arg(
            long,
            env = "EVENTSMITH_CORS_ORIGINS",
            value_delimiter = ',',
            value_name = "ORIGINS"
        )]
        cors_origins: Vec<String>,
        /// How many events a projection may be behind the store before /readyz answers 503.
        #[arg(
            long,
            env = "EVENTSMITH_READY_MAX_LAG",
            default_value_t = 1000,
            value_name = "EVENTS"
        )]
        ready_max_lag: u64,
        /// How long an Idempotency-Key is remembered: seconds, or a number with s, m, h or d.
        #[arg(
            long,
            env = "EVENTSMITH_IDEMPOTENCY_TTL",
            default_value = "24h",
            value_name = "DURATION",
            value_parser = key_lifetime
        )]
        idempotency_ttl: std::time::Duration,
        /// The most connections served at once; more are answered 503 and closed.
        #[arg(
            long,
            env = "EVENTSMITH_MAX_CONNECTIONS",
            default_value_t = 10_000,
            value_name = "N"
        )]
        max_connections: usize,
        /// The most /events/live clients at once (503 beyond).
        #[arg(
            long,
            env = "EVENTSMITH_MAX_LIVE_CLIENTS",
            default_value_t = 5_000,
            value_name = "N"
        )]
        max_live_clients: usize,
        /// How many aggregates' states are kept in memory between commands.
        #[arg(
            long,
            env = "EVENTSMITH_CACHE",
            default_value_t = 10_000,
            value_name = "N"
        )]
        cache: usize,
        /// Publish every event to NATS JetStream at this server (`nats://HOST:PORT`): subject
        /// `<service>.<event type>`, stream `<SERVICE>` (created when missing).
        #[arg(long, env = "EVENTSMITH_PUBLISH", value_name = "URL")]
        publish: Option<String>,
        /// The CloudEvents `source` of the events this service appends (default `urn:eventsmith:<name>`).
        #[arg(long, env = "EVENTSMITH_SOURCE", value_name = "URI")]
        source: Option<String>,
        /// Log format (filter with `RUST_LOG`, default `info`).
        #[arg(long, env = "EVENTSMITH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Overrides a saga's timeout: `<saga>.<timeout>=<duration>` (seconds, or a number with
        /// s, m, h or d), e.g. `order_fulfilment.payment=2s`; repeatable, comma-separated in
        /// the environment.
        #[arg(
            long = "saga-timeout",
            env = "EVENTSMITH_SAGA_TIMEOUTS",
            value_delimiter = ',',
            value_name = "SAGA.TIMEOUT=DURATION",
            value_parser = saga_timeout
        )]
        saga_timeouts: Vec<SagaTimeout>,
    },
    /// Rebuild a projection's read model, or a window, from the first event (stop the service
    /// first).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["projection", "window"])))]
    Replay {
        /// The projection's name.
        #[arg(long, value_name = "NAME")]
        projection: Option<String>,
        /// The window's name.
        #[arg(long, value_name = "NAME")]
        window: Option<String>,
        #[command(flatten)]
        database: Database,
    },
    /// The events a projection could not take into account.
    #[command(subcommand)]
    Dlq(Dlq),
}

#[derive(Subcommand)]
enum Dlq {
    /// List the open dead letters (of one projection, or of all).
    List {
        #[arg(long, value_name = "NAME")]
        projection: Option<String>,
        #[command(flatten)]
        database: Database,
    },
    /// Apply a dead letter again, after a fix (stop the service first).
    Retry {
        /// The dead letter's id, as `dlq list` shows it.
        id: i64,
        #[arg(long, value_name = "NAME")]
        projection: String,
        #[command(flatten)]
        database: Database,
    },
    /// Give up on a dead letter (stop the service first).
    Skip {
        /// The dead letter's id, as `dlq list` shows it.
        id: i64,
        #[arg(long, value_name = "NAME")]
        projection: String,
        #[command(flatten)]
        database: Database,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Why a run failed.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.to_string())
    }
}

impl App {
    /// A service called `name` (its binary) at `version`, described by `about`.
    pub fn new(name: &'static str, version: &'static str, about: &'static str) -> Self {
        Self {
            name,
            version,
            about,
            aggregates: Vec::new(),
            projections: Vec::new(),
            sagas: Vec::new(),
            windows: Vec::new(),
        }
    }

    /// Serves aggregate `A`'s commands under `/commands/{name}/…`, snapshotting every
    /// `snapshot_every` events when set.
    pub fn aggregate<A>(mut self, name: &'static str, snapshot_every: Option<u64>) -> Self
    where
        A: Aggregate + 'static,
        A::Command: CommandSet,
    {
        self.aggregates.push((
            name,
            Box::new(move |service, store, cache| {
                let mut repository = Repository::<Store, A>::new(store).cache(cache);
                if let Some(every) = snapshot_every {
                    repository = repository.snapshot_every(every);
                }
                service.aggregate(name, repository)
            }),
        ));
        self
    }

    /// Runs projection `P` (built by `Default`) while serving, and under `replay` and `dlq`.
    pub fn projection<P>(mut self) -> Self
    where
        P: Projection + Tabled + Default + 'static,
        P::Row: 'static,
    {
        self.projections.push((
            P::NAME,
            Box::new(|service, layout, consume, runtime, _| match consume {
                None => match layout {
                    Layout::Sqlite { .. } => {
                        service.projection(P::default(), layout.projection(P::NAME))
                    }
                    #[cfg(feature = "postgres")]
                    Layout::Postgres { url, schema } => {
                        service.postgres_projection(P::default(), url, schema)
                    }
                },
                Some(consume) => from_feed::<P>(service, layout, consume, runtime),
            }),
            Box::new(|store, layout, consume, runtime, operation| {
                let Some(store) = store else {
                    // `dlq list`: read-only, nothing set up or written, beside a serving service.
                    return Ok(Done::Letters(dead_letters::<P>(layout)?));
                };
                match consume {
                    None => administer::<_, P>(store, layout, runtime, operation),
                    Some(consume) => administer_from_feed::<P>(consume, layout, runtime, operation),
                }
            }),
        ));
        self
    }

    /// Runs saga `G` while serving (on the service's own store, beside the projections); its
    /// dead letters are listed and retried by `dlq` like a projection's.
    pub fn saga<G: crate::saga::Saga>(mut self) -> Self {
        let definition = crate::saga::SagaProjection::<G>::default()
            .definition()
            .clone();
        self.sagas.push(definition);
        self.projections.push((
            G::NAME,
            Box::new(|service, layout, _, _, overrides| {
                let mut definition = crate::saga::SagaProjection::<G>::default().definition().clone();
                for wanted in overrides.iter().filter(|o| o.saga == G::NAME) {
                    definition
                        .override_timeout(&wanted.timeout, wanted.duration)
                        .map_err(|e| ProjectionError::ReadModel(crate::read_model::BackendError::permanent(e)))?;
                }
                let saga = crate::saga::SagaProjection::<G>::new(definition);
                match layout {
                    Layout::Sqlite { .. } => service.saga(saga, layout.projection(G::NAME)),
                    #[cfg(feature = "postgres")]
                    Layout::Postgres { url, schema } => service.postgres_saga(saga, url, schema),
                }
            }),
            Box::new(|store, layout, _, runtime, operation| {
                let Some(store) = store else {
                    return Ok(Done::Letters(dead_letters::<crate::saga::SagaProjection<G>>(layout)?));
                };
                if matches!(operation, Operation::Rebuild) {
                    return Err(ProjectionError::ReadModel(crate::read_model::BackendError::permanent(format!(
                        "`{}` is a saga: replaying it would decide again on commands it already sent; its instances stay as they are",
                        G::NAME
                    ))));
                }
                administer::<_, crate::saga::SagaProjection<G>>(store, layout, runtime, operation)
            }),
        ));
        self
    }

    /// Runs window `W` while serving (on the service's own store, beside the projections);
    /// `replay --window` rebuilds it, `dlq` lists and retries its dead letters.
    pub fn window<W: crate::window::Window>(mut self) -> Self {
        self.windows.push(W::NAME);
        self.projections.push((
            W::NAME,
            Box::new(|service, layout, _, _, _| {
                let window = crate::window::WindowProjection::<W>::default();
                match layout {
                    Layout::Sqlite { .. } => service.window(window, layout.projection(W::NAME)),
                    #[cfg(feature = "postgres")]
                    Layout::Postgres { url, schema } => {
                        service.postgres_window(window, url, schema)
                    }
                }
            }),
            Box::new(|store, layout, _, runtime, operation| {
                let Some(store) = store else {
                    return Ok(Done::Letters(dead_letters::<
                        crate::window::WindowProjection<W>,
                    >(layout)?));
                };
                administer::<_, crate::window::WindowProjection<W>>(
                    store, layout, runtime, operation,
                )
            }),
        ));
        self
    }

    /// Parses the command line and runs it: exit 0 on success, 1 on failure, 2 on usage errors.
    pub fn main(self) -> ExitCode {
        let matches = <Cli as clap::CommandFactory>::command()
            .name(self.name)
            .bin_name(self.name)
            .about(self.about)
            .version(self.version)
            .get_matches();
        let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(error) => error.exit(),
        };
        match self.run(cli.command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure(message)) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    }

    fn run(self, command: Command) -> Result<(), Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        match command {
            Command::Serve {
                listen,
                database,
                body_limit,
                token_file,
                read_token_file,
                cors_origins,
                ready_max_lag,
                idempotency_ttl,
                max_connections,
                max_live_clients,
                cache,
                publish,
                source,
                log_format,
                saga_timeouts,
            } => {
                logs(log_format)?;
                self.check_saga_timeouts(&saga_timeouts)?;
                let settings = Settings {
                    body_limit,
                    token: secret("EVENTSMITH_TOKEN", token_file.as_deref())?,
                    read_token: secret("EVENTSMITH_READ_TOKEN", read_token_file.as_deref())?,
                    cors_origins: cors_origins
                        .into_iter()
                        .map(|origin| origin.trim().to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect(),
                    ready_lag: ready_max_lag,
                    max_connections: usable_connections(max_connections),
                    max_live_clients,
                    name: self.name.to_owned(),
                    ..Settings::default()
                };
                settings.access().map_err(|e| e.to_string())?;
                let source = source.unwrap_or_else(|| format!("urn:eventsmith:{}", self.name));
                let layout = self.layout(&database)?;
                let store = layout.open(source, "serve", Some(idempotency_ttl), &runtime)?;
                let metrics = super::install_metrics()?;
                let mut service = Service::new(Arc::clone(&store))
                    .settings(settings)
                    .metrics(metrics);
                for (_, add) in &self.aggregates {
                    service = add(service, Arc::clone(&store), cache);
                }
                let consume = self.consume(&database);
                for (name, add, _) in &self.projections {
                    service = add(service, &layout, consume.as_ref(), &runtime, &saga_timeouts)
                        .map_err(|e| format!("projection `{name}`: {e}"))?;
                }
                if let (Some(_), Some(consume)) = (&publish, &consume)
                    && consume.stream == stream_of(self.name)
                {
                    return Err(Failure(format!(
                        "--publish and --consume name the same stream, `{}`: a service would read its own events back; give --consume-stream the other service's stream",
                        consume.stream
                    )));
                }
                if let Some(url) = publish {
                    service = self.publish(service, &layout, url)?;
                }
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind(&listen)
                        .await
                        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                    let address = listener.local_addr()?;
                    // On stdout too, for whoever started it on port 0.
                    println!("listening on http://{address}");
                    tracing::info!(
                        service = self.name,
                        %address,
                        database = %layout.describe(),
                        "listening"
                    );
                    service.serve(listener, shutdown_signal()).await?;
                    tracing::info!(service = self.name, "stopped");
                    Ok::<_, Failure>(())
                })
            }
            Command::Replay {
                projection,
                window,
                database,
            } => {
                let projection = match (projection, window) {
                    (_, Some(window)) => self.window_name(&window)?.to_owned(),
                    (Some(projection), None) => projection,
                    (None, None) => unreachable!("clap requires --projection or --window"),
                };
                let (layout, store) = self.existing(&database, "replay", &runtime)?;
                let done = self.administer(
                    &projection,
                    &database,
                    &layout,
                    Some(store),
                    &runtime,
                    Operation::Rebuild,
                )?;
                if let Done::Rebuilt(status) = done {
                    println!(
                        "rebuilt `{projection}` up to position {} of {}",
                        status.position, status.head
                    );
                }
                Ok(())
            }
            Command::Dlq(Dlq::List {
                projection,
                database,
            }) => {
                let layout = self.existing_layout(&database)?;
                let names: Vec<&str> = match &projection {
                    Some(name) => vec![self.projection_name(name)?],
                    None => self.projections.iter().map(|(name, ..)| *name).collect(),
                };
                let mut any = false;
                for name in names {
                    let done =
                        self.administer(name, &database, &layout, None, &runtime, Operation::List)?;
                    if let Done::Letters(letters) = done {
                        for letter in letters {
                            any = true;
                            println!(
                                "{name}\t{}\tposition {}\t{} v{}\t{}\tattempts {}\t{}",
                                letter.id,
                                letter.position,
                                letter.event_type,
                                letter.version,
                                letter.stream,
                                letter.attempts,
                                letter.error
                            );
                        }
                    }
                }
                if !any {
                    println!("no open dead letters");
                }
                Ok(())
            }
            Command::Dlq(Dlq::Retry {
                id,
                projection,
                database,
            }) => {
                let (layout, store) = self.existing(&database, "retry a dead letter", &runtime)?;
                let done = self.administer(
                    &projection,
                    &database,
                    &layout,
                    Some(store),
                    &runtime,
                    Operation::Retry(id),
                )?;
                println!("dead letter {id} of `{projection}` applied");
                released(done);
                Ok(())
            }
            Command::Dlq(Dlq::Skip {
                id,
                projection,
                database,
            }) => {
                let (layout, store) = self.existing(&database, "skip a dead letter", &runtime)?;
                let done = self.administer(
                    &projection,
                    &database,
                    &layout,
                    Some(store),
                    &runtime,
                    Operation::Skip(id),
                )?;
                println!("dead letter {id} of `{projection}` skipped");
                released(done);
                Ok(())
            }
        }
    }

    /// Adds the relay to NATS at `url` to `service`.
    #[cfg(feature = "nats")]
    fn publish(
        &self,
        service: Service<Store>,
        layout: &Layout,
        url: String,
    ) -> Result<Service<Store>, Failure> {
        let publishing = super::relay::Publishing {
            url,
            service: self.name.to_owned(),
        };
        let failed = |e: crate::read_model::BackendError| format!("the relay's checkpoint: {e}");
        Ok(match layout {
            Layout::Sqlite { .. } => service.relay(
                crate::read_model::sqlite::SqliteReadModel::open(
                    layout.projection(super::relay::NAME),
                )
                .map_err(failed)?,
                publishing,
            ),
            #[cfg(feature = "postgres")]
            Layout::Postgres { url, schema } => service.relay(
                crate::read_model::postgres::PostgresReadModel::open(url, schema)
                    .map_err(failed)?,
                publishing,
            ),
        })
    }

    #[cfg(not(feature = "nats"))]
    fn publish(
        &self,
        _: Service<Store>,
        _: &Layout,
        url: String,
    ) -> Result<Service<Store>, Failure> {
        Err(Failure(format!(
            "--publish {url}: this service was built without NATS support: enable the `nats` feature of its `eventsmith` dependency"
        )))
    }

    /// Where `database` says projections read from instead of the store, if anywhere.
    fn consume(&self, database: &Database) -> Option<Consume> {
        database.consume.clone().map(|url| Consume {
            url,
            stream: database
                .consume_stream
                .clone()
                .unwrap_or_else(|| stream_of(self.name)),
            service: self.name,
        })
    }

    fn layout(&self, database: &Database) -> Result<Layout, Failure> {
        Layout::of(&database.database, database.schema.as_deref(), self.name)
    }

    /// The layout of a database that must exist already (the admin commands never create a
    /// SQLite file by mistake).
    fn existing_layout(&self, database: &Database) -> Result<Layout, Failure> {
        let layout = self.layout(database)?;
        if let Layout::Sqlite { events } = &layout
            && !events.exists()
        {
            return Err(Failure(format!(
                "there is no event store at {}; pass --database or set DATABASE_URL",
                events.display()
            )));
        }
        Ok(layout)
    }

    /// The layout and store of a database that must exist already.
    fn existing(
        &self,
        database: &Database,
        doing: &str,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<(Layout, Store), Failure> {
        let layout = self.existing_layout(database)?;
        let store = layout.open(
            format!("urn:eventsmith:{}", self.name),
            doing,
            None,
            runtime,
        )?;
        Ok((layout, store))
    }

    /// Refuses an override of a saga or timeout that does not exist.
    fn check_saga_timeouts(&self, overrides: &[SagaTimeout]) -> Result<(), Failure> {
        for wanted in overrides {
            let Some(definition) = self.sagas.iter().find(|d| d.name == wanted.saga) else {
                let known: Vec<&str> = self.sagas.iter().map(|d| d.name.as_str()).collect();
                return Err(Failure(format!(
                    "--saga-timeout names saga `{}`, which this service does not have; its sagas are: {}",
                    wanted.saga,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            definition
                .clone()
                .override_timeout(&wanted.timeout, wanted.duration)
                .map_err(|e| Failure(format!("--saga-timeout: {e}")))?;
        }
        Ok(())
    }

    fn projection_name(&self, name: &str) -> Result<&'static str, Failure> {
        self.projections
            .iter()
            .map(|(known, ..)| *known)
            .find(|known| *known == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.projections.iter().map(|(n, ..)| *n).collect();
                Failure(format!(
                    "there is no projection `{name}`; the projections are: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    }

    fn window_name(&self, name: &str) -> Result<&'static str, Failure> {
        self.windows
            .iter()
            .copied()
            .find(|known| *known == name)
            .ok_or_else(|| {
                Failure(format!(
                    "there is no window `{name}`; the windows are: {}",
                    if self.windows.is_empty() {
                        "none".to_owned()
                    } else {
                        self.windows.join(", ")
                    }
                ))
            })
    }

    fn administer(
        &self,
        name: &str,
        database: &Database,
        layout: &Layout,
        store: Option<Store>,
        runtime: &tokio::runtime::Runtime,
        operation: Operation,
    ) -> Result<Done, Failure> {
        let consume = self.consume(database);
        let name = self.projection_name(name)?;
        let (_, _, administer) = self
            .projections
            .iter()
            .find(|(known, ..)| *known == name)
            .ok_or_else(|| Failure(format!("there is no projection `{name}`")))?;
        administer(store, layout, consume.as_ref(), runtime, operation)
            .map_err(|e| Failure(format!("projection `{name}`: {e}")))
    }
}

/// Runs projection `P` from the NATS stream `consume` names, into the read model `layout` says.
#[cfg(feature = "nats")]
fn from_feed<P>(
    service: Service<Store>,
    layout: &Layout,
    consume: &Consume,
    runtime: &tokio::runtime::Runtime,
) -> Result<Service<Store>, ProjectionError>
where
    P: Projection + Tabled + Default + 'static,
    P::Row: 'static,
{
    let feed = runtime.block_on(crate::store::NatsFeed::connect(
        &consume.url,
        &consume.stream,
        &format!("{}_{}", consume.service, P::NAME),
    ))?;
    let head = Some(crate::store::EventStore::head(&feed));
    match layout {
        Layout::Sqlite { .. } => {
            service.sqlite_projection_from(feed, head, P::default(), layout.projection(P::NAME))
        }
        #[cfg(feature = "postgres")]
        Layout::Postgres { url, schema } => {
            service.postgres_projection_from(feed, head, P::default(), url, schema)
        }
    }
}

#[cfg(not(feature = "nats"))]
fn from_feed<P>(
    _: Service<Store>,
    _: &Layout,
    consume: &Consume,
    _: &tokio::runtime::Runtime,
) -> Result<Service<Store>, ProjectionError> {
    Err(without_nats(consume))
}

#[cfg(not(feature = "nats"))]
fn without_nats(consume: &Consume) -> ProjectionError {
    ProjectionError::Store(StoreError::Backend(format!(
        "--consume {}: this service was built without NATS support: enable the `nats` feature of its `eventsmith` dependency",
        consume.url
    )))
}

/// Projection `P`'s open dead letters, read without setting anything up.
fn dead_letters<P: Projection>(layout: &Layout) -> Result<Vec<DeadLetter>, ProjectionError> {
    match layout {
        Layout::Sqlite { .. } => {
            let db = layout.projection(P::NAME);
            if !db.exists() {
                return Ok(Vec::new());
            }
            let model = crate::read_model::sqlite::SqliteReadModel::open_read_only(db)?;
            Ok(crate::read_model::Backend::dead_letters(&model, P::NAME)?)
        }
        #[cfg(feature = "postgres")]
        Layout::Postgres { url, schema } => {
            let model = crate::read_model::postgres::PostgresReadModel::open(url, schema)?;
            Ok(crate::read_model::Backend::dead_letters(&model, P::NAME)?)
        }
    }
}

/// Runs `operation` on projection `P` fed by `store`, in the read model `layout` says: on
/// PostgreSQL once the instance running it gave it up.
fn administer<S, P>(
    store: S,
    layout: &Layout,
    runtime: &tokio::runtime::Runtime,
    operation: Operation,
) -> Result<Done, ProjectionError>
where
    S: crate::store::EventStore,
    P: Projection + Default,
{
    match layout {
        Layout::Sqlite { .. } => operate(
            ProjectionRunner::open(store, P::default(), layout.projection(P::NAME))?,
            runtime,
            operation,
        ),
        #[cfg(feature = "postgres")]
        Layout::Postgres { url, schema } => {
            let model = crate::read_model::postgres::PostgresReadModel::open(url, schema)?;
            let mut runner = ProjectionRunner::new(store, P::default(), model)?;
            // A running instance gives the projection up between batches.
            if !runner.wait_for_lease(LEASE_PATIENCE)? {
                return Err(ProjectionError::ReadModel(
                    crate::read_model::BackendError::transient(format!(
                        "the instance running `{}` did not give it up within {} s; try again",
                        P::NAME,
                        LEASE_PATIENCE.as_secs()
                    )),
                ));
            }
            operate(runner, runtime, operation)
        }
    }
}

/// [`administer`] with the events of the NATS stream `consume` names (through a consumer of
/// its own, so a running instance's is left alone).
#[cfg(feature = "nats")]
fn administer_from_feed<P: Projection + Default>(
    consume: &Consume,
    layout: &Layout,
    runtime: &tokio::runtime::Runtime,
    operation: Operation,
) -> Result<Done, ProjectionError> {
    let feed = runtime.block_on(crate::store::NatsFeed::connect(
        &consume.url,
        &consume.stream,
        &format!("{}_{}_admin", consume.service, P::NAME),
    ))?;
    administer::<_, P>(feed, layout, runtime, operation)
}

#[cfg(not(feature = "nats"))]
fn administer_from_feed<P: Projection + Default>(
    consume: &Consume,
    _: &Layout,
    _: &tokio::runtime::Runtime,
    _: Operation,
) -> Result<Done, ProjectionError> {
    Err(without_nats(consume))
}

/// How long `replay` and `dlq` wait for a running instance to give up a projection.
#[cfg(feature = "postgres")]
const LEASE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `operation` with `runner`.
fn operate<S, P, B>(
    mut runner: ProjectionRunner<S, P, B>,
    runtime: &tokio::runtime::Runtime,
    operation: Operation,
) -> Result<Done, ProjectionError>
where
    S: crate::store::EventStore,
    P: Projection,
    B: crate::read_model::Backend,
{
    Ok(match operation {
        Operation::Rebuild => Done::Rebuilt(runtime.block_on(runner.rebuild())?),
        Operation::List => Done::Letters(runner.dead_letters()?),
        Operation::Retry(id) => Done::Resolved(runtime.block_on(runner.retry_dead_letter(id))?),
        Operation::Skip(id) => Done::Resolved(runtime.block_on(runner.skip_dead_letter(id))?),
    })
}

/// Prints what resolving a dead letter released from behind it.
fn released(done: Done) {
    let Done::Resolved(released) = done else {
        return;
    };
    if released.applied > 0 {
        println!("{} event(s) parked behind it applied", released.applied);
    }
    if let Some((id, error)) = released.failed {
        println!("dead letter {id}, parked behind it, failed: {error}; it now heads its stream");
    }
}

/// Where a database URL puts the events and each projection's read model.
enum Layout {
    /// A SQLite file for the events, and one beside it per projection.
    Sqlite { events: PathBuf },
    /// One PostgreSQL schema for everything.
    #[cfg(feature = "postgres")]
    Postgres { url: String, schema: String },
}

impl Layout {
    /// The layout of database `url`; on PostgreSQL, in `schema` (default: `service`'s name).
    fn of(url: &str, schema: Option<&str>, service: &str) -> Result<Layout, Failure> {
        let path = match url.split_once(':') {
            Some(("sqlite", rest)) => rest.strip_prefix("//").unwrap_or(rest),
            Some(("postgres" | "postgresql", _)) => return Self::postgres(url, schema, service),
            Some((scheme, _)) if scheme.len() > 1 && !scheme.contains(['/', '\\', '.']) => {
                return Err(Failure(format!(
                    "the database URL `{url}` is neither SQLite nor PostgreSQL: use sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"
                )));
            }
            // A plain path (or a Windows drive letter).
            _ => url,
        };
        if path.is_empty() || path == ":memory:" {
            return Err(Failure(format!(
                "the database URL `{url}` names no file; use sqlite://PATH, like sqlite://./data/events.db"
            )));
        }
        Ok(Layout::Sqlite {
            events: PathBuf::from(path),
        })
    }

    #[cfg(feature = "postgres")]
    fn postgres(url: &str, schema: Option<&str>, service: &str) -> Result<Layout, Failure> {
        let schema = match schema {
            Some(schema) => schema.to_owned(),
            // A service name is a crate name: `-` becomes `_`, as in Rust.
            None => service.to_ascii_lowercase().replace('-', "_"),
        };
        if !crate::store::postgres::valid_schema(&schema) {
            return Err(Failure(format!(
                "`{schema}` cannot name a schema: use lower-case letters, digits and `_`, starting with a letter, at most 63 bytes (--schema, EVENTSMITH_SCHEMA)"
            )));
        }
        Ok(Layout::Postgres {
            url: url.to_owned(),
            schema,
        })
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(url: &str, _: Option<&str>, _: &str) -> Result<Layout, Failure> {
        Err(Failure(format!(
            "the database URL `{url}` is PostgreSQL, and this service was built without PostgreSQL support: enable the `postgres` feature of its `eventsmith` dependency, or use sqlite://PATH"
        )))
    }

    /// Where the events are, for the log (a PostgreSQL URL without its password).
    fn describe(&self) -> String {
        match self {
            Layout::Sqlite { events } => events.display().to_string(),
            #[cfg(feature = "postgres")]
            Layout::Postgres { url, schema } => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                let place = rest.rsplit_once('@').map_or(rest, |(_, place)| place);
                format!("{scheme}://{place} (schema `{schema}`)")
            }
        }
    }

    /// The SQLite file of projection `name`: `<dir>/<stem>.<projection>.db`, beside the events.
    fn projection(&self, name: &str) -> PathBuf {
        let events = match self {
            Layout::Sqlite { events } => events.as_path(),
            #[cfg(feature = "postgres")]
            Layout::Postgres { .. } => Path::new("events.db"),
        };
        let stem = events
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "events".to_owned());
        events.with_file_name(format!("{stem}.{name}.db"))
    }

    /// Opens the event store for writing. A SQLite database is held by one process at a time
    /// (the store takes its lock, `<events>.lock`); `doing` says what for, in errors.
    fn open(
        &self,
        source: String,
        doing: &str,
        key_ttl: Option<std::time::Duration>,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Store, Failure> {
        let _ = runtime;
        match self {
            Layout::Sqlite { events } => {
                if let Some(dir) = events.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                let mut options = SqliteOptions::default();
                if let Some(ttl) = key_ttl {
                    options = options.key_ttl(ttl);
                }
                let store =
                    SqliteStore::open_with(events, source, options).map_err(|e| match e {
                        StoreError::Locked(_) => format!("cannot {doing}: {e}"),
                        e => format!("cannot open the event store {}: {e}", events.display()),
                    })?;
                Ok(Arc::new(AnyStore::Sqlite(store)))
            }
            #[cfg(feature = "postgres")]
            Layout::Postgres { url, schema } => {
                let mut options = crate::store::PostgresOptions::default().schema(schema.clone());
                if let Some(ttl) = key_ttl {
                    options = options.key_ttl(ttl);
                }
                let store = runtime
                    .block_on(crate::store::PostgresStore::connect(url, source, options))
                    .map_err(|e| format!("cannot open the event store {}: {e}", self.describe()))?;
                Ok(Arc::new(AnyStore::Postgres(store)))
            }
        }
    }
}

/// The JetStream stream a service publishes to: its name in capitals, other characters `_`
/// (`shop` publishes to `SHOP`).
pub fn stream_of(service: &str) -> String {
    service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// How long idempotency keys live: a minute at least, or retries would not be recognised.
fn key_lifetime(text: &str) -> Result<std::time::Duration, String> {
    let lifetime = duration(text)?;
    if lifetime < std::time::Duration::from_secs(60) {
        return Err(format!(
            "`{text}` is shorter than a minute: a client's retries would append again; keep keys for hours (24h is usual)"
        ));
    }
    Ok(lifetime)
}

/// Files a service keeps for itself beyond its connections (databases, their WAL, readers):
/// this many, or a quarter of the limit when that is less.
const RESERVED_FILES: u64 = 256;

/// What to ask for when the hard limit is "unlimited", which `setrlimit` refuses on some
/// systems (macOS's `OPEN_MAX`).
const UNLIMITED_ASK: u64 = 10_240;

/// `wanted` connections, or fewer if the limit on open files (raised to its hard limit first: a
/// connection is a file) would be reached before, which would fail accepts and database opens
/// instead of answering 503.
fn usable_connections(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        let ceiling = limit
            .maximum
            .unwrap_or(UNLIMITED_ASK.max(limit.current.unwrap_or(0)));
        if limit.current.is_some_and(|current| current < ceiling) {
            let raised = Rlimit {
                current: Some(ceiling),
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                limit = raised;
            }
        }
        if let Some(files) = limit.current {
            let reserved = RESERVED_FILES.min(files / 4);
            let room = usize::try_from(files - reserved).unwrap_or(usize::MAX);
            if wanted > room {
                tracing::warn!(
                    wanted,
                    room,
                    files,
                    "fewer connections than --max-connections: the limit on open files (ulimit -n) leaves room for {room}"
                );
                return room;
            }
        }
    }
    wanted
}

/// A duration on the command line: `90` (seconds), `90s`, `15m`, `24h` or `7d`.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        other => {
            return Err(format!(
                "unknown unit `{other}`: write seconds, or a number with s, m, h or d (like 24h)"
            ));
        }
    };
    let number: u64 = number.parse().map_err(|_| {
        format!(
            "`{text}` is not a duration; write seconds, or a number with s, m, h or d (like 24h)"
        )
    })?;
    number
        .checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

fn logs(format: LogFormat) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| Failure(format!("cannot set up logging: {e}")))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests, stopping projections at a checkpoint");
}

/// A token from `file` (its first line) or else the environment variable `name`, without
/// surrounding whitespace; set but empty stays empty, for the settings check to refuse.
fn secret(name: &str, file: Option<&Path>) -> Result<Option<String>, Failure> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the token file {}: {e}", file.display()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let token = text.lines().next().unwrap_or_default().trim().to_owned();
        if token.is_empty() {
            return Err(format!(
                "the token file {} is empty: write the token in it",
                file.display()
            )
            .into());
        }
        return Ok(Some(token));
    }
    match std::env::var(name) {
        // A secret mounted into the environment often ends with a newline.
        Ok(token) => Ok(Some(token.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not UTF-8 text").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Layout, secret};

    #[test]
    fn a_token_file_gives_its_first_line_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(
            secret("EVENTSMITH_TEST_UNSET", Some(&file)).ok().flatten(),
            Some("s3cret".to_owned())
        );
        std::fs::write(&file, "\n").unwrap();
        let empty = secret("EVENTSMITH_TEST_UNSET", Some(&file)).err().unwrap();
        assert!(empty.0.contains("is empty"), "{}", empty.0);
        let missing = secret("EVENTSMITH_TEST_UNSET", Some(&dir.path().join("none")));
        assert!(
            missing
                .err()
                .unwrap()
                .0
                .contains("cannot read the token file")
        );
        assert_eq!(secret("EVENTSMITH_TEST_UNSET", None).ok().flatten(), None);
    }
    use std::path::Path;

    fn events(url: &str) -> std::path::PathBuf {
        match Layout::of(url, None, "shop").ok().unwrap() {
            Layout::Sqlite { events } => events,
            #[allow(unreachable_patterns)]
            _ => panic!("{url} is not SQLite"),
        }
    }

    #[test]
    fn database_urls_name_sqlite_files() {
        assert_eq!(
            events("sqlite://./data/events.db"),
            Path::new("./data/events.db")
        );
        assert_eq!(
            Layout::of("sqlite://./data/events.db", None, "shop")
                .ok()
                .unwrap()
                .projection("order_summary"),
            Path::new("./data/events.order_summary.db")
        );
        assert_eq!(
            events("sqlite:///var/lib/shop/events.db"),
            Path::new("/var/lib/shop/events.db")
        );
        assert_eq!(events("sqlite:events.db"), Path::new("events.db"));
        assert_eq!(events("data/events.db"), Path::new("data/events.db"));
    }

    #[test]
    fn durations_take_a_unit() {
        let secs = |text| super::duration(text).map(|d| d.as_secs());
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("24h"), Ok(86_400));
        assert_eq!(secs("7d"), Ok(604_800));
        assert!(secs("1w").unwrap_err().contains("unknown unit `w`"));
        assert!(secs("h").unwrap_err().contains("not a duration"));
        assert!(secs("99999999999999999999d").is_err());
        assert!(
            super::key_lifetime("59s")
                .unwrap_err()
                .contains("shorter than a minute")
        );
        assert!(super::key_lifetime("1m").is_ok());
    }

    #[test]
    fn one_process_at_a_time_holds_a_sqlite_database() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let layout = Layout::of(
            &format!("sqlite://{}/events.db", dir.path().display()),
            None,
            "shop",
        )
        .ok()
        .unwrap();
        let open = |doing| layout.open("test".into(), doing, None, &runtime);
        let held = open("serve").ok().unwrap();
        let Err(refused) = open("replay") else {
            panic!("locked twice");
        };
        assert!(refused.0.contains("cannot replay"), "{}", refused.0);
        assert!(refused.0.contains("stop it first"), "{}", refused.0);
        drop(held);
        assert!(open("replay").is_ok());
    }

    #[test]
    fn other_databases_are_refused_with_a_way_out() {
        for url in ["mysql://localhost/shop", "sqlite://", "sqlite::memory:"] {
            let Err(failure) = Layout::of(url, None, "shop") else {
                panic!("{url} was accepted");
            };
            assert!(failure.0.contains("sqlite://"), "{}", failure.0);
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls_keep_everything_in_the_service_s_schema() {
        let layout = Layout::of("postgres://root:secret@db:5432/shop", None, "my-shop")
            .ok()
            .unwrap();
        let Layout::Postgres { schema, .. } = &layout else {
            panic!("not PostgreSQL");
        };
        assert_eq!(schema, "my_shop");
        assert_eq!(
            layout.describe(),
            "postgres://db:5432/shop (schema `my_shop`)"
        );
        let named = Layout::of("postgresql://db/shop", Some("orders"), "shop")
            .ok()
            .unwrap();
        assert!(matches!(named, Layout::Postgres { schema, .. } if schema == "orders"));
    }
}
