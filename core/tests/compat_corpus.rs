//! The compatibility corpus: every case in tests/compat/corpus/*.json gives an old and a new
//! schema, the change kinds expected, and the backward and forward verdicts (from which every
//! level follows). All mismatches are reported together.

use eventsmith_core::Level;
use eventsmith_core::MemoryFs;
use eventsmith_core::{ChangeKind, Draft, Verdict, diff_files_in};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/compat/corpus")
}

struct Outcome {
    kinds: Vec<String>,
    verdict: Verdict,
}

fn run_case(case: &Value) -> Result<Outcome, String> {
    let mut fs = MemoryFs::new();
    fs.insert(
        "/old/schema.json",
        serde_json::to_vec(&case["old"]).unwrap(),
    );
    fs.insert(
        "/new/schema.json",
        serde_json::to_vec(&case["new"]).unwrap(),
    );
    for (key, sides) in [
        ("files", &["/old", "/new"][..]),
        ("old_files", &["/old"]),
        ("new_files", &["/new"]),
    ] {
        if let Some(Value::Object(files)) = case.get(key) {
            for (path, content) in files {
                for side in sides {
                    fs.insert(
                        format!("{side}/{path}"),
                        serde_json::to_vec(content).unwrap(),
                    );
                }
            }
        }
    }
    // The corpus reads a schema without `$schema` as 2020-12 unless the case names its draft.
    let draft = match case.get("draft").and_then(Value::as_str) {
        Some(name) => Draft::from_name(name).ok_or_else(|| format!("unknown draft `{name}`"))?,
        None => Draft::Draft202012,
    };
    let changes = diff_files_in(
        &fs,
        Path::new("/old/schema.json"),
        Path::new("/new/schema.json"),
        draft,
    )
    .map_err(|errors| {
        let messages: Vec<_> = errors
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        format!("does not load: {}", messages.join("; "))
    })?;
    let mut kinds: Vec<String> = changes.iter().map(|c| c.kind.id().to_owned()).collect();
    kinds.sort();
    Ok(Outcome {
        kinds,
        verdict: Verdict::of(&changes),
    })
}

#[test]
fn corpus_verdicts_and_kinds() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/compat/corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    let mut covered = BTreeSet::new();
    for file in &files {
        let corpus: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for case in corpus["cases"].as_array().expect("a `cases` array") {
            total += 1;
            let label = format!("{name} / {}", case["name"].as_str().unwrap_or("?"));
            let mut expected: Vec<String> = case["kinds"]
                .as_array()
                .expect("`kinds`")
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect();
            expected.sort();
            for kind in &expected {
                if ChangeKind::from_id(kind).is_none() {
                    failures.push(format!("{label}: unknown kind `{kind}` in the corpus"));
                }
                covered.insert(kind.clone());
            }
            let want = Verdict {
                backward: case["backward"].as_bool().unwrap(),
                forward: case["forward"].as_bool().unwrap(),
            };
            match run_case(case) {
                Err(err) => failures.push(format!("{label}: {err}")),
                Ok(outcome) => {
                    if outcome.kinds != expected {
                        failures.push(format!(
                            "{label}: kinds {:?}, expected {:?}",
                            outcome.kinds, expected
                        ));
                    }
                    if outcome.verdict != want {
                        failures.push(format!(
                            "{label}: verdict {:?}, expected {:?}",
                            outcome.verdict, want
                        ));
                    }
                    for level in [
                        Level::None,
                        Level::Backward,
                        Level::Forward,
                        Level::Full,
                        Level::BackwardTransitive,
                        Level::ForwardTransitive,
                        Level::FullTransitive,
                    ] {
                        if outcome.verdict.passes(level) != want.passes(level) {
                            let verb = if want.passes(level) {
                                "fails"
                            } else {
                                "passes"
                            };
                            failures.push(format!("{label}: {verb} at level {}", level.name()));
                        }
                    }
                }
            }
        }
    }
    assert!(
        total >= 250,
        "the corpus has {total} cases; it should have at least 250"
    );
    let uncovered: Vec<&str> = ChangeKind::ALL
        .iter()
        .map(|k| k.id())
        .filter(|k| !covered.contains(*k))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        uncovered.is_empty(),
        "change kinds no corpus case expects: {uncovered:?}"
    );
}

/// The corpus's verdict table by category (one row per corpus file), as docs/compatibility.md
/// shows it: the test fails when the docs and the corpus part.
fn verdict_table() -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut table = String::from(
        "| Category | Cases | Compatible both ways | Backward only | Forward only | Neither |\n|---|---|---|---|---|---|\n",
    );
    let mut totals = [0usize; 5];
    for file in &files {
        let corpus: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let cases = corpus["cases"].as_array().unwrap();
        let mut counts = [0usize; 4];
        for case in cases {
            let backward = case["backward"].as_bool().unwrap();
            let forward = case["forward"].as_bool().unwrap();
            counts[match (backward, forward) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }] += 1;
        }
        let name = file.file_stem().unwrap().to_string_lossy();
        table.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            cases.len(),
            counts[0],
            counts[1],
            counts[2],
            counts[3]
        ));
        totals[0] += cases.len();
        for (total, count) in totals[1..].iter_mut().zip(counts) {
            *total += count;
        }
    }
    table.push_str(&format!(
        "| **all** | {} | {} | {} | {} | {} |\n",
        totals[0], totals[1], totals[2], totals[3], totals[4]
    ));
    table
}

#[test]
fn the_docs_show_the_corpus_verdict_table() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compatibility.md"),
    )
    .unwrap();
    let table = verdict_table();
    assert!(
        docs.contains(&table),
        "docs/compatibility.md should hold the corpus's verdict table:\n{table}"
    );
}

#[test]
fn every_change_kind_example_in_the_docs_gives_that_kind_and_its_verdicts() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compatibility.md"),
    )
    .unwrap();
    let section = docs
        .split("\n## Change kinds")
        .nth(1)
        .and_then(|rest| rest.split("\n### Computed kinds").next())
        .expect("a Change kinds section");
    let verdict = |cell: &str| {
        let cell = cell.trim();
        let cell = cell
            .strip_prefix("depends (here: ")
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or(cell);
        cell == "yes"
    };
    let (mut checked, mut failures) = (0, Vec::new());
    for line in section.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        let [first, example, backward, forward] = cells.as_slice() else {
            continue;
        };
        let Some(kind) = first.strip_prefix("| `").and_then(|k| k.strip_suffix('`')) else {
            continue;
        };
        let forward = forward.trim_end_matches(" |").trim_end_matches('|');
        let Some((old, new)) = example.split_once(" → ") else {
            continue;
        };
        let parse = |text: &str| -> Value {
            serde_json::from_str(text.trim().trim_matches('`'))
                .unwrap_or_else(|e| panic!("{kind}: the example `{text}` is not JSON: {e}"))
        };
        let case = serde_json::json!({"old": parse(old), "new": parse(new)});
        checked += 1;
        match run_case(&case) {
            Err(err) => failures.push(format!("{kind}: {err}")),
            Ok(outcome) => {
                if outcome.kinds != [kind.to_owned()] {
                    failures.push(format!("{kind}: the example gives {:?}", outcome.kinds));
                }
                let want = (verdict(backward), verdict(forward));
                let got = (outcome.verdict.backward, outcome.verdict.forward);
                if got != want {
                    failures.push(format!("{kind}: verdicts {got:?}, the docs say {want:?}"));
                }
            }
        }
    }
    assert!(
        checked >= ChangeKind::ALL.len(),
        "only {checked} examples found"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
