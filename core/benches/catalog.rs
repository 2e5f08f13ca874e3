//! `eventsmith catalog` on a generated project of 1,000 events x 3 versions (a command per event,
//! a projection per aggregate, shared `$ref` types), in each format, printed next to a baseline
//! measured in the same run: loading the project (what every command pays before rendering).
//! The goal: rendering the catalog takes under 2 s.
//!
//! Run: `cargo bench -p eventsmith-core --bench catalog`

mod support;

use eventsmith_core::commands::Context;
use eventsmith_core::commands::catalog::{Args, Kind, catalog};
use eventsmith_core::{LoadOptions, RealFs, load};
use support::{VERSIONS, best_of};

const EVENTS: usize = 1_000;

fn main() {
    let temp = tempfile::tempdir().unwrap();
    support::generate(temp.path(), EVENTS);
    support::add_flows(temp.path(), EVENTS);
    let mut options = LoadOptions::new(temp.path(), None);
    // As `eventsmith catalog` loads: examples are left to `validate`.
    options.check_examples = false;
    let loaded = load(&RealFs, &options);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics.first());
    let project = loaded.project.as_ref().unwrap();
    let context = Context::new(temp.path());
    let formats = [
        ("markdown", Kind::Markdown, temp.path().join("docs/catalog")),
        (
            "eventcatalog",
            Kind::EventCatalog,
            temp.path().join("eventcatalog"),
        ),
        (
            "asyncapi (yaml)",
            Kind::AsyncApi,
            temp.path().join("asyncapi.yaml"),
        ),
    ];
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let load_only = best_of(3, || {
        assert!(!load(&RealFs, &options).has_errors());
    });
    println!(
        "catalog of {EVENTS} events x {VERSIONS} versions ({} commands, {} projections):",
        project.commands.len(),
        project.projections.len()
    );
    println!("  load baseline {:>7.1} ms", ms(load_only));
    for (name, kind, target) in formats {
        let args = Args {
            out: Some(&target),
            kind,
            templates: None,
            check: false,
        };
        let end_to_end = best_of(3, || {
            let outcome = catalog(&context, &args).unwrap();
            assert_eq!(
                outcome.status.code(),
                0,
                "{:?}",
                outcome.diagnostics.first()
            );
        });
        println!(
            "  {name:<16} load + render + write {:>7.1} ms (goal < 2000 ms) | ratio to load {:.2}x",
            ms(end_to_end),
            end_to_end.as_secs_f64() / load_only.as_secs_f64()
        );
    }
}
