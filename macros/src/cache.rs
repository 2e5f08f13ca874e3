//! A cache of the engine's output for `generate!`, in the user's cache directory
//! (`$XDG_CACHE_HOME` or `~/.cache`, `eventsmith/macro-cache/`): the macro runs on every rebuild
//! of the user's crate, though its schemas rarely change. An entry is keyed by the content of every file the
//! last generation read and by the list of JSON files under the project, so an edited, added or
//! removed schema regenerates; anything unreadable is a miss.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The generated source and the files it was generated from, if the entry for `dir` is valid.
pub fn lookup(dir: &Path, settings_key: &str) -> Option<(String, Vec<PathBuf>)> {
    let text = std::fs::read_to_string(entry_path(dir)?).ok()?;
    let (header, source) = text.split_once("\n\n")?;
    let mut lines = header.lines();
    let key = lines.next()?;
    let inputs: Vec<PathBuf> = lines.map(PathBuf::from).collect();
    (key == self::key(dir, settings_key, &inputs)?).then(|| (source.to_owned(), inputs))
}

/// Remembers `source`, generated from `inputs`. Failing to write only costs the next build time.
pub fn store(dir: &Path, settings_key: &str, inputs: &[PathBuf], source: &str) {
    let Some(key) = key(dir, settings_key, inputs) else {
        return;
    };
    let mut text = key;
    for input in inputs {
        text.push('\n');
        text.push_str(&input.to_string_lossy());
    }
    text.push_str("\n\n");
    text.push_str(source);
    let Some(path) = entry_path(dir) else { return };
    let Some(parent) = path.parent() else { return };
    // Written beside and renamed into place, so a concurrent build never reads half an entry.
    let partial = parent.join(format!(
        "{}.{}.partial",
        file_name(&path),
        std::process::id()
    ));
    let written = std::fs::create_dir_all(parent)
        .and_then(|()| std::fs::write(&partial, text))
        .and_then(|()| std::fs::rename(&partial, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entry of `dir` in the user's own cache directory (never a shared temp directory, where
/// another user could plant an entry); `None` where there is no such directory.
fn entry_path(dir: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"));
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from))
        .or(home)?;
    let mut hasher = DefaultHasher::new();
    dir.hash(&mut hasher);
    Some(
        base.join("eventsmith")
            .join("macro-cache")
            .join(format!("{:016x}", hasher.finish())),
    )
}

/// The key: the engine that generates, the settings, every input's path and bytes, and the JSON files
/// under the project.
fn key(dir: &Path, settings_key: &str, inputs: &[PathBuf]) -> Option<String> {
    let mut hasher = DefaultHasher::new();
    // The engine's identity (its sources' hash in the workspace), not just its version.
    env!("EVENTSMITH_ENGINE_ID").hash(&mut hasher);
    settings_key.hash(&mut hasher);
    for input in inputs {
        input.hash(&mut hasher);
        std::fs::read(input).ok()?.hash(&mut hasher);
    }
    let mut files = Vec::new();
    list_json(dir, &mut files, 0);
    files.sort();
    files.hash(&mut hasher);
    Some(format!("{:016x}", hasher.finish()))
}

/// JSON files under `dir`, skipping build output and hidden directories.
fn list_json(dir: &Path, into: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if depth < 16 && !name.starts_with('.') && name != "target" && name != "node_modules" {
                list_json(&path, into, depth + 1);
            }
        } else if name.ends_with(".json") || name == "eventsmith.toml" {
            into.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_until_an_input_or_the_file_list_changes() {
        let project = tempfile::tempdir().unwrap();
        let schema = project.path().join("a.json");
        std::fs::write(&schema, "{}").unwrap();
        let inputs = vec![schema.clone()];
        store(project.path(), "k", &inputs, "// code\n\nmore");
        let (source, found) = lookup(project.path(), "k").unwrap();
        assert_eq!(
            (source.as_str(), found),
            ("// code\n\nmore", inputs.clone())
        );
        assert_eq!(lookup(project.path(), "other settings"), None);
        std::fs::write(&schema, "{\"type\": \"object\"}").unwrap();
        assert_eq!(lookup(project.path(), "k"), None);
        store(project.path(), "k", &inputs, "new");
        assert_eq!(lookup(project.path(), "k").unwrap().0, "new");
        std::fs::write(project.path().join("b.json"), "{}").unwrap();
        assert_eq!(lookup(project.path(), "k"), None);
    }
}
