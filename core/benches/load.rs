//! Loads and validates generated projects of 1,000 and 5,000 events x 3 versions with shared
//! `$ref` types, and prints each time next to a baseline measured in the same run: reading the
//! same files and parsing them with serde_json, nothing else.
//!
//! Run: `cargo bench -p eventsmith-core --bench load`

use eventsmith_core::RealFs;
use eventsmith_core::{LoadOptions, load};
use std::time::Duration;

mod support;

use support::{VERSIONS, best_of, generate};

fn main() {
    let mut results = Vec::new();
    for events in [1_000usize, 5_000] {
        let temp = tempfile::tempdir().unwrap();
        let files = generate(temp.path(), events);
        let options = LoadOptions::new(temp.path(), None);
        let loaded = load(&RealFs, &options);
        assert!(
            !loaded.has_errors(),
            "{:?}",
            &loaded.diagnostics[..loaded.diagnostics.len().min(3)]
        );
        assert_eq!(loaded.project.as_ref().unwrap().events.len(), events);
        let runs = if events <= 1_000 { 5 } else { 3 };
        let eventsmith = best_of(runs, || {
            let loaded = load(&RealFs, &options);
            assert!(!loaded.has_errors());
        });
        let baseline = best_of(runs, || {
            for file in &files {
                let bytes = std::fs::read(file).unwrap();
                let _: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            }
        });
        println!(
            "load+validate {events} events x {VERSIONS} versions ({} files): {:>8.1} ms | read+parse baseline {:>6.1} ms | ratio {:.1}x",
            files.len(),
            eventsmith.as_secs_f64() * 1e3,
            baseline.as_secs_f64() * 1e3,
            eventsmith.as_secs_f64() / baseline.as_secs_f64()
        );
        results.push((events, eventsmith));
    }
    let (small, t_small) = results[0];
    let (large, t_large) = results[1];
    let scale = (large / small) as f64;
    println!(
        "scaling {small} -> {large} events: {:.2}x time for {scale:.0}x input (linear = {scale:.2}x; per-event {:.1} µs vs {:.1} µs)",
        t_large.as_secs_f64() / t_small.as_secs_f64(),
        t_small.as_secs_f64() * 1e6 / small as f64,
        t_large.as_secs_f64() * 1e6 / large as f64,
    );
    println!(
        "goal: 1,000 events x 3 versions under 1 s: {}",
        if t_small < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
