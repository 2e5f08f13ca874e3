//! `eventsmith`: a thin command line over `eventsmith-core`.

mod catalog;

use clap::{Parser, Subcommand, ValueEnum};
use eventsmith_core::compat::check::{self, Base};
use eventsmith_core::compat::files::diff_files;
use eventsmith_core::config::{self, Config, FILE_NAME, Level};
use eventsmith_core::diagnostic::{Diagnostic, Severity};
use eventsmith_core::fs::RealFs;
use eventsmith_core::report::{self, Format};
use eventsmith_core::scaffold::{self, NewItem, PlannedFile};
use eventsmith_core::source::SourceFile;
use eventsmith_core::source::SourceMap;
use eventsmith_core::{LoadOptions, Loaded, load};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
struct Cli {
    /// The project directory (default: the nearest eventsmith.toml upward from here).
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// When to color the output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Print only errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print more about what was done.
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
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

#[derive(Subcommand)]
enum Command {
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
    /// Compare two plain JSON Schema files (draft-07 or 2020-12) and judge the change.
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
        #[arg(long, value_enum, default_value_t = catalog::FormatArg::Markdown)]
        format: catalog::FormatArg,
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
enum ServiceCommand {
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
enum NewCommand {
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
        /// Event types the command emits.
        #[arg(long, required = true, num_args = 1.., value_name = "EVENT")]
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
        after_help = "Example:\n  eventsmith new projection order_summary --key order_id --subscribes order.placed order.paid"
    )]
    Projection {
        /// The projection's name.
        name: String,
        /// The row property that keys the read model.
        #[arg(long)]
        key: String,
        /// Event types it handles.
        #[arg(long, required = true, num_args = 1.., value_name = "EVENT")]
        subscribes: Vec<String>,
    },
    /// The next major version of an event, copied from the latest, with an upcast block.
    #[command(after_help = "Example:\n  eventsmith new version order.placed")]
    Version {
        /// `<aggregate>.<name>`
        event: String,
    },
}

/// A failure that ends the run with exit code 2.
struct Fatal {
    message: String,
    help: Option<String>,
}

impl Fatal {
    fn new(message: impl Into<String>, help: Option<String>) -> Self {
        Self {
            message: message.into(),
            help,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(fatal) => {
            eprintln!("error: {}", fatal.message);
            if let Some(help) = fatal.help {
                eprintln!("help: {help}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Fatal> {
    match &cli.command {
        Command::Init { dir, name } => init(cli, dir.as_deref(), name.as_deref()),
        Command::New(item) => new(cli, item),
        Command::Validate { format } => validate(cli, *format),
        Command::Generate { out, no_tests } => generate(cli, out.as_deref(), *no_tests),
        Command::Diff {
            old,
            new,
            level,
            format,
        } => diff(cli, old, new, *level, (*format).into()),
        Command::Check {
            against,
            against_dir,
            level,
            format,
        } => {
            let base = match against_dir {
                Some(dir) => Base::Dir(current_dir()?.join(dir)),
                None => Base::Git(against.clone().unwrap_or_else(|| "HEAD".to_owned())),
            };
            check_project(cli, &base, *level, (*format).into())
        }
        Command::Catalog {
            out,
            format,
            templates,
            check,
        } => catalog::run(
            cli,
            &catalog::Args {
                out: out.as_deref(),
                format: *format,
                templates: templates.as_deref(),
                check: *check,
            },
        ),
        Command::Service(ServiceCommand::New {
            dir,
            name,
            runtime_path,
            templates,
            check,
        }) => service_new(
            cli,
            &ServiceArgs {
                dir: dir.as_deref(),
                name: name.as_deref(),
                runtime_path: runtime_path.as_deref(),
                templates: templates.as_deref(),
                check: *check,
            },
        ),
    }
}

fn color(cli: &Cli) -> bool {
    match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    }
}

fn current_dir() -> Result<PathBuf, Fatal> {
    std::env::current_dir()
        .map_err(|err| Fatal::new(format!("cannot read the current directory: {err}"), None))
}

fn project_root(cli: &Cli) -> Result<PathBuf, Fatal> {
    let cwd = current_dir()?;
    match &cli.project {
        Some(dir) => Ok(cwd.join(dir)),
        None => config::find_project_root(&cwd).ok_or_else(|| {
            Fatal::new(
                format!(
                    "no {FILE_NAME} in {} or any parent directory",
                    cwd.display()
                ),
                Some("run `eventsmith init` to create a project, or pass --project DIR".into()),
            )
        }),
    }
}

fn validate(cli: &Cli, format: FormatArg) -> Result<ExitCode, Fatal> {
    let root = project_root(cli)?;
    let started = std::time::Instant::now();
    let loaded = load(&RealFs, &LoadOptions::new(root, Some(current_dir()?)));
    let mut diagnostics = loaded.diagnostics.clone();
    if cli.quiet {
        diagnostics.retain(|d| d.is_error());
    }
    let format: Format = format.into();
    if format == Format::Human && diagnostics.is_empty() {
        if !cli.quiet {
            println!("{}", inventory(&loaded));
        }
    } else {
        emit(cli, format, &diagnostics, &loaded.sources, None);
        if format == Format::Human && !loaded.has_errors() && !cli.quiet {
            println!("{}", inventory(&loaded));
        }
    }
    if cli.verbose && format == Format::Human {
        eprint!("{}", details(&loaded, started.elapsed()));
    }
    Ok(if loaded.has_io_errors() {
        ExitCode::from(2)
    } else if loaded.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads the project without checking examples (left to `validate`), printing every error; the
/// exit code when it has errors.
fn load_valid(cli: &Cli, root: &Path) -> Result<Result<Loaded, ExitCode>, Fatal> {
    let mut options = LoadOptions::new(root, Some(current_dir()?));
    options.check_examples = false;
    let loaded = load(&RealFs, &options);
    if !loaded.has_errors() {
        return Ok(Ok(loaded));
    }
    let errors: Vec<Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    emit(cli, Format::Human, &errors, &loaded.sources, None);
    Ok(Err(ExitCode::from(if loaded.has_io_errors() {
        2
    } else {
        1
    })))
}

/// Loads the project and generates its code, printing every error (and warning) found; the
/// exit code when that fails.
fn load_and_generate(
    cli: &Cli,
    root: &Path,
    tests: bool,
) -> Result<Result<(Loaded, eventsmith_core::codegen::Generated), ExitCode>, Fatal> {
    // Examples are left to `validate`: the generated tests check every one.
    let loaded = match load_valid(cli, root)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(Err(code)),
    };
    let Some(project) = loaded.project.as_ref() else {
        return Ok(Err(ExitCode::from(2)));
    };
    let settings = eventsmith_core::codegen::Settings {
        tests,
        ..Default::default()
    };
    let generated = match eventsmith_core::codegen::generate(project, &settings) {
        Ok(generated) => generated,
        Err(errors) => {
            emit(cli, Format::Human, &errors, &loaded.sources, None);
            return Ok(Err(ExitCode::from(1)));
        }
    };
    if !cli.quiet && !generated.warnings.is_empty() {
        emit(
            cli,
            Format::Human,
            &generated.warnings,
            &loaded.sources,
            None,
        );
    }
    Ok(Ok((loaded, generated)))
}

fn generate(cli: &Cli, out: Option<&Path>, no_tests: bool) -> Result<ExitCode, Fatal> {
    let root = project_root(cli)?;
    let (loaded, generated) = match load_and_generate(cli, &root, !no_tests)? {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let Some(project) = loaded.project.as_ref() else {
        return Ok(ExitCode::from(2));
    };
    let dir = match out {
        Some(dir) => current_dir()?.join(dir),
        None => root.join(&project.config.output.rust),
    };
    let file = dir.join("mod.rs");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, &generated.source))
        .map_err(|err| Fatal::new(format!("cannot write {}: {err}", file.display()), None))?;
    if !cli.quiet {
        let versions: usize = project.events.values().map(|e| e.versions.len()).sum();
        println!(
            "wrote {} ({} events, {versions} versions)",
            file.display(),
            project.events.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints diagnostics in a format; `json` is the given document when there is one.
fn emit(
    cli: &Cli,
    format: Format,
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    json: Option<String>,
) {
    match format {
        Format::Human => print!("{}", report::human(diagnostics, sources, color(cli))),
        Format::Json => print!("{}", json.unwrap_or_else(|| report::json(diagnostics))),
        Format::Github => print!("{}", report::github(diagnostics)),
        Format::Sarif => print!("{}", report::sarif(diagnostics, report::describe)),
    }
}

fn diff(
    cli: &Cli,
    old: &Path,
    new: &Path,
    level: Option<Level>,
    format: Format,
) -> Result<ExitCode, Fatal> {
    let cwd = current_dir()?;
    for path in [old, new] {
        if !cwd.join(path).is_file() {
            return Err(Fatal::new(
                format!("{} is not a file", path.display()),
                Some("pass two JSON Schema files: eventsmith diff OLD.json NEW.json".into()),
            ));
        }
    }
    let level = level.unwrap_or(Level::Backward);
    let result = diff_files(&RealFs, &cwd.join(old), &cwd.join(new), level, Some(&cwd));
    let mut diagnostics = result.diagnostics.clone();
    if cli.quiet {
        diagnostics.retain(|d| d.severity != Severity::Note);
    }
    emit(
        cli,
        format,
        &diagnostics,
        &result.sources,
        Some(result.json(level)),
    );
    if !result.loaded {
        return Ok(ExitCode::from(2));
    }
    let compatible = result.passes(level);
    if format == Format::Human && !cli.quiet {
        let breaking = result.changes.iter().filter(|c| c.breaking).count();
        println!(
            "{} at `{}`: {} change{}, {breaking} breaking",
            if compatible {
                "compatible"
            } else {
                "incompatible"
            },
            level.name(),
            result.changes.len(),
            if result.changes.len() == 1 { "" } else { "s" },
        );
    }
    Ok(if compatible {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_project(
    cli: &Cli,
    base: &Base,
    level: Option<Level>,
    format: Format,
) -> Result<ExitCode, Fatal> {
    let root = project_root(cli)?;
    let cwd = current_dir()?;
    let result = check::check(&root, base, level, Some(&cwd));
    let mut diagnostics = result.diagnostics.clone();
    if !cli.verbose {
        diagnostics.retain(|d| d.severity != Severity::Note);
    }
    if cli.quiet {
        diagnostics.retain(Diagnostic::is_error);
    }
    let json = result.json(&diagnostics);
    if format == Format::Human && diagnostics.is_empty() {
        if !cli.quiet {
            println!("compatible at `{}`", result.level.name());
        }
    } else {
        emit(cli, format, &diagnostics, &result.sources, Some(json));
    }
    Ok(if result.io_error {
        ExitCode::from(2)
    } else if result.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What was loaded, for `--verbose`: every event with its versions, and the time taken.
fn details(loaded: &Loaded, elapsed: std::time::Duration) -> String {
    let mut out = String::new();
    if let Some(project) = &loaded.project {
        for (name, aggregate) in &project.aggregates {
            out.push_str(&format!(
                "aggregate {name} (stream `{}-<id>`)\n",
                aggregate.stream_category()
            ));
            for event in project.events_of(name) {
                let versions: Vec<String> = event
                    .versions
                    .iter()
                    .map(|v| format!("v{}", v.version))
                    .collect();
                out.push_str(&format!(
                    "  event {} [{}]\n",
                    event.event_type(),
                    versions.join(", ")
                ));
            }
            for command in project.commands_of(name) {
                out.push_str(&format!(
                    "  command {} -> {}\n",
                    command.name,
                    command.annotations.emits.join(", ")
                ));
            }
        }
        for (name, projection) in &project.projections {
            out.push_str(&format!(
                "projection {name} (key {}) <- {}\n",
                projection.annotations.key,
                projection.annotations.subscribes.join(", ")
            ));
        }
    }
    out.push_str(&format!(
        "read {} files in {:.1} ms\n",
        loaded.sources.iter().count(),
        elapsed.as_secs_f64() * 1e3
    ));
    out
}

/// `ok: 2 aggregates, 8 events (9 versions), ...`
fn inventory(loaded: &Loaded) -> String {
    let Some(project) = &loaded.project else {
        return String::new();
    };
    let versions: usize = project.events.values().map(|e| e.versions.len()).sum();
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "ok: {}, {} ({}), {}, {}, {}",
        count(project.aggregates.len(), "aggregate"),
        count(project.events.len(), "event"),
        count(versions, "version"),
        count(project.commands.len(), "command"),
        count(project.projections.len(), "projection"),
        count(project.types.len(), "shared type file"),
    )
}

fn init(cli: &Cli, dir: Option<&Path>, name: Option<&str>) -> Result<ExitCode, Fatal> {
    let dir = current_dir()?.join(dir.unwrap_or(Path::new(".")));
    if dir.join(FILE_NAME).exists() {
        return Err(Fatal::new(
            format!("{} already holds an eventsmith project", dir.display()),
            Some("eventsmith never overwrites a project; choose another directory".into()),
        ));
    }
    let name = name.map_or_else(|| scaffold::project_name_for(&dir), str::to_owned);
    let files = scaffold::init(&dir, &name);
    write_all(cli, &files)?;
    if !cli.quiet {
        println!("created project `{name}` in {}", dir.display());
        println!("next: cd {} && eventsmith validate", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn new(cli: &Cli, command: &NewCommand) -> Result<ExitCode, Fatal> {
    let root = project_root(cli)?;
    let config_path = root.join(FILE_NAME);
    let text = std::fs::read_to_string(&config_path).map_err(|err| {
        Fatal::new(
            format!("cannot read {}: {err}", config_path.display()),
            None,
        )
    })?;
    let config = Config::parse(&SourceFile::new(&config_path, text))
        .map_err(|d| Fatal::new(format!("{}: {}", d.location(), d.message), d.help))?;
    let item = match command {
        NewCommand::Event { event } => NewItem::Event {
            event_type: event.clone(),
        },
        NewCommand::Command { command, emits } => NewItem::Command {
            command: command.clone(),
            emits: emits.clone(),
        },
        NewCommand::Aggregate { name } => NewItem::Aggregate { name: name.clone() },
        NewCommand::Projection {
            name,
            key,
            subscribes,
        } => NewItem::Projection {
            name: name.clone(),
            key: key.clone(),
            subscribes: subscribes.clone(),
        },
        NewCommand::Version { event } => NewItem::Version {
            event_type: event.clone(),
        },
    };
    let files = scaffold::new_item(&root, &config, &item)
        .map_err(|err| Fatal::new(err.message, err.help))?;
    write_all(cli, &files)?;
    if !cli.quiet {
        if let NewItem::Version { .. } = item {
            println!(
                "next: describe the change in `x-eventsmith.upcast` (rules or \"custom\": true), then run `eventsmith validate`"
            );
        } else {
            println!(
                "next: fill in the descriptions, properties and examples, then run `eventsmith validate`"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes new files; refuses (before writing anything) if any exists.
fn write_all(cli: &Cli, files: &[PlannedFile]) -> Result<(), Fatal> {
    if let Some(existing) = files.iter().find(|f| f.path.exists()) {
        return Err(Fatal::new(
            format!("{} already exists", existing.path.display()),
            Some(
                "eventsmith never overwrites files; move it away or choose another directory"
                    .into(),
            ),
        ));
    }
    for file in files {
        if let Some(parent) = file.path.parent() {
            std::fs::create_dir_all(parent).map_err(|err| {
                Fatal::new(format!("cannot create {}: {err}", parent.display()), None)
            })?;
        }
        std::fs::write(&file.path, &file.contents).map_err(|err| {
            Fatal::new(format!("cannot write {}: {err}", file.path.display()), None)
        })?;
        if !cli.quiet {
            println!("created {}", file.path.display());
        }
    }
    Ok(())
}

/// A template family, with the overrides in `dir`; `None` (the errors printed) when an override
/// is unusable.
fn templates(
    cli: &Cli,
    family: eventsmith_core::templates::Family,
    dir: Option<PathBuf>,
) -> Option<eventsmith_core::templates::Templates> {
    use eventsmith_core::templates::Templates;
    match dir {
        Some(dir) => match Templates::with_overrides(family, &dir) {
            Ok(templates) => Some(templates),
            Err(errors) => {
                emit(cli, Format::Human, &errors, &SourceMap::default(), None);
                None
            }
        },
        None => Some(Templates::embedded(family)),
    }
}

/// `--check`'s report: every stale file, and exit 1 if there is one.
fn report_stale(cli: &Cli, dir: &Path, stale: &[PathBuf], fix: &str) -> ExitCode {
    for path in stale {
        println!("stale: {}", dir.join(path).display());
    }
    if stale.is_empty() {
        if !cli.quiet {
            println!("{}: every generated file is up to date", dir.display());
        }
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "error: {} generated file(s) in {} are out of date",
        stale.len(),
        dir.display()
    );
    eprintln!("help: {fix}");
    ExitCode::from(1)
}

struct ServiceArgs<'a> {
    dir: Option<&'a Path>,
    name: Option<&'a str>,
    runtime_path: Option<&'a Path>,
    templates: Option<&'a Path>,
    check: bool,
}

/// This checkout's `runtime/`, when the binary was built from one that is still there.
fn checkout_runtime() -> Option<PathBuf> {
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    runtime
        .join("Cargo.toml")
        .is_file()
        .then(|| std::path::absolute(&runtime).unwrap_or(runtime))
}

fn service_new(cli: &Cli, args: &ServiceArgs<'_>) -> Result<ExitCode, Fatal> {
    use eventsmith_core::service::{self, Runtime};
    let root = project_root(cli)?;
    let cwd = current_dir()?;
    let Some(templates) = templates(cli, service::TEMPLATES, args.templates.map(|d| cwd.join(d)))
    else {
        return Ok(ExitCode::from(2));
    };
    let (loaded, generated) = match load_and_generate(cli, &root, true)? {
        Ok(done) => done,
        Err(code) => return Ok(code),
    };
    let Some(project) = loaded.project.as_ref() else {
        return Ok(ExitCode::from(2));
    };
    let dir = match args.dir {
        Some(dir) => cwd.join(dir),
        None => root.join(&project.config.output.service),
    };
    let name = args
        .name
        .map(str::to_owned)
        .or_else(|| project.config.project.service.clone())
        .unwrap_or_else(|| project.config.project.name.clone());
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(Fatal::new(
            format!("`{name}` cannot name a crate and its binary"),
            Some(
                "use a letter, then letters, digits, `_` or `-` (like `shop-service`): pass --name"
                    .into(),
            ),
        ));
    }
    let runtime_dir = match args.runtime_path {
        Some(path) => {
            let path = cwd.join(path);
            if !path.join("Cargo.toml").is_file() {
                return Err(Fatal::new(
                    format!("{} holds no Cargo.toml", path.display()),
                    Some(
                        "--runtime-path names the `runtime/` directory of an eventsmith checkout"
                            .into(),
                    ),
                ));
            }
            Some(path)
        }
        None => checkout_runtime(),
    };
    let lock = runtime_dir
        .as_ref()
        .and_then(|runtime| std::fs::read_to_string(runtime.join("../Cargo.lock")).ok());
    let settings = service::Settings {
        name: name.clone(),
        runtime: match &runtime_dir {
            Some(runtime) => Runtime::Path(service::relative_path(&dir, runtime)),
            None => Runtime::Version(env!("CARGO_PKG_VERSION").to_owned()),
        },
        standalone: service::standalone(&dir),
        project_dir: service::relative_path(&dir, &root),
        lock,
    };
    if !cli.quiet {
        let omitted = service::omissions(project, &generated.api);
        if !omitted.is_empty() {
            emit(cli, Format::Human, &omitted, &loaded.sources, None);
        }
    }
    let files = match service::render(project, &generated, &settings, &templates) {
        Ok(files) => files,
        Err(errors) => {
            emit(cli, Format::Human, &errors, &loaded.sources, None);
            return Ok(ExitCode::from(2));
        }
    };
    if args.check {
        return Ok(report_stale(
            cli,
            &dir,
            &service::stale(&dir, &files),
            &format!(
                "run `eventsmith service new {}` and commit the result",
                dir.display()
            ),
        ));
    }
    let written = match service::write(&dir, &files) {
        Ok(written) => written,
        Err(errors) => {
            emit(cli, Format::Human, &errors, &loaded.sources, None);
            return Ok(ExitCode::from(2));
        }
    };
    if !cli.quiet {
        for path in &written.created {
            println!("created {}", dir.join(path).display());
        }
        for path in &written.updated {
            println!("updated {}", dir.join(path).display());
        }
        if cli.verbose {
            for path in &written.kept {
                println!("kept {} (yours)", dir.join(path).display());
            }
        }
        println!(
            "service `{name}` in {}: {} created, {} updated, {} unchanged, {} of yours kept",
            dir.display(),
            written.created.len(),
            written.updated.len(),
            written.unchanged.len(),
            written.kept.len()
        );
        println!("next: cd {} && cargo run -- serve", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
