//! What the core package embeds lives inside it, and the copies shown at the repository's top
//! level are the same files: the example project's `schema/meta/` and `templates/`.

use std::path::Path;

fn read_dir(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_example_projects_meta_schemas_are_the_embedded_ones() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let embedded = read_dir(&core.join("meta"));
    assert!(embedded.len() >= 5, "{embedded:?}");
    let example = read_dir(&core.join("../schema/meta"));
    assert!(
        embedded == example,
        "schema/meta/ differs from core/meta/: copy core/meta/*.json over schema/meta/"
    );
}

#[test]
fn the_top_level_templates_are_the_embedded_ones() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    for family in ["service", "catalog"] {
        let embedded = read_dir(&core.join("templates").join(family));
        assert!(!embedded.is_empty(), "{family}");
        assert_eq!(
            embedded,
            read_dir(&core.join("../templates").join(family)),
            "{family}"
        );
    }
}

#[test]
fn every_rule_is_documented_where_its_anchor_says() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut missing = Vec::new();
    for rule in eventsmith_core::Rule::ALL {
        let doc = rule.doc();
        let (page, anchor) = doc.split_once('#').unwrap();
        let text = std::fs::read_to_string(docs.join(page)).unwrap_or_default();
        if !text
            .lines()
            .any(|line| line.starts_with('#') && line.trim_start_matches('#').trim() == anchor)
        {
            missing.push(format!("{page}: no heading `{anchor}`"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
