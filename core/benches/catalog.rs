//! `eventsmith catalog` on a generated project of 1,000 events x 3 versions (a command per event,
//! a projection per aggregate, shared `$ref` types), in each format, printed next to a baseline
//! measured in the same run: loading the project (what every command pays before rendering).
//! The goal: rendering the catalog takes under 2 s.
//!
//! Run: `cargo bench -p eventsmith-core --bench catalog`

mod support;

use eventsmith_core::catalog::{self, Format, Templates, gather};
use eventsmith_core::fs::RealFs;
use eventsmith_core::output;
use eventsmith_core::{LoadOptions, load};
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
    let templates = Templates::embedded(catalog::TEMPLATES);
    let out = temp.path().join("docs/catalog");
    let formats = [
        ("markdown", Format::Markdown, out),
        (
            "eventcatalog",
            Format::EventCatalog,
            temp.path().join("eventcatalog"),
        ),
        (
            "asyncapi (yaml)",
            Format::AsyncApi { yaml: true },
            temp.path().join("asyncapi.yaml"),
        ),
    ];
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let load_only = best_of(3, || {
        assert!(!load(&RealFs, &options).has_errors());
    });
    let facts_only = best_of(3, || {
        gather(project);
    });
    println!(
        "catalog of {EVENTS} events x {VERSIONS} versions ({} commands, {} projections):",
        project.commands.len(),
        project.projections.len()
    );
    println!(
        "  load baseline {:>7.1} ms | facts (diffs, fields, bundles) {:>7.1} ms",
        ms(load_only),
        ms(facts_only)
    );
    for (name, format, target) in formats {
        let render_only = best_of(3, || {
            catalog::render(project, format, &templates, &target).unwrap();
        });
        let mut files = 0;
        let end_to_end = best_of(3, || {
            let loaded = load(&RealFs, &options);
            let rendered = catalog::render(
                loaded.project.as_ref().unwrap(),
                format,
                &templates,
                &target,
            )
            .unwrap();
            output::write(&rendered.dir, &rendered.files, &rendered.signature).unwrap();
            output::prune(
                &rendered.dir,
                rendered.roots,
                &rendered.files,
                &rendered.signature,
            )
            .unwrap();
            files = rendered.files.len();
        });
        println!(
            "  {name:<16} load + render + write {:>7.1} ms (goal < 2000 ms, {files} files) | render alone {:>7.1} ms | ratio to load {:.2}x",
            ms(end_to_end),
            ms(render_only),
            end_to_end.as_secs_f64() / load_only.as_secs_f64()
        );
    }
}
