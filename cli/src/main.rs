//! `eventsmith`: parses the command line, runs the command in `eventsmith_core::commands` and
//! prints its outcome. Nothing else happens here.

mod args;

use args::{CatalogFormat, Cli, ColorChoice, Command, NewCommand, ServiceCommand};
use clap::Parser;
use eventsmith_core::commands::compare::Base;
use eventsmith_core::commands::scaffold::NewItem;
use eventsmith_core::commands::{
    self, Context, Outcome, Verbosity, catalog, compare, generate, scaffold, service, validate,
};
use eventsmith_core::{Failure, Format};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let context = match std::env::current_dir() {
        Ok(cwd) => context(&cli, cwd),
        Err(err) => {
            let failure = Failure::new(format!("cannot read the current directory: {err}"));
            eprint!("{}", failure.render());
            return ExitCode::from(commands::Status::Failure.code());
        }
    };
    let (format, result) = run(&cli, &context);
    match result {
        Ok(outcome) => {
            let printed = outcome.render_in(&context, format, color(cli.color));
            print!("{}", printed.stdout);
            eprint!("{}", printed.stderr);
            let _ = std::io::stdout().flush();
            ExitCode::from(outcome.status.code())
        }
        Err(failure) => {
            eprint!("{}", failure.render());
            ExitCode::from(commands::Status::Failure.code())
        }
    }
}

fn context(cli: &Cli, cwd: std::path::PathBuf) -> Context {
    Context {
        cwd,
        project: cli.project.clone(),
        verbosity: match (cli.quiet, cli.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        },
    }
}

fn color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    }
}

/// Runs the command; the output format it asked for, and its outcome.
fn run(cli: &Cli, context: &Context) -> (Format, Result<Outcome, Failure>) {
    let human = Format::Human;
    match &cli.command {
        Command::Init { dir, name } => (
            human,
            scaffold::init(context, dir.as_deref(), name.as_deref()),
        ),
        Command::New(item) => (human, scaffold::new(context, &new_item(item))),
        Command::Validate { format } => ((*format).into(), validate::validate(context)),
        Command::Generate { out, no_tests } => (
            human,
            generate::generate(context, out.as_deref(), !no_tests),
        ),
        Command::Diff {
            old,
            new,
            level,
            draft,
            format,
        } => (
            (*format).into(),
            compare::diff(context, old, new, *level, *draft),
        ),
        Command::Check {
            against,
            against_dir,
            level,
            format,
        } => {
            let base = match against_dir {
                Some(dir) => Base::Dir(context.path(dir)),
                None => Base::Git(against.clone().unwrap_or_else(|| "HEAD".to_owned())),
            };
            ((*format).into(), compare::check(context, &base, *level))
        }
        Command::Catalog {
            out,
            format,
            templates,
            check,
        } => {
            let args = catalog::Args {
                out: out.as_deref(),
                kind: match format {
                    CatalogFormat::Markdown => catalog::Kind::Markdown,
                    CatalogFormat::Eventcatalog => catalog::Kind::EventCatalog,
                    CatalogFormat::Asyncapi => catalog::Kind::AsyncApi,
                },
                templates: templates.as_deref(),
                check: *check,
            };
            (human, catalog::catalog(context, &args))
        }
        Command::Service(ServiceCommand::New {
            dir,
            name,
            runtime_path,
            templates,
            check,
        }) => {
            let args = service::Args {
                dir: dir.as_deref(),
                name: name.as_deref(),
                runtime_path: runtime_path.as_deref(),
                templates: templates.as_deref(),
                check: *check,
            };
            (human, service::new(context, &args))
        }
    }
}

fn new_item(command: &NewCommand) -> NewItem {
    match command {
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
    }
}
