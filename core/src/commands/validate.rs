//! `eventsmith validate`: every file against every rule, all findings in one run.

use super::{Context, Outcome, Status};
use crate::io::fs::RealFs;
use crate::project::loader::{LoadOptions, Loaded, load};
use std::time::{Duration, Instant};

/// Loads the project with every check (examples included).
pub fn validate(context: &Context) -> Result<Outcome, crate::diagnostic::Failure> {
    let root = context.project_root()?;
    let started = Instant::now();
    // Paths are shown from the project root, wherever the command runs.
    let loaded = load(&RealFs, &LoadOptions::new(&root, Some(root.clone())));
    let mut diagnostics = loaded.diagnostics.clone();
    context.shown(&mut diagnostics, true);
    let status = if loaded.has_io_errors() {
        Status::Failure
    } else if loaded.has_errors() {
        Status::Findings
    } else {
        Status::Success
    };
    let mut outcome = Outcome::findings(status, diagnostics, loaded.sources.clone());
    if !loaded.has_errors() && !context.quiet() {
        outcome.say(inventory(&loaded));
    }
    if context.verbose() {
        outcome.stderr.extend(details(&loaded, started.elapsed()));
    }
    Ok(outcome)
}

/// `ok: 2 aggregates, 8 events (9 versions), ...`
fn inventory(loaded: &Loaded) -> String {
    let Some(project) = &loaded.project else {
        return String::new();
    };
    let versions: usize = project.events.values().map(|e| e.versions.len()).sum();
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let optional = |n: usize, word: &str| match n {
        0 => String::new(),
        n => format!(", {}", count(n, word)),
    };
    let sagas = optional(project.sagas.len(), "saga");
    let windows = optional(project.windows.len(), "window");
    format!(
        "ok: {}, {} ({}), {}, {}{sagas}{windows}, {}",
        count(project.aggregates.len(), "aggregate"),
        count(project.events.len(), "event"),
        count(versions, "version"),
        count(project.commands.len(), "command"),
        count(project.projections.len(), "projection"),
        count(project.types.len(), "shared type file"),
    )
}

/// What was loaded, for `--verbose`: every event with its versions, and the time taken.
fn details(loaded: &Loaded, elapsed: Duration) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(project) = &loaded.project {
        for (name, aggregate) in &project.aggregates {
            out.push(format!(
                "aggregate {name} (stream `{}-<id>`)",
                aggregate.stream_category()
            ));
            for event in project.events_of(name) {
                let versions: Vec<String> = event
                    .versions
                    .iter()
                    .map(|v| format!("v{}", v.version))
                    .collect();
                out.push(format!(
                    "  event {} [{}]",
                    event.event_type(),
                    versions.join(", ")
                ));
            }
            for command in project.commands_of(name) {
                out.push(format!(
                    "  command {} -> {}",
                    command.name,
                    command.annotations.emits.join(", ")
                ));
            }
        }
        for (name, projection) in &project.projections {
            out.push(format!(
                "projection {name} (key {}) <- {}",
                projection.annotations.key,
                projection.annotations.subscribes.join(", ")
            ));
        }
    }
    out.push(format!(
        "read {} files in {:.1} ms",
        loaded.sources.iter().count(),
        elapsed.as_secs_f64() * 1e3
    ));
    out
}
