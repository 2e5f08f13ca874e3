//! Paths as written into generated files: relative where that survives moving the tree.

use std::path::{Path, absolute};

/// `to` relative to directory `from` (both made absolute), with `/` separators; absolute when
/// they share nothing but the root.
pub fn relative_path(from: &Path, to: &Path) -> String {
    let (Ok(from), Ok(to)) = (absolute(from), absolute(to)) else {
        return to.to_string_lossy().into_owned();
    };
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    // Sharing only the root, the absolute path survives moving the service.
    if common <= 1 {
        return to.to_string_lossy().into_owned();
    }
    let ups = from.components().count() - common;
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_owned(), ups).collect();
    parts.extend(
        to.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_walk_up_then_down() {
        assert_eq!(
            relative_path(
                Path::new("/work/repo/example"),
                Path::new("/work/repo/runtime")
            ),
            "../runtime"
        );
        assert_eq!(
            relative_path(Path::new("/work/repo"), Path::new("/work/repo")),
            "."
        );
        assert_eq!(
            relative_path(Path::new("/tmp/a/b"), Path::new("/work/repo/runtime")),
            "/work/repo/runtime"
        );
    }
}
