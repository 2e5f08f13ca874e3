//! Unit tests of the loader.

use crate::diagnostic::Diagnostic;
use crate::io::fs::MemoryFs;
use crate::project::loader::{LoadOptions, Loaded, load};
use crate::schema::store::NodeRef;
use serde_json::{Value, json};
use std::path::Path;

/// The directory every test project lives in; diagnostics show paths relative to it.
pub(crate) const ROOT: &str = "/p";

/// Settings naming the project `p`, with every default.
pub(crate) const TOML: &str = "[project]\nname = \"p\"\n";

/// A tree holding `eventsmith.toml` and `files` (paths relative to [`ROOT`]); a file of
/// `files` named `eventsmith.toml` replaces the default settings.
pub(crate) fn tree(files: &[(&str, &str)]) -> MemoryFs {
    let mut fs = MemoryFs::new();
    fs.insert(format!("{ROOT}/eventsmith.toml"), TOML);
    for (path, text) in files {
        fs.insert(format!("{ROOT}/{path}"), *text);
    }
    fs
}

/// Options for [`ROOT`]: every rule on, paths shown relative to the root.
pub(crate) fn options() -> LoadOptions {
    LoadOptions::new(ROOT, Some(ROOT.into()))
}

/// Loads a project made of `files` (see [`tree`]).
pub(crate) fn load_project(files: &[(&str, &str)]) -> Loaded {
    load(&tree(files), &options())
}

/// The rule ids of every finding, in report order.
pub(crate) fn codes(loaded: &Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

/// The findings of one rule, in report order.
pub(crate) fn findings<'a>(loaded: &'a Loaded, code: &str) -> Vec<&'a Diagnostic> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.code == code)
        .collect()
}

/// The one and only finding of the run, which must be of rule `code`.
pub(crate) fn only<'a>(loaded: &'a Loaded, code: &str) -> &'a Diagnostic {
    match loaded.diagnostics.as_slice() {
        [d] if d.code == code => d,
        _ => panic!(
            "expected one `{code}` finding, got {:#?}",
            loaded.diagnostics
        ),
    }
}

/// The value reached by following the `$ref`s of the subschema at `pointer` in `file`.
fn target(loaded: &Loaded, file: &str, pointer: &str) -> Value {
    let store = &loaded.project.as_ref().expect("a project").store;
    let doc = store
        .id_of(Path::new(&format!("{ROOT}/{file}")))
        .expect("the file is loaded");
    let node = NodeRef {
        doc,
        pointer: pointer.to_owned(),
    };
    let reached = store.follow(&node).expect("the references resolve");
    store.value(&reached).expect("the target exists").clone()
}

#[test]
fn a_command_and_the_files_it_reaches_become_one_schema() {
    let mut fs = MemoryFs::new();
    fs.insert("/p/eventsmith.toml", "[project]\nname = \"p\"\n");
    fs.insert(
        "/p/schema/types/money.json",
        r##"{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.com/money.json",
            "$defs": {"Amount": {"type": "number", "minimum": 0}, "Priced": {"type": "object", "properties": {"price": {"$ref": "#/$defs/Amount"}}}}}"##,
    );
    fs.insert(
        "/p/schema/commands/order/pay.json",
        r##"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {"amount": {"$ref": "../../types/money.json#/$defs/Amount"},
                           "item": {"$ref": "../../types/money.json#/$defs/Priced"},
                           "again": {"$ref": "#/properties/amount"}},
            "required": ["amount"], "x-eventsmith": {"emits": []}}"##,
    );
    let loaded = load(&fs, &LoadOptions::new("/p", None));
    let store = &loaded.project.as_ref().expect("a project").store;
    let doc = store
        .id_of(Path::new("/p/schema/commands/order/pay.json"))
        .unwrap();
    let bundle = crate::schema::bundle::bundle(store, doc, Path::new("/p/schema")).unwrap();
    assert_eq!(
        bundle["properties"]["amount"]["$ref"],
        "#/$defs/types~1money.json/$defs/Amount"
    );
    assert_eq!(bundle["properties"]["again"]["$ref"], "#/properties/amount");
    let money = &bundle["$defs"]["types/money.json"];
    assert_eq!(
        money["$defs"]["Priced"]["properties"]["price"]["$ref"],
        "#/$defs/types~1money.json/$defs/Amount"
    );
    assert!(money.get("$id").is_none() && money.get("$schema").is_none());
    // The bundle validates alone, as the files did together.
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&bundle)
        .unwrap();
    assert!(validator.is_valid(&json!({"amount": 3, "item": {"price": 1}})));
    let errors: Vec<String> = validator
        .iter_errors(&json!({"amount": -1, "item": {"price": -2}}))
        .map(|e| e.instance_path().to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
}

/// A small valid project: one aggregate, two events (one with two versions), a command, a
/// projection and a shared type file.
const MINIMAL: &[(&str, &str)] = &[
    (
        "schema/aggregates/order.json",
        r#"{"type": "object", "properties": {"status": {"type": "string"}},
            "x-eventsmith": {"id": {"type": "string", "format": "uuid"}, "stream": "order", "snapshot": {"every": 100}}}"#,
    ),
    (
        "schema/events/order/placed.v1.json",
        r#"{"title": "OrderPlaced", "type": "object",
            "properties": {"total": {"$ref": "../../types/money.json#/$defs/Amount"}},
            "required": ["total"], "examples": [{"total": 3.99}]}"#,
    ),
    (
        "schema/events/order/placed.v2.json",
        r#"{"title": "OrderPlaced", "type": "object",
            "properties": {"total_amount": {"$ref": "../../types/money.json#/$defs/Amount"}},
            "required": ["total_amount"], "examples": [{"total_amount": 3.99}],
            "x-eventsmith": {"upcast": {"rules": [{"rename": {"from": "total", "to": "total_amount"}}]}}}"#,
    ),
    (
        "schema/events/order/paid.v1.json",
        r#"{"type": "object", "properties": {"amount": {"$ref": "../../types/money.json#/$defs/Amount"}}}"#,
    ),
    (
        "schema/commands/order/place.json",
        r#"{"type": "object", "x-eventsmith": {"emits": ["order.placed"], "owners": ["orders-team"]}}"#,
    ),
    (
        "schema/projections/summary.json",
        r#"{"type": "object", "properties": {"order_id": {"type": "string"}},
            "x-eventsmith": {"key": "order_id", "subscribes": ["order.placed", "order.paid"]}}"#,
    ),
    (
        "schema/types/money.json",
        r#"{"$defs": {"Amount": {"type": "number", "minimum": 0, "examples": [0, 12.5]}}}"#,
    ),
];

/// `MINIMAL` with `extra` added (a file of `extra` replaces the one at the same path).
fn minimal_with(extra: &[(&str, &str)]) -> Loaded {
    load_project(&[MINIMAL, extra].concat())
}

#[test]
fn a_minimal_project_loads_without_findings() {
    let loaded = load_project(MINIMAL);
    assert_eq!(
        codes(&loaded),
        Vec::<&str>::new(),
        "{:#?}",
        loaded.diagnostics
    );
    assert!(!loaded.has_errors() && !loaded.has_io_errors());
    let project = loaded.project.expect("a project");
    assert_eq!(project.config.project.name, "p");
    assert_eq!(project.aggregates.keys().collect::<Vec<_>>(), ["order"]);
    assert_eq!(project.aggregates["order"].stream_category(), "order");
    let versions: Vec<(&str, Vec<u32>)> = project
        .events
        .iter()
        .map(|(t, e)| (t.as_str(), e.versions.iter().map(|v| v.version).collect()))
        .collect();
    assert_eq!(
        versions,
        [("order.paid", vec![1]), ("order.placed", vec![1, 2])]
    );
    assert_eq!(project.commands.keys().collect::<Vec<_>>(), ["order.place"]);
    assert_eq!(
        project.commands["order.place"].annotations.emits,
        ["order.placed"]
    );
    assert_eq!(project.projections.keys().collect::<Vec<_>>(), ["summary"]);
    assert_eq!(project.projections["summary"].annotations.key, "order_id");
    assert_eq!(project.types.len(), 1);
    assert_eq!(
        project.path_of(project.types[0]),
        Path::new("/p/schema/types/money.json")
    );
}

#[test]
fn a_directory_outside_the_layout_is_a_layout_warning_and_its_files_are_ignored() {
    let loaded = minimal_with(&[
        ("schema/docs/x.json", "not JSON at all"),
        ("schema/meta/event.schema.json", "not JSON either"),
        ("schema/events/order/README.md", "# notes"),
    ]);
    let d = only(&loaded, "layout");
    assert_eq!(d.location(), "schema/docs");
    assert_eq!(
        d.message,
        "directory schema/docs is not part of the schema layout; its files are ignored"
    );
    assert!(!d.is_error());
    assert!(!loaded.has_errors());
}

#[test]
fn directories_nest_at_most_32_levels_below_the_schema_directory() {
    // `types` is level 1: 31 more levels are read, a 33rd level is skipped.
    let deep = |levels: usize| format!("schema/types/{}x.json", "d/".repeat(levels));
    let (kept, skipped) = (deep(31), deep(32));
    let loaded = minimal_with(&[
        (kept.as_str(), r#"{"$defs": {}}"#),
        (skipped.as_str(), "not JSON"),
    ]);
    let d = only(&loaded, "layout");
    assert_eq!(
        d.file.as_deref(),
        Some(Path::new(&format!("schema/types/{}d", "d/".repeat(31))))
    );
    assert!(
        d.message.ends_with("is nested too deeply; it is skipped"),
        "{}",
        d.message
    );
    assert_eq!(loaded.project.expect("a project").types.len(), 2);
}

#[test]
fn files_in_the_wrong_place_or_badly_named_are_file_name_errors() {
    let loaded = minimal_with(&[
        ("schema/aggregates/x/y.json", "{}"),
        ("schema/events/order/2fast.v1.json", "{}"),
        ("schema/events/order/paid.v0.json", "{}"),
        ("schema/events/order/paid.v01.json", "{}"),
        ("schema/events/order/shipped.json", "{}"),
        ("schema/events/paid.v1.json", "{}"),
        ("schema/foo.json", "{}"),
    ]);
    let found: Vec<(String, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.location(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "schema/aggregates/x/y.json:1:1".to_owned(),
                "`aggregates/x/y.json` is not where aggregate files go"
            ),
            (
                "schema/events/order/2fast.v1.json:1:1".to_owned(),
                "`2fast` is not a valid event name"
            ),
            (
                "schema/events/order/paid.v0.json:1:1".to_owned(),
                "event file `paid.v0.json` is not named `<name>.v<N>.json`"
            ),
            (
                "schema/events/order/paid.v01.json:1:1".to_owned(),
                "event file `paid.v01.json` is not named `<name>.v<N>.json`"
            ),
            (
                "schema/events/order/shipped.json:1:1".to_owned(),
                "event file `shipped.json` is not named `<name>.v<N>.json`"
            ),
            (
                "schema/events/paid.v1.json:1:1".to_owned(),
                "`events/paid.v1.json` is not where event files go"
            ),
            (
                "schema/foo.json:1:1".to_owned(),
                "`foo.json` is outside the schema layout"
            ),
        ]
    );
    assert!(loaded.diagnostics.iter().all(|d| d.code == "file-name"));
    let v01 = &loaded.diagnostics[3];
    assert_eq!(
        v01.help.as_deref(),
        Some("rename it to `paid.v1.json` (versions start at 1, without leading zeros)")
    );
    // None of them joins the model.
    let project = loaded.project.expect("a project");
    assert_eq!(project.events.len(), 2);
    assert_eq!(project.aggregates.len(), 1);
}

#[test]
fn a_missing_eventsmith_toml_is_an_io_error_and_nothing_else_is_read() {
    let mut fs = MemoryFs::new();
    fs.insert("/p/schema/events/order/placed.v1.json", "not JSON");
    let loaded = load(&fs, &options());
    let d = only(&loaded, "io");
    assert_eq!(d.message, "cannot read eventsmith.toml: no such file");
    assert_eq!(d.file, None);
    assert!(d.help.as_deref().unwrap().contains("eventsmith init"));
    assert!(loaded.project.is_none());
    assert!(loaded.has_errors() && loaded.has_io_errors());
}

#[test]
fn an_invalid_eventsmith_toml_is_a_config_error_at_the_key() {
    let loaded = minimal_with(&[(
        "eventsmith.toml",
        "[project]\nname = \"fixture\"\nowner = \"me\"\n",
    )]);
    let d = only(&loaded, "config");
    assert_eq!(d.location(), "eventsmith.toml:3:1");
    assert!(
        d.message
            .starts_with("invalid eventsmith.toml: unknown field `owner`"),
        "{}",
        d.message
    );
    assert!(loaded.project.is_none());
    assert!(loaded.has_errors() && !loaded.has_io_errors());
}

#[test]
fn eventsmith_toml_that_is_not_toml_or_lacks_the_name_is_a_config_error() {
    for text in [
        "[project\nname = \"p\"\n",
        "[project]\n",
        "[schema]\ndir = \"schema\"\n",
    ] {
        let loaded = minimal_with(&[("eventsmith.toml", text)]);
        let d = only(&loaded, "config");
        assert_eq!(
            d.file.as_deref(),
            Some(Path::new("eventsmith.toml")),
            "{text}"
        );
        assert!(d.span.is_some(), "{text}");
        assert!(loaded.project.is_none(), "{text}");
    }
}

#[test]
fn a_missing_schema_directory_is_an_io_error_in_eventsmith_toml() {
    let loaded = minimal_with(&[(
        "eventsmith.toml",
        "[project]\nname = \"x\"\n\n[schema]\ndir = \"nope\"\n",
    )]);
    let d = only(&loaded, "io");
    assert_eq!(d.location(), "eventsmith.toml");
    assert_eq!(d.message, "schema directory nope does not exist");
    assert!(loaded.has_io_errors());
    // The settings were read, so there is a (empty) project.
    let project = loaded.project.expect("a project");
    assert!(project.events.is_empty() && project.aggregates.is_empty());
}

#[test]
fn a_json_syntax_error_is_positioned() {
    let loaded = minimal_with(&[(
        "schema/events/order/shipped.v1.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {},\n}\n",
    )]);
    let d = only(&loaded, "json-syntax");
    assert_eq!(d.location(), "schema/events/order/shipped.v1.json:4:1");
    assert_eq!(d.message, "invalid JSON: trailing comma");
    // The other files still load; the broken version is left out of the model.
    let project = loaded.project.expect("a project");
    assert!(!project.events.contains_key("order.shipped"));
    assert_eq!(project.events.len(), 2);
}

#[test]
fn truncated_and_empty_files_are_json_syntax_errors() {
    let loaded = minimal_with(&[
        ("schema/events/order/a.v1.json", "{\"type\": \"object\""),
        ("schema/events/order/b.v1.json", "  \n"),
    ]);
    let found: Vec<(&str, String, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.location(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "json-syntax",
                "schema/events/order/a.v1.json:1:17".to_owned(),
                "invalid JSON: EOF while parsing an object"
            ),
            (
                "json-syntax",
                "schema/events/order/b.v1.json:1:1".to_owned(),
                "file is empty"
            ),
        ]
    );
}

#[test]
fn a_duplicate_key_is_positioned_at_the_repeated_key() {
    let loaded = minimal_with(&[(
        "schema/events/order/paid.v1.json",
        "{\n  \"type\": \"object\"\n,\n  \"type\": \"string\"\n}\n",
    )]);
    let d = only(&loaded, "duplicate-key");
    assert_eq!(d.location(), "schema/events/order/paid.v1.json:4:3");
    assert_eq!(d.pointer.as_deref(), Some("/type"));
    assert_eq!(d.message, "key appears twice in the same object");
}

#[test]
fn a_nested_duplicate_key_has_its_pointer() {
    let loaded = minimal_with(&[(
        "schema/types/other.json",
        r#"{"$defs": {"Amount": {"type": "number"}, "Amount": {"type": "string"}}}"#,
    )]);
    let d = only(&loaded, "duplicate-key");
    assert_eq!(d.location(), "schema/types/other.json:1:42");
    assert_eq!(d.pointer.as_deref(), Some("/$defs/Amount"));
}

#[test]
fn local_pointer_refs_resolve_with_escapes() {
    let loaded = minimal_with(&[(
        "schema/types/local.json",
        r##"{"$defs": {"Amount": {"type": "number"}, "a/b": {"type": "string"}, "a~b": {"type": "null"},
                      "Order Line": {"type": "integer"}},
            "properties": {"plain": {"$ref": "#/$defs/Amount"}, "slash": {"$ref": "#/$defs/a~1b"},
                           "tilde": {"$ref": "#/$defs/a~0b"}, "space": {"$ref": "#/$defs/Order%20Line"},
                           "chain": {"$ref": "#/properties/plain"}, "root": {"$ref": "#"}}}"##,
    )]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let reached = |p: &str| target(&loaded, "schema/types/local.json", p);
    assert_eq!(reached("/properties/plain"), json!({"type": "number"}));
    assert_eq!(reached("/properties/slash"), json!({"type": "string"}));
    assert_eq!(reached("/properties/tilde"), json!({"type": "null"}));
    assert_eq!(reached("/properties/space"), json!({"type": "integer"}));
    assert_eq!(reached("/properties/chain"), json!({"type": "number"}));
    assert!(reached("/properties/root").get("$defs").is_some());
}

#[test]
fn relative_file_refs_resolve_against_the_referring_file() {
    let loaded = minimal_with(&[]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(
        target(
            &loaded,
            "schema/events/order/paid.v1.json",
            "/properties/amount"
        ),
        json!({"type": "number", "minimum": 0, "examples": [0, 12.5]})
    );
}

#[test]
fn files_outside_the_schema_directory_are_loaded_and_checked() {
    let mut fs = tree(MINIMAL);
    fs.insert(
        "/p/schema/events/order/paid.v1.json",
        r#"{"type": "object", "properties": {"id": {"$ref": "../../../common/common.json#/$defs/Id"}}}"#,
    );
    fs.insert(
        "/p/common/common.json",
        r#"{"$defs": {"Id": {"type": "string", "examples": [7]}}}"#,
    );
    let loaded = load(&fs, &options());
    let d = only(&loaded, "invalid-example");
    assert_eq!(d.file.as_deref(), Some(Path::new("common/common.json")));
    assert_eq!(d.pointer.as_deref(), Some("/$defs/Id/examples/0"));
    assert_eq!(
        target(
            &loaded,
            "schema/events/order/paid.v1.json",
            "/properties/id"
        ),
        json!({"type": "string", "examples": [7]})
    );
}

#[test]
fn id_based_refs_resolve_from_any_file_and_relative_to_the_id() {
    let loaded = minimal_with(&[
        (
            "schema/types/money.json",
            r##"{"$id": "https://example.com/schemas/money.json",
                "$defs": {"Amount": {"type": "number"},
                          "Price": {"type": "object", "properties": {"currency": {"$ref": "currency.json#/$defs/Currency"}}}}}"##,
        ),
        (
            "schema/types/nested/currency.json",
            r#"{"$id": "https://example.com/schemas/currency.json", "$defs": {"Currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}}"#,
        ),
        (
            "schema/events/order/paid.v1.json",
            r#"{"type": "object", "properties": {"amount": {"$ref": "https://example.com/schemas/money.json#/$defs/Amount"}}}"#,
        ),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(
        target(
            &loaded,
            "schema/events/order/paid.v1.json",
            "/properties/amount"
        ),
        json!({"type": "number"})
    );
    // `currency.json` is not beside `money.json`: only the `$id`s bring them together.
    assert_eq!(
        target(
            &loaded,
            "schema/types/money.json",
            "/$defs/Price/properties/currency"
        ),
        json!({"type": "string", "pattern": "^[A-Z]{3}$"})
    );
}

#[test]
fn anchors_resolve_in_2020_12_and_as_draft_07_plain_name_ids() {
    let loaded = minimal_with(&[
        (
            "schema/types/money.json",
            r#"{"$defs": {"Amount": {"$anchor": "amount", "type": "number"}}}"#,
        ),
        (
            "schema/types/old.json",
            r##"{"$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": {"Code": {"$id": "#code", "type": "string"}},
                "properties": {"code": {"$ref": "#code"}}}"##,
        ),
        (
            "schema/events/order/paid.v1.json",
            r#"{"type": "object", "properties": {"amount": {"$ref": "../../types/money.json#amount"},
                "code": {"$ref": "../../types/old.json#code"}}}"#,
        ),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let reached = |file: &str, p: &str| target(&loaded, file, p);
    assert_eq!(
        reached("schema/events/order/paid.v1.json", "/properties/amount"),
        json!({"$anchor": "amount", "type": "number"})
    );
    assert_eq!(
        reached("schema/events/order/paid.v1.json", "/properties/code"),
        json!({"$id": "#code", "type": "string"})
    );
    assert_eq!(
        reached("schema/types/old.json", "/properties/code"),
        json!({"$id": "#code", "type": "string"})
    );
}

#[test]
fn a_missing_pointer_target_is_a_dangling_ref_with_a_suggestion() {
    let loaded = minimal_with(&[(
        "schema/events/order/paid.v1.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"amount\": {\n      \"$ref\": \"../../types/money.json#/$defs/Amonut\"\n    }\n  }\n}\n",
    )]);
    let d = only(&loaded, "dangling-ref");
    assert_eq!(d.location(), "schema/events/order/paid.v1.json:5:15");
    assert_eq!(d.pointer.as_deref(), Some("/properties/amount/$ref"));
    assert_eq!(
        d.message,
        "`$ref` target `/$defs/Amonut` does not exist: there is no `Amonut`"
    );
    assert_eq!(d.label.as_deref(), Some("`Amonut` not found"));
    assert_eq!(d.help.as_deref(), Some("did you mean `Amount`?"));
}

#[test]
fn a_local_dangling_ref_suggests_a_close_sibling_and_only_a_close_one() {
    let loaded = minimal_with(&[(
        "schema/types/local.json",
        r##"{"$defs": {"Currency": {"type": "string"}},
            "properties": {"near": {"$ref": "#/$defs/Curency"}, "far": {"$ref": "#/$defs/Weight"}}}"##,
    )]);
    let found = findings(&loaded, "dangling-ref");
    assert_eq!(found.len(), 2, "{:#?}", loaded.diagnostics);
    let by_pointer = |p: &str| {
        found
            .iter()
            .find(|d| d.pointer.as_deref() == Some(p))
            .unwrap_or_else(|| panic!("no finding at {p}"))
    };
    let near = by_pointer("/properties/near/$ref");
    assert_eq!(near.help.as_deref(), Some("did you mean `Currency`?"));
    assert_eq!(
        near.file.as_deref(),
        Some(Path::new("schema/types/local.json"))
    );
    let far = by_pointer("/properties/far/$ref");
    assert_eq!(
        far.help.as_deref(),
        Some("point at an existing definition, e.g. `#/$defs/<Name>`")
    );
}

#[test]
fn a_ref_to_a_missing_file_or_anchor_is_a_dangling_ref() {
    let loaded = minimal_with(&[(
        "schema/events/order/paid.v1.json",
        r#"{"type": "object", "properties": {"a": {"$ref": "../../types/nope.json#/$defs/Amount"},
            "b": {"$ref": "../../types/money.json#amount"}}}"#,
    )]);
    let messages: Vec<(&str, Option<&str>, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.pointer.as_deref(), d.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "dangling-ref",
                Some("/properties/a/$ref"),
                "`$ref` points to a file that does not exist: schema/types/nope.json"
            ),
            (
                "dangling-ref",
                Some("/properties/b/$ref"),
                "`$ref` names the anchor `amount`, which no `$anchor` declares"
            ),
        ]
    );
    assert!(!loaded.has_io_errors());
}

#[test]
fn a_ref_to_a_file_that_does_not_parse_is_an_unreadable_ref_and_the_file_its_own_error() {
    let loaded = minimal_with(&[
        (
            "schema/types/money.json",
            r#"{"$defs": {"Amount": {"type": "number"}},}"#,
        ),
        (
            "schema/events/order/paid.v1.json",
            "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"amount\": {\n      \"$ref\": \"../../types/money.json#/$defs/Amount\"\n    }\n  }\n}\n",
        ),
    ]);
    let unreadable = findings(&loaded, "unreadable-ref");
    // placed.v1, placed.v2 and paid.v1 all reach money.json: told once, at the first reference.
    assert_eq!(unreadable.len(), 1, "{:#?}", loaded.diagnostics);
    let first = unreadable[0];
    assert!(
        first.location().starts_with("schema/events/order/"),
        "{}",
        first.location()
    );
    assert_eq!(
        first.message,
        "`$ref` points to schema/types/money.json, but it could not be read or parsed (see its own error)"
    );
    let syntax = findings(&loaded, "json-syntax");
    assert_eq!(syntax.len(), 1);
    assert_eq!(syntax[0].location(), "schema/types/money.json:1:42");
    assert_eq!(syntax[0].message, "invalid JSON: trailing comma");
}

#[test]
fn a_remote_ref_is_a_dangling_ref_and_is_not_fetched() {
    let loaded = minimal_with(&[(
        "schema/events/order/paid.v1.json",
        r#"{"type": "object", "properties": {"amount": {"$ref": "https://schemas.example.com/money.json#/$defs/Amount"}}}"#,
    )]);
    let d = only(&loaded, "dangling-ref");
    assert_eq!(d.pointer.as_deref(), Some("/properties/amount/$ref"));
    assert_eq!(
        d.message,
        "`$ref` points to `https://schemas.example.com/money.json`, which is not part of the project"
    );
    assert!(
        d.help
            .as_deref()
            .unwrap()
            .contains("never fetches schemas over the network")
    );
}

#[test]
fn every_error_is_reported_in_one_run() {
    let loaded = minimal_with(&[
        (
            "schema/events/order/paid.v1.json",
            "{\"type\": \"object\",}",
        ),
        (
            "schema/projections/summary.json",
            r##"{"type": "object", "properties": {"order_id": {"$ref": "#/$defs/Id"}},
                "x-eventsmith": {"key": "order_id", "subscribes": ["order.placed"]}}"##,
        ),
    ]);
    let found: Vec<(&str, String)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.location()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "json-syntax",
                "schema/events/order/paid.v1.json:1:19".to_owned()
            ),
            (
                "dangling-ref",
                "schema/projections/summary.json:1:56".to_owned()
            ),
        ]
    );
}

#[test]
fn has_errors_and_has_io_errors_tell_warnings_errors_and_io_apart() {
    let warned = minimal_with(&[("schema/docs/x.json", "{}")]);
    assert_eq!(codes(&warned), ["layout"]);
    assert!(!warned.has_errors() && !warned.has_io_errors());

    let failed = minimal_with(&[("schema/foo.json", "{}")]);
    assert_eq!(codes(&failed), ["file-name"]);
    assert!(failed.has_errors() && !failed.has_io_errors());

    let unreadable = load(&MemoryFs::new(), &options());
    assert_eq!(codes(&unreadable), ["io"]);
    assert!(unreadable.has_errors() && unreadable.has_io_errors());
}

#[test]
fn check_examples_false_skips_example_validation() {
    let bad_example = [(
        "schema/events/order/paid.v1.json",
        r#"{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}, "examples": [{"amount": -1}]}"#,
    )];
    let fs = tree(&[MINIMAL, &bad_example].concat());
    let checked = load(&fs, &options());
    let d = only(&checked, "invalid-example");
    assert_eq!(
        d.file.as_deref(),
        Some(Path::new("schema/events/order/paid.v1.json"))
    );
    assert_eq!(d.pointer.as_deref(), Some("/examples/0/amount"));

    let mut unchecked = options();
    unchecked.check_examples = false;
    let loaded = load(&fs, &unchecked);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
}

#[test]
fn reference_cycles_without_a_schema_between_are_errors_and_recursion_is_not() {
    let aggregate = ("schema/aggregates/a.json", r#"{"type": "object"}"#);
    let event = |defs: &str| {
        format!(
            r##"{{"type": "object", "properties": {{"x": {{"$ref": "#/$defs/Loop"}}}}, "$defs": {defs}}}"##
        )
    };
    for defs in [
        r##"{"Loop": {"$ref": "#/$defs/Loop"}}"##,
        r##"{"Loop": {"allOf": [{"$ref": "#/$defs/Loop"}]}}"##,
        r##"{"Loop": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/Other"}]}, "Other": {"not": {"$ref": "#/$defs/Loop"}}}"##,
    ] {
        let text = event(defs);
        let loaded = load_project(&[aggregate, ("schema/events/a/b.v1.json", &text)]);
        assert_eq!(
            findings(&loaded, "ref-cycle").len(),
            1,
            "{defs}: {:#?}",
            loaded.diagnostics
        );
    }
    // Across files: a.json -> b.json -> a.json, each only a reference.
    let loaded = load_project(&[
        aggregate,
        (
            "schema/events/a/b.v1.json",
            r#"{"type": "object", "properties": {"x": {"$ref": "../../types/one.json"}}}"#,
        ),
        (
            "schema/types/one.json",
            r#"{"allOf": [{"$ref": "two.json"}]}"#,
        ),
        ("schema/types/two.json", r#"{"$ref": "one.json"}"#),
    ]);
    assert_eq!(
        findings(&loaded, "ref-cycle").len(),
        1,
        "{:#?}",
        loaded.diagnostics
    );
    // Recursion through a property or an item is a recursive type, not a cycle.
    let text = event(
        r##"{"Loop": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Loop"}}, "allOf": [{"items": {"$ref": "#/$defs/Loop"}}]}}"##,
    );
    let loaded = load_project(&[aggregate, ("schema/events/a/b.v1.json", &text)]);
    assert!(
        findings(&loaded, "ref-cycle").is_empty(),
        "{:#?}",
        loaded.diagnostics
    );
}

#[test]
fn projection_names_of_the_runtime_s_own_tables_are_file_name_errors() {
    let loaded = minimal_with(&[
        ("schema/projections/eventsmith_checkpoints.json", "{}"),
        ("schema/projections/Eventsmith_Tables.json", "{}"),
        ("schema/projections/sqlite_stat1.json", "{}"),
    ]);
    let found = findings(&loaded, "file-name");
    assert_eq!(found.len(), 3, "{:#?}", loaded.diagnostics);
    assert!(
        found.iter().all(|d| d.message.contains("is reserved")),
        "{found:#?}"
    );
}
