//! A git revision as a read-only file tree, read with the `git` command without touching the
//! working tree: the project's files are read in one `git cat-file --batch`, any other file on
//! demand.

use crate::io::fs::{FileSystem, MemoryFs};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files of one revision, at the paths they have in the working tree.
#[derive(Debug)]
pub struct GitTree {
    repo: PathBuf,
    rev: String,
    files: MemoryFs,
}

fn git(repo: &Path, args: &[&str]) -> io::Result<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

/// The repository holding `dir` (its top level, with links resolved).
pub fn repository_of(dir: &Path) -> io::Result<PathBuf> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    Ok(PathBuf::from(String::from_utf8_lossy(&top).trim()))
}

impl GitTree {
    /// The files under `dir` (inside a git work tree) as they are at `rev`.
    pub fn open(dir: &Path, rev: &str) -> io::Result<GitTree> {
        let repo = repository_of(dir)?;
        let commit = git(
            &repo,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("`{rev}` is not a commit in {}", repo.display()),
            )
        })?;
        let commit = String::from_utf8_lossy(&commit).trim().to_owned();
        let canonical = std::fs::canonicalize(dir)?;
        let prefix = canonical
            .strip_prefix(&repo)
            .unwrap_or(Path::new(""))
            .to_owned();
        let mut args = vec!["ls-tree", "-r", "-z", commit.as_str()];
        let prefix_text = prefix.to_string_lossy().into_owned();
        if !prefix_text.is_empty() {
            args.extend(["--", prefix_text.as_str()]);
        }
        let listing = git(&repo, &args)?;
        let mut wanted = Vec::new();
        for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((meta, path)) = entry.split_once('\t') else {
                continue;
            };
            let mut fields = meta.split_whitespace();
            let (Some(_mode), Some("blob"), Some(sha)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if path.ends_with(".json") || path.ends_with(".toml") {
                wanted.push((sha.to_owned(), repo.join(path)));
            }
        }
        let mut files = MemoryFs::new();
        for ((_, path), contents) in wanted.iter().zip(cat_blobs(
            &repo,
            wanted.iter().map(|(sha, _)| sha.as_str()),
        )?) {
            files.insert(path.clone(), contents);
        }
        Ok(GitTree {
            repo,
            rev: commit,
            files,
        })
    }

    /// A tree that reads every file on demand (for older revisions of single files).
    pub fn lazy(repo: &Path, rev: &str) -> GitTree {
        GitTree {
            repo: repo.to_owned(),
            rev: rev.to_owned(),
            files: MemoryFs::new(),
        }
    }

    /// The commits of `rev`'s history that changed `path`, newest first.
    pub fn history_of(repo: &Path, rev: &str, path: &Path) -> io::Result<Vec<String>> {
        let relative = path
            .strip_prefix(repo)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let out = git(repo, &["rev-list", rev, "--", &relative])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

/// Reads blobs by id with one `git cat-file --batch`.
fn cat_blobs<'a>(repo: &Path, shas: impl Iterator<Item = &'a str>) -> io::Result<Vec<Vec<u8>>> {
    let shas: Vec<&str> = shas.collect();
    if shas.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no stdin"))?;
    let input: String = shas.iter().map(|sha| format!("{sha}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut reader = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?,
    );
    let mut blobs = Vec::with_capacity(shas.len());
    for _ in &shas {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("unexpected git output: {header}")))?;
        let mut contents = vec![0; size + 1];
        reader.read_exact(&mut contents)?;
        contents.pop(); // the newline after each blob
        blobs.push(contents);
    }
    writer
        .join()
        .map_err(|_| io::Error::other("writer thread failed"))??;
    child.wait()?;
    Ok(blobs)
}

impl FileSystem for GitTree {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if let Ok(contents) = self.files.read(path) {
            return Ok(contents);
        }
        let relative = path
            .strip_prefix(&self.repo)
            .map_err(|_| io::Error::new(io::ErrorKind::NotFound, "outside the repository"))?;
        git(
            &self.repo,
            &[
                "cat-file",
                "blob",
                &format!("{}:{}", self.rev, relative.to_string_lossy()),
            ],
        )
        .map_err(|_| io::Error::new(io::ErrorKind::NotFound, format!("not in {}", self.rev)))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
        self.files.read_dir(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.files.is_dir(path)
    }
}
