//! `eventsmith catalog`: the committed docs/catalog is fresh; the example's pages in each format
//! are pinned by snapshots; every relative link of the Markdown resolves; the AsyncAPI document
//! is valid against the official AsyncAPI 3.0.0 schema; EventCatalog front matter carries what
//! EventCatalog reads and nothing it computes; reruns remove what no longer exists and never
//! touch files eventsmith did not write.

use super::{eventsmith, repo_root, run};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Schema projects the tests render besides the example: awkward names, many aggregates.
const PROJECTS: &[&str] = &["tests/service/edge", "tests/codegen/realworld"];

/// Copies a schema project (its eventsmith.toml and schema/) into a new temporary directory.
fn copy_project(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut pending = vec![PathBuf::from("schema")];
    std::fs::copy(
        from.join("eventsmith.toml"),
        dir.path().join("eventsmith.toml"),
    )
    .unwrap();
    while let Some(relative) = pending.pop() {
        std::fs::create_dir_all(dir.path().join(&relative)).unwrap();
        for entry in std::fs::read_dir(from.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let path = relative.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else {
                std::fs::copy(entry.path(), dir.path().join(&path)).unwrap();
            }
        }
    }
    dir
}

/// Every file under `dir`, relative to it, with `/` separators.
fn files_under(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    files
}

fn catalog(project: &Path, args: &[&str]) -> (i32, String, String) {
    run(eventsmith().current_dir(project).arg("catalog").args(args))
}

#[test]
fn the_committed_catalog_is_what_eventsmith_catalog_writes() {
    let (code, stdout, stderr) = catalog(&repo_root(), &["--check"]);
    assert_eq!(
        code, 0,
        "docs/catalog is stale: run `cargo run --bin eventsmith -- catalog` and commit it\n{stdout}{stderr}"
    );
}

#[test]
fn the_example_catalog_is_pinned_in_every_format() {
    let out = tempfile::tempdir().unwrap();
    // In a copy of the project, so the links to its schema files are what docs/catalog has.
    let copy = copy_project(&repo_root());
    let markdown = copy.path().join("docs/catalog");
    let (code, stdout, stderr) = catalog(copy.path(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let pages = files_under(&markdown);
    for page in [
        "README.md",
        "events/order/placed.md",
        "aggregates/order.md",
        "commands/order/place_order.md",
        "projections/order_summary.md",
        "sagas/order_fulfilment.md",
        "windows/payments_per_hour.md",
    ] {
        insta::assert_snapshot!(format!("catalog markdown {page}"), pages[page]);
    }
    assert_eq!(pages, files_under(&repo_root().join("docs/catalog")));
    // Deterministic: a second run changes nothing, and the committed catalog is the same.
    let (_, stdout, _) = catalog(copy.path(), &[]);
    assert!(
        stdout.contains("0 created, 0 updated, 31 unchanged, 0 removed"),
        "{stdout}"
    );
    let eventcatalog = out.path().join("eventcatalog");
    let (code, stdout, stderr) = catalog(
        &repo_root(),
        &[
            "--format",
            "eventcatalog",
            "--out",
            eventcatalog.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let files = files_under(&eventcatalog);
    insta::assert_snapshot!(
        "catalog eventcatalog files",
        files.keys().cloned().collect::<Vec<_>>().join("\n")
    );
    for file in [
        "events/OrderPlaced/index.mdx",
        "events/OrderPlaced/changelog.mdx",
        "events/OrderPlaced/versioned/1.0.0/index.mdx",
        "services/OrderService/index.mdx",
        "services/OrderFulfilmentSaga/index.mdx",
        "services/PaymentsPerHourWindow/index.mdx",
        "commands/PlaceOrder/index.mdx",
        "teams/orders-team.mdx",
    ] {
        insta::assert_snapshot!(format!("catalog eventcatalog {file}"), files[file]);
    }
    let asyncapi = out.path().join("asyncapi.yaml");
    let (code, stdout, stderr) = catalog(
        &repo_root(),
        &["--format", "asyncapi", "--out", asyncapi.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!(
        "catalog asyncapi.yaml",
        std::fs::read_to_string(&asyncapi).unwrap()
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The links and heading anchors of a Markdown page.
fn links_and_anchors(text: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut links = Vec::new();
    let mut anchors = BTreeSet::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_GFM) {
        match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push(dest_url.to_string())
            }
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let seen = counts.entry(base.clone()).or_default();
                anchors.insert(if *seen == 0 {
                    base.clone()
                } else {
                    format!("{base}-{seen}")
                });
                *seen += 1;
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                // Raw HTML links would escape the check: the catalog writes none.
                assert!(!html.contains("href="), "raw HTML link: {html}");
            }
            _ => {}
        }
    }
    (links, anchors)
}

/// Every relative link of the Markdown under `dir` resolves (anchors included), and every page
/// is reachable from `README.md`. Returns how many links were checked.
fn check_links(dir: &Path) -> usize {
    let pages = files_under(dir);
    let parsed: BTreeMap<&String, (Vec<String>, BTreeSet<String>)> = pages
        .iter()
        .filter(|(path, _)| path.ends_with(".md"))
        .map(|(path, text)| (path, links_and_anchors(text)))
        .collect();
    let mut broken = Vec::new();
    let mut reached = BTreeSet::from(["README.md".to_owned()]);
    let mut checked = 0;
    for (page, (links, _)) in &parsed {
        for link in links {
            if link.starts_with("https://") || link.starts_with("http://") {
                continue;
            }
            checked += 1;
            let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
            let path = percent_encoding::percent_decode_str(path)
                .decode_utf8()
                .unwrap();
            let base = dir.join(page);
            let target = if path.is_empty() {
                base.clone()
            } else {
                base.parent().unwrap().join(path.as_ref())
            };
            let Ok(target) = target.canonicalize() else {
                broken.push(format!("{page}: {link} (no such file)"));
                continue;
            };
            if let Ok(inside) = target.strip_prefix(dir.canonicalize().unwrap()) {
                let inside = inside.to_string_lossy().replace('\\', "/");
                if !anchor.is_empty()
                    && !parsed.get(&inside).is_some_and(|(_, a)| a.contains(anchor))
                {
                    broken.push(format!("{page}: {link} (no such heading)"));
                }
                reached.insert(inside);
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    let unreached: Vec<&&String> = parsed.keys().filter(|p| !reached.contains(**p)).collect();
    assert!(
        unreached.is_empty(),
        "pages nothing links to: {unreached:?}"
    );
    checked
}

#[test]
fn every_link_of_the_markdown_catalog_resolves() {
    // The committed catalog links the schema files beside it.
    let checked = check_links(&repo_root().join("docs/catalog"));
    assert!(checked > 100, "only {checked} links");
    for project in PROJECTS {
        let copy = copy_project(&repo_root().join(project));
        let (code, stdout, stderr) = catalog(copy.path(), &["--out", "docs/catalog"]);
        assert_eq!(code, 0, "{project}: {stdout}{stderr}");
        check_links(&copy.path().join("docs/catalog"));
    }
}

fn asyncapi_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/specs/asyncapi-3.0.0.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, document: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[test]
fn asyncapi_documents_are_valid_against_the_official_schema() {
    let validator = asyncapi_validator();
    // The validator is not vacuous: a document missing what 3.0.0 requires fails.
    assert!(
        !validator
            .is_valid(&serde_json::json!({"asyncapi": "3.0.0", "channels": {"c": {"address": 1}}}))
    );
    let out = tempfile::tempdir().unwrap();
    let mut projects = vec![repo_root()];
    let copies: Vec<tempfile::TempDir> = PROJECTS
        .iter()
        .map(|p| copy_project(&repo_root().join(p)))
        .collect();
    projects.extend(copies.iter().map(|c| c.path().to_owned()));
    for (index, project) in projects.iter().enumerate() {
        for extension in ["json", "yaml"] {
            let file = out.path().join(format!("{index}.{extension}"));
            let (code, stdout, stderr) = catalog(
                project,
                &["--format", "asyncapi", "--out", file.to_str().unwrap()],
            );
            assert_eq!(code, 0, "{stdout}{stderr}");
            let text = std::fs::read_to_string(&file).unwrap();
            let document: Value = if extension == "json" {
                serde_json::from_str(&text).unwrap()
            } else {
                serde_norway::from_str(&text).unwrap()
            };
            assert_valid(&validator, &document, &file.display().to_string());
            assert_eq!(document["asyncapi"], "3.0.0");
            // Every reference resolves within the document.
            let mut refs = Vec::new();
            collect_refs(&document, &mut refs);
            for reference in refs {
                let pointer = reference.strip_prefix('#').unwrap();
                assert!(
                    document.pointer(pointer).is_some(),
                    "{}: {reference} leads nowhere",
                    file.display()
                );
            }
        }
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The front matter of an MDX page.
fn front_matter(text: &str) -> Value {
    let rest = text
        .strip_prefix("---\n")
        .expect("front matter opens the page");
    let (yaml, _) = rest.split_once("\n---\n").expect("front matter closes");
    serde_norway::from_str(yaml).unwrap()
}

/// The `owners` of front matter.
fn owners_of(front: &Value) -> Vec<String> {
    front
        .get("owners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_str().map(str::to_owned))
        .collect()
}

fn is_semver(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[test]
fn eventcatalog_front_matter_has_what_eventcatalog_reads() {
    for project in std::iter::once(repo_root()).chain(PROJECTS.iter().map(|p| repo_root().join(p)))
    {
        let out = tempfile::tempdir().unwrap();
        let (code, stdout, stderr) = catalog(
            &project,
            &[
                "--format",
                "eventcatalog",
                "--out",
                out.path().to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
        let files = files_under(out.path());
        let mut messages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut owners = BTreeSet::new();
        let mut events = 0;
        for (path, text) in &files {
            let is_message = (path.starts_with("events/") || path.starts_with("commands/"))
                && path.ends_with("index.mdx");
            if !is_message {
                continue;
            }
            let front = front_matter(text);
            for key in ["id", "name", "version", "schemaPath", "badges"] {
                assert!(front.get(key).is_some(), "{path}: no `{key}`");
            }
            for computed in ["versions", "latestVersion", "producers", "consumers"] {
                assert!(
                    front.get(computed).is_none(),
                    "{path}: `{computed}` is EventCatalog's to compute"
                );
            }
            let version = front["version"].as_str().unwrap();
            assert!(is_semver(version), "{path}: version {version}");
            assert_eq!(front["schemaPath"], "schema.json");
            let dir = path.rsplit_once('/').unwrap().0;
            let schema: Value =
                serde_json::from_str(&files[&format!("{dir}/schema.json")]).unwrap();
            assert!(schema.is_object(), "{dir}/schema.json");
            for badge in front["badges"].as_array().unwrap() {
                for key in ["content", "backgroundColor", "textColor"] {
                    assert!(badge[key].is_string(), "{path}: badge without {key}");
                }
            }
            if path.starts_with("events/") {
                events += 1;
                assert!(front["summary"].is_string() || front.get("summary").is_none());
                // Older versions live under versioned/<their version>/.
                if let Some((_, rest)) = path.split_once("/versioned/") {
                    assert_eq!(rest, format!("{version}/index.mdx"));
                } else {
                    assert!(
                        files.contains_key(&format!("{dir}/changelog.mdx")),
                        "{dir}: no changelog"
                    );
                }
            }
            owners.extend(owners_of(&front));
            messages
                .entry(front["id"].as_str().unwrap().to_owned())
                .or_default()
                .insert(version.to_owned());
        }
        assert!(events > 0);
        // Services send and receive messages that exist, at versions that exist.
        let services: Vec<&String> = files
            .keys()
            .filter(|p| p.starts_with("services/") && p.ends_with("/index.mdx"))
            .collect();
        assert!(!services.is_empty());
        for path in services {
            let front = front_matter(&files[path]);
            assert!(is_semver(front["version"].as_str().unwrap()));
            for key in ["sends", "receives"] {
                for pointer in front[key].as_array().unwrap() {
                    let id = pointer["id"].as_str().unwrap();
                    let version = pointer["version"].as_str().unwrap();
                    assert!(
                        messages.get(id).is_some_and(|v| v.contains(version)),
                        "{path}: {key} {id}@{version}, which is not in the catalog"
                    );
                }
            }
            owners.extend(owners_of(&front));
        }
        // Every owner has a team page.
        for owner in owners {
            let team = files
                .iter()
                .find(|(p, t)| p.starts_with("teams/") && front_matter(t)["id"] == owner.as_str());
            assert!(team.is_some(), "no teams/ page for {owner}");
        }
    }
}

#[test]
fn reruns_remove_what_is_gone_and_never_touch_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(eventsmith().current_dir(dir.path()).args(["init", "shop"]));
    assert_eq!(code, 0, "{stderr}");
    let project = dir.path().join("shop");
    let (code, stdout, stderr) = catalog(&project, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let pages = files_under(&project.join("docs/catalog"));
    let event_page = pages
        .keys()
        .find(|p| p.starts_with("events/"))
        .expect("the sample has an event")
        .clone();
    // A page of the user's beside the generated ones.
    std::fs::write(
        project.join("docs/catalog/events/notes.md"),
        "# Our notes\n",
    )
    .unwrap();
    assert_eq!(catalog(&project, &["--check"]).0, 0);
    // The event goes: its page is stale, then removed; the user's page stays.
    let (aggregate, name) = event_page
        .trim_start_matches("events/")
        .trim_end_matches(".md")
        .split_once('/')
        .unwrap();
    let schemas = project.join("schema/events").join(aggregate);
    for entry in std::fs::read_dir(&schemas).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("{name}.v"))
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    // Whatever referred to the event refers to nothing now: drop those files too.
    let referring: Vec<PathBuf> = ["commands", "projections"]
        .iter()
        .flat_map(|d| walk(&project.join("schema").join(d)))
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains(&format!("{aggregate}.{name}"))
        })
        .collect();
    for path in referring {
        std::fs::remove_file(path).unwrap();
    }
    let (code, stdout, _) = catalog(&project, &["--check"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "stale: {}",
            project.join("docs/catalog").join(&event_page).display()
        )),
        "{stdout}"
    );
    let (code, stdout, stderr) = catalog(&project, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!project.join("docs/catalog").join(&event_page).exists());
    assert!(project.join("docs/catalog/events/notes.md").exists());
    assert_eq!(catalog(&project, &["--check"]).0, 0);
    // A file of the user's where a page goes is never overwritten.
    std::fs::write(project.join("docs/catalog/README.md"), "# Ours\n").unwrap();
    let (code, stdout, _) = catalog(&project, &[]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("will not overwrite"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(project.join("docs/catalog/README.md")).unwrap(),
        "# Ours\n"
    );
}

#[test]
fn two_projects_share_an_eventcatalog_directory() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("catalog");
    let dir = dir.to_str().unwrap();
    let (code, _, stderr) = run(eventsmith().current_dir(out.path()).args(["init", "tasks"]));
    assert_eq!(code, 0, "{stderr}");
    let tasks = out.path().join("tasks");
    for project in [repo_root(), tasks.clone(), repo_root()] {
        let (code, stdout, stderr) = catalog(&project, &["--format", "eventcatalog", "--out", dir]);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    // Each run rewrites its own project's pages and removes none of the other's.
    let files = files_under(Path::new(dir));
    assert!(files.contains_key("events/OrderPlaced/index.mdx"));
    assert!(
        files.keys().any(|p| p.starts_with("events/Task")),
        "{:?}",
        files.keys()
    );
    let (code, stdout, _) = catalog(
        &tasks,
        &["--format", "eventcatalog", "--out", dir, "--check"],
    );
    assert_eq!(code, 0, "{stdout}");
    // A project whose page would land on another's is refused, and nothing is written.
    let edge = repo_root().join("tests/service/edge");
    let (code, stdout, _) = catalog(&edge, &["--format", "eventcatalog", "--out", dir]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("events/OrderPlaced/index.mdx"), "{stdout}");
    assert_eq!(files_under(Path::new(dir)), files);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn bad_options_and_templates_are_usage_errors() {
    let root = repo_root();
    let (code, _, stderr) = catalog(&root, &["--format", "eventcatalog"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("needs --out DIR"), "{stderr}");
    let (code, _, stderr) = catalog(&root, &["--format", "asyncapi", "--out", "api.txt"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("neither a .json nor a .yaml"), "{stderr}");
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(templates.path().join("event.md.hbs"), "{{#each}}").unwrap();
    std::fs::write(templates.path().join("index.md.hbs"), "{{missing_value}}").unwrap();
    let out = tempfile::tempdir().unwrap();
    let with_templates = || {
        catalog(
            &root,
            &[
                "--templates",
                templates.path().to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
            ],
        )
    };
    let (code, stdout, _) = with_templates();
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("`event.md.hbs` does not parse"), "{stdout}");
    // A template that parses but names what the data lacks fails when it renders.
    std::fs::remove_file(templates.path().join("event.md.hbs")).unwrap();
    let (code, stdout, _) = with_templates();
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("`index.md.hbs` failed"), "{stdout}");
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing is written"
    );
    // An override replaces the embedded page.
    std::fs::write(
        templates.path().join("index.md.hbs"),
        "# {{name}} in short\n",
    )
    .unwrap();
    let (code, stdout, _) = with_templates();
    assert_eq!(code, 0, "{stdout}");
    let index = std::fs::read_to_string(out.path().join("README.md")).unwrap();
    assert!(index.ends_with("# shop in short\n"), "{index}");
}
