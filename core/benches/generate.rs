//! `eventsmith generate` on a generated project of 1,000 events x 3 versions (upcasters between
//! every pair of versions, shared `$ref` types), printed next to a baseline measured in the same
//! run: loading the project (what every command pays before generating).
//!
//! Run: `cargo bench -p eventsmith-core --bench generate`

mod support;

use eventsmith_core::RealFs;
use eventsmith_core::commands::generate::{Settings, project as generate};
use eventsmith_core::{LoadOptions, load};
use support::{VERSIONS, best_of};

const EVENTS: usize = 1_000;

fn main() {
    let temp = tempfile::tempdir().unwrap();
    let files = support::generate(temp.path(), EVENTS);
    let mut options = LoadOptions::new(temp.path(), None);
    // As `eventsmith generate` loads: examples are left to `validate` and the generated tests.
    options.check_examples = false;
    let loaded = load(&RealFs, &options);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics.first());
    let project = loaded.project.as_ref().unwrap();
    let settings = Settings::default();
    let source = generate(project, &settings).unwrap().source;
    if let Some(path) = std::env::var_os("EVENTSMITH_BENCH_OUT") {
        std::fs::write(path, &source).unwrap();
    }
    let load_only = best_of(5, || {
        assert!(!load(&RealFs, &options).has_errors());
    });
    let codegen_only = best_of(5, || {
        generate(project, &settings).unwrap();
    });
    let end_to_end = best_of(5, || {
        let loaded = load(&RealFs, &options);
        let generated = generate(loaded.project.as_ref().unwrap(), &settings).unwrap();
        std::fs::write(temp.path().join("mod.rs"), generated.source).unwrap();
    });
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "generate {EVENTS} events x {VERSIONS} versions ({} files, {} lines of Rust out):",
        files.len(),
        source.lines().count()
    );
    println!(
        "  load + generate + write {:>7.1} ms (goal < 1000 ms) | generate alone {:>7.1} ms | load baseline {:>7.1} ms | ratio to load {:.2}x",
        ms(end_to_end),
        ms(codegen_only),
        ms(load_only),
        end_to_end.as_secs_f64() / load_only.as_secs_f64()
    );
}
