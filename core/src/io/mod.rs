//! Reading and writing files: the [`fs::FileSystem`] the loader reads through (the disk, memory,
//! or a git revision) and the one writer every file eventsmith produces goes through.

pub mod fs;
pub mod git;
pub mod output;
pub mod paths;
