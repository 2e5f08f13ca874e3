//! Where the loader reads files from: the working tree today, a git revision for `check --against`.

use std::io;
use std::path::{Path, PathBuf};

/// Read-only access to a tree of files.
pub trait FileSystem: Sync {
    /// The bytes of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The entries of a directory: `(path, is_dir)`, in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<(PathBuf, bool)>>;
    /// Whether a directory exists.
    fn is_dir(&self, path: &Path) -> bool;
    /// The path with links resolved, to notice a directory reached twice; identity by default.
    fn canonical(&self, path: &Path) -> PathBuf {
        path.to_owned()
    }
}

/// The machine's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
        std::fs::read_dir(path)?
            .map(|entry| {
                let entry = entry?;
                // Follow symlinks: a linked directory of shared types is still a directory.
                let is_dir = std::fs::metadata(entry.path())
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                Ok((entry.path(), is_dir))
            })
            .collect()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
    }
}

/// Files held in memory: for tests, and for trees read from elsewhere (a git revision).
#[derive(Debug, Default, Clone)]
pub struct MemoryFs {
    files: std::collections::BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file; its directories exist implicitly.
    pub fn insert(&mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), contents.into());
    }
}

impl FileSystem for MemoryFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
        let mut entries: Vec<(PathBuf, bool)> = Vec::new();
        for file in self.files.keys() {
            let Ok(rest) = file.strip_prefix(path) else {
                continue;
            };
            let mut components = rest.components();
            let Some(first) = components.next() else {
                continue;
            };
            let entry = (path.join(first), components.next().is_some());
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        if entries.is_empty() && !self.is_dir(path) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
        }
        Ok(entries)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.files
            .keys()
            .any(|file| file != path && file.starts_with(path))
    }
}

/// A tree with some files laid over another (e.g. a derived schema beside the real ones).
pub struct OverlayFs<'a> {
    /// The tree underneath.
    pub base: &'a dyn FileSystem,
    /// The files on top.
    pub top: MemoryFs,
}

impl FileSystem for OverlayFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.top.read(path).or_else(|_| self.base.read(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
        self.base.read_dir(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.base.is_dir(path)
    }
}
