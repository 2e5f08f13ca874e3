//! The command line's arguments (clap): every command, flag and help text. Turning them into
//! calls of `eventsmith_core::commands` is main.rs's job.

use clap::{Parser, Subcommand, ValueEnum};
use eventsmith_core::{Draft, Format, Level};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  eventsmith init shop                       # a new project with a sample aggregate
  eventsmith validate                        # check every schema file, report every error
  eventsmith validate --format json          # machine-readable findings
  eventsmith new aggregate order
  eventsmith new event order.placed
  eventsmith new command order.place_order --emits order.placed
  eventsmith new projection order_summary --key order_id --subscribes order.placed
  eventsmith new version order.placed        # v(N+1) with an upcast block to fill in
  eventsmith diff old.json new.json --level full
  eventsmith check --against origin/main --format github
  eventsmith catalog                         # the event catalog, Markdown, into docs/catalog
  eventsmith service new shop-service        # a runnable service crate for the project

Exit codes: 0 ok, 1 findings (invalid schemas, incompatible changes), 2 usage or I/O errors.";

/// Turn versioned JSON Schema event contracts into event-sourced Rust.
#[derive(Parser)]
#[command(name = "eventsmith", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// The project directory (default: the nearest eventsmith.toml upward from here).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// When to color the output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print more about what was done.
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Github,
    Sarif,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Github => Format::Github,
            FormatArg::Sarif => Format::Sarif,
        }
    }
}

/// Parses `--level`, offering the level names in `--help` and in errors.
fn level_parser() -> impl clap::builder::TypedValueParser<Value = Level> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Level::ALL.map(Level::name))
        .map(|name: String| Level::from_name(&name).unwrap_or_default())
}

fn draft_parser() -> impl clap::builder::TypedValueParser<Value = Draft> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Draft::ALL.map(Draft::name))
        .map(|name: String| Draft::from_name(&name).unwrap_or(Draft::Draft7))
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a new schema project with a sample aggregate.
    #[command(after_help = "Example:\n  eventsmith init shop && cd shop && eventsmith validate")]
    Init {
        /// Where to create it (default: the current directory).
        dir: Option<PathBuf>,
        /// The project name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Add an event, command, aggregate, projection or event version.
    #[command(subcommand)]
    New(NewCommand),
    /// Check every schema file against every rule and report all findings.
    #[command(
        after_help = "Examples:\n  eventsmith validate\n  eventsmith validate --format github   # annotations in GitHub Actions"
    )]
    Validate {
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
    },
    /// Generate the Rust module tree of every event: versioned types, upcasters, `DomainEvent`.
    #[command(
        after_help = "Examples:\n  eventsmith generate                  # into [output] rust (default src/events)\n  eventsmith generate --out src/events # then `mod events;` in your crate"
    )]
    Generate {
        /// The directory to write `mod.rs` into (default: `[output] rust` in eventsmith.toml).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Leave out the generated `#[cfg(test)]` tests.
        #[arg(long)]
        no_tests: bool,
    },
    /// Compare two plain JSON Schema files (any draft from 04 to 2020-12) and judge the change.
    #[command(
        after_help = "Examples:\n  eventsmith diff v1.json v2.json                 # backward by default\n  eventsmith diff old.json new.json --level full --format json\n\nExit codes: 0 compatible at the level, 1 incompatible, 2 usage or parse errors."
    )]
    Diff {
        /// The schema before the change.
        old: PathBuf,
        /// The schema after the change.
        new: PathBuf,
        /// The compatibility level to judge at (default: backward).
        #[arg(long, value_parser = level_parser())]
        level: Option<Level>,
        /// The draft of a file without `$schema` (default: draft-07, as schema registries read
        /// one).
        #[arg(long, value_parser = draft_parser())]
        draft: Option<Draft>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
    },
    /// Check the project against a base: released versions change only compatibly, nothing
    /// released is deleted, and breaking new versions carry a sound upcast.
    #[command(
        after_help = "Examples:\n  eventsmith check --against origin/main --format github   # in CI\n  eventsmith check                                          # against HEAD\n  eventsmith check --against-dir ../released --level full-transitive"
    )]
    Check {
        /// A git revision of the repository holding the project (default: HEAD).
        #[arg(long, value_name = "GIT-REF", conflicts_with = "against_dir")]
        against: Option<String>,
        /// A directory holding the base project instead of a git revision.
        #[arg(long, value_name = "DIR")]
        against_dir: Option<PathBuf>,
        /// The compatibility level (default: eventsmith.toml's `[compatibility] level`).
        #[arg(long, value_parser = level_parser())]
        level: Option<Level>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
    },
    /// Write the event catalog: Markdown pages with changelogs and flows (default), an
    /// EventCatalog directory, or an AsyncAPI 3.0 document.
    #[command(
        after_help = "Examples:\n  eventsmith catalog                                   # Markdown into [output] catalog (default docs/catalog)\n  eventsmith catalog --check                           # exit 1 when the committed catalog is out of date\n  eventsmith catalog --format eventcatalog --out ../eventcatalog\n  eventsmith catalog --format asyncapi --out asyncapi.yaml"
    )]
    Catalog {
        /// Where to write: a directory (default `[output] catalog`), or for asyncapi a `.json`
        /// or `.yaml` file.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// What to write.
        #[arg(long, value_enum, default_value_t = CatalogFormat::Markdown)]
        format: CatalogFormat,
        /// A directory of handlebars templates replacing the embedded ones of the same names.
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Write nothing; exit 1 when a file is missing, differs, or should be removed.
        #[arg(long)]
        check: bool,
    },
    /// Generate a runnable service crate (HTTP API, SQLite event store, projections).
    #[command(subcommand)]
    Service(ServiceCommand),
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Write a complete service crate for the project, or bring one up to date: `@generated`
    /// files are rewritten, your rules and projection logic are written once and never touched.
    #[command(
        after_help = "Examples:\n  eventsmith service new shop-service && cd shop-service && cargo run -- serve\n  eventsmith service new                 # into [output] service, named after the project\n  eventsmith service new --check         # exit 1 when a generated file is out of date"
    )]
    New {
        /// The service directory (default: `[output] service` in eventsmith.toml).
        dir: Option<PathBuf>,
        /// The crate and binary name (default: `[project] service`, else `[project] name`).
        #[arg(long)]
        name: Option<String>,
        /// The `eventsmith` runtime crate to depend on by path (default: this checkout's
        /// `runtime/` when eventsmith was built from one, else the crates.io release).
        #[arg(long, value_name = "DIR")]
        runtime_path: Option<PathBuf>,
        /// A directory of handlebars templates replacing the embedded ones of the same names.
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Write nothing; exit 1 when a generated file is missing or differs.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
pub enum NewCommand {
    /// A new event at version 1: `events/<aggregate>/<name>.v1.json`.
    #[command(after_help = "Example:\n  eventsmith new event order.refunded")]
    Event {
        /// `<aggregate>.<name>`
        event: String,
    },
    /// A new command: `commands/<aggregate>/<name>.json`.
    #[command(
        after_help = "Example:\n  eventsmith new command order.refund_order --emits order.refunded"
    )]
    Command {
        /// `<aggregate>.<name>`
        command: String,
        /// An event type the command emits (repeat the flag, or separate with commas).
        #[arg(long, required = true, value_delimiter = ',', value_name = "EVENT")]
        emits: Vec<String>,
    },
    /// A new aggregate: `aggregates/<name>.json`.
    #[command(after_help = "Example:\n  eventsmith new aggregate invoice")]
    Aggregate {
        /// The aggregate's name.
        name: String,
    },
    /// A new projection: `projections/<name>.json`.
    #[command(
        after_help = "Example:\n  eventsmith new projection order_summary --key order_id --subscribes order.placed,order.paid"
    )]
    Projection {
        /// The projection's name.
        name: String,
        /// The row property that keys the read model.
        #[arg(long)]
        key: String,
        /// An event type it handles (repeat the flag, or separate with commas).
        #[arg(long, required = true, value_delimiter = ',', value_name = "EVENT")]
        subscribes: Vec<String>,
    },
    /// The next major version of an event, copied from the latest, with an upcast block.
    #[command(after_help = "Example:\n  eventsmith new version order.placed")]
    Version {
        /// `<aggregate>.<name>`
        event: String,
    },
}

/// `--format` of `eventsmith catalog`.
#[derive(Clone, Copy, ValueEnum)]
pub enum CatalogFormat {
    /// Markdown pages with mermaid flows, for a repository.
    Markdown,
    /// An EventCatalog content directory.
    Eventcatalog,
    /// One AsyncAPI 3.0.0 document (`.json` or `.yaml`).
    Asyncapi,
}
