//! The fingerprint of an aggregate's state schema: generated aggregates carry it as
//! `STATE_VERSION`, the runtime reads a snapshot only under the same one, and `check` warns
//! when a change will make the runtime set snapshots aside.

use crate::project::model::Project;
use crate::schema::store::DocId;
use serde_json::Value;

/// A fingerprint of an aggregate's state schema, with every file it references: the runtime
/// reads a snapshot only when it was taken under the same one. Annotations (`title`,
/// `description`, `examples`, `x-eventsmith`, …) are left out, so editing prose keeps snapshots.
pub fn state_version(project: &Project, schema: DocId) -> String {
    const ANNOTATIONS: &[&str] = &[
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "$comment",
        "x-eventsmith",
    ];
    let base = project.root.join(&project.config.schema.dir);
    let Some(mut bundled) = crate::schema::bundle::bundle(&project.store, schema, &base) else {
        return String::new();
    };
    let draft = project
        .store
        .draft(schema)
        .unwrap_or(crate::schema::draft::Draft::Draft202012);
    let pointers: Vec<String> = crate::schema::walk::subschemas(&bundled, draft)
        .into_iter()
        .map(|sub| sub.pointer)
        .collect();
    for at in pointers {
        if let Some(Value::Object(object)) = bundled.pointer_mut(&at) {
            object.retain(|key, _| !ANNOTATIONS.contains(&key.as_str()));
        }
    }
    // FNV-1a over the canonical text (keys sorted, so reordering changes nothing): stable across
    // runs, machines and Rust versions.
    sort_keys(&mut bundled);
    let text = serde_json::to_string(&bundled).unwrap_or_default();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Sorts every object's keys, recursively.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.sort_keys();
            object.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}
