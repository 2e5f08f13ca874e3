//! The engine's layers point one way: each top-level module of `core/src` may use only the
//! modules below it. This test reads the sources and fails on any `crate::` path that reaches up
//! (or sideways into a module of the same rank), which also rules out import cycles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may use those of a strictly lower rank.
const LAYERS: &[(&str, u32)] = &[
    ("diagnostic", 0),
    ("text", 1),
    ("io", 2),
    ("schema", 3),
    ("project", 4),
    ("templates", 5),
    ("compat", 5),
    ("scaffold", 5),
    ("codegen", 6),
    ("catalog", 7),
    ("service", 7),
    ("report", 8),
    ("commands", 9),
    ("build", 10),
];

fn rank(module: &str) -> Option<u32> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, rank)| *rank)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src` belongs to (`None` for lib.rs, the facade).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib").then_some(name)
}

/// Every `crate::name` in the code of `text` (comments left out), with its line.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let before = &code[..code.len() - rest.len() + at];
            let preceded = before.chars().last();
            // `$crate::` in macros, `x::crate::` and paths in string literals or `quote!` (generated
            // code) are not paths into this crate's modules.
            let in_string = before.matches('"').count() % 2 == 1;
            let quoted = before.contains("quote!");
            if !in_string && !quoted && !matches!(preceded, Some('$' | '_' | ':') | Some('a'..='z'))
            {
                found.push((number + 1, name));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn modules_use_only_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(own) = rank(&module) else {
            violations.push(format!(
                "{}: top-level module `{module}` has no layer in tests/layers.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, used) in crate_paths(&text) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(theirs) if theirs < own => {
                    edges.entry(module.clone()).or_default().push(used);
                }
                Some(_) => violations.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`, which is not below it",
                    file.display()
                )),
                None => violations.push(format!(
                    "{}:{line}: `crate::{used}` is not a layer module: name the module it lives in",
                    file.display()
                )),
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(!edges.is_empty(), "the scan found no crate paths at all");
}

#[test]
fn the_scanner_sees_paths_and_skips_comments() {
    let paths = crate_paths(
        "use crate::schema::store;\n// crate::codegen\nlet x = $crate::y; a::crate::z;",
    );
    assert_eq!(paths, vec![(1, "schema".to_owned())]);
}
