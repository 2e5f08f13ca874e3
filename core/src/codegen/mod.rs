//! Rust code generation (issue #4, in progress): naming rules, a type space planned from schema
//! nodes (objects, string enums, arrays, maps, integers sized from bounds, nullable and optional
//! kept apart, `$ref` targets shared, recursion boxed) and its emission with prettyplease. Not
//! yet: versioned modules, upcasters, `DomainEvent`, formats, `oneOf`/`allOf`, constraints, the
//! CLI, macro and build.rs front-ends; see docs/development.md.

pub mod emit;
pub mod names;
pub mod types;

use crate::model::Project;

/// The Rust types of every event's latest version (and the types they reach), as one source file.
/// A first step of `eventsmith generate`: versioned modules and upcasters are not generated yet.
pub fn latest_event_types(project: &Project) -> String {
    let mut space = types::TypeSpace::new(&project.store);
    for event in project.events.values() {
        space.add(
            &project.root_of(event.latest().schema),
            &event.rust_name(&project.store),
        );
    }
    emit::render(&space)
}

#[cfg(test)]
mod tests {
    use crate::fs::MemoryFs;
    use crate::loader::load_file;
    use crate::store::NodeRef;
    use serde_json::json;
    use std::path::Path;

    fn generate(schema: serde_json::Value, files: &[(&str, serde_json::Value)]) -> String {
        let mut fs = MemoryFs::new();
        fs.insert("/s/event.json", serde_json::to_vec(&schema).unwrap());
        for (path, value) in files {
            fs.insert(format!("/s/{path}"), serde_json::to_vec(value).unwrap());
        }
        let loaded = load_file(&fs, Path::new("/s/event.json"), None);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let mut space = super::types::TypeSpace::new(&loaded.store);
        space.add(
            &NodeRef {
                doc: loaded.doc.unwrap(),
                pointer: String::new(),
            },
            "Event",
        );
        super::emit::render(&space)
    }

    #[test]
    fn optional_nullable_shared_and_recursive_types() {
        let code = generate(
            json!({
                "title": "Order Placed",
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "note": {"type": ["string", "null"]},
                    "count": {"type": "integer", "minimum": 0, "maximum": 10},
                    "delta": {"type": "integer", "minimum": -5, "maximum": 5},
                    "price": {"$ref": "types.json#/$defs/Money"},
                    "refund": {"$ref": "types.json#/$defs/Money"},
                    "tree": {"$ref": "#/$defs/Node"}
                },
                "required": ["type", "price"],
                "additionalProperties": false,
                "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}
            }),
            &[(
                "types.json",
                json!({"$defs": {"Money": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}}}),
            )],
        );
        assert!(code.starts_with(super::emit::HEADER), "{code}");
        assert!(code.contains("pub struct OrderPlaced"), "{code}");
        assert!(
            code.contains("#[serde(rename = \"type\")]\n    pub type_: ::std::string::String"),
            "{code}"
        );
        assert!(
            code.contains("with = \"::eventsmith::double_option\""),
            "{code}"
        );
        assert!(
            code.contains(
                "pub note: ::std::option::Option<::std::option::Option<::std::string::String>>"
            ),
            "{code}"
        );
        assert!(
            code.contains("pub count: ::std::option::Option<u32>"),
            "{code}"
        );
        assert!(
            code.contains("pub delta: ::std::option::Option<i32>"),
            "{code}"
        );
        assert_eq!(code.matches("pub struct Money").count(), 1, "{code}");
        assert!(code.contains("pub price: Money"), "{code}");
        assert!(
            code.contains(
                "pub children: ::std::option::Option<::std::vec::Vec<::std::boxed::Box<Node>>>"
            ),
            "{code}"
        );
        assert!(
            code.contains("#[serde(deny_unknown_fields)]\npub struct OrderPlaced"),
            "{code}"
        );
    }
}
