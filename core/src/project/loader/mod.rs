//! Reads a schema project into the typed [`Project`] model and collects every diagnostic of the run.

use crate::diagnostic::Rule;
use crate::diagnostic::{self, Diagnostic};
use crate::io::fs::FileSystem;
use crate::project::config::{Config, FILE_NAME};
use crate::project::examples;
use crate::project::layout::{self, RoleFile};
use crate::project::model::Project;
use crate::project::placeholders;
use crate::project::rules;
use crate::schema::draft::{Draft, DraftError};
use crate::schema::keywords;
use crate::schema::metaschema;
use crate::schema::store::{DocId, Store, file_uri};
use crate::text::document::Document;
use crate::text::source::{SourceFile, SourceMap};
use crate::text::stack;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The directory holding `eventsmith.toml`.
    pub root: PathBuf,
    /// File paths in diagnostics are shown relative to this directory when they are inside it.
    pub display_base: Option<PathBuf>,
    /// Shown before every file path, e.g. `origin/main:` for files read from git.
    pub display_prefix: Option<String>,
    /// Validate `examples` (the slowest rule; `check` skips it and leaves it to `validate`).
    pub check_examples: bool,
    /// The draft of a file without `$schema` (a project's comes from its eventsmith.toml).
    pub default_draft: Draft,
}

impl LoadOptions {
    /// Loads the project at `root`, paths shown relative to `display_base`, every rule on.
    pub fn new(root: impl Into<PathBuf>, display_base: Option<PathBuf>) -> Self {
        Self {
            root: root.into(),
            display_base,
            display_prefix: None,
            check_examples: true,
            default_draft: Draft::Draft202012,
        }
    }
}

/// The outcome of a load: the model (when the settings could be read), every diagnostic, and the
/// source of every file read, for rendering snippets.
#[derive(Debug)]
pub struct Loaded {
    /// The project; present whenever `eventsmith.toml` was readable, even if schemas have errors.
    pub project: Option<Project>,
    /// All findings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file read.
    pub sources: SourceMap,
}

impl Loaded {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Whether a file or directory could not be read (exit code 2 rather than 1).
    pub fn has_io_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.code == Rule::Io.id())
    }
}

/// How deep directories under the schema dir may nest (stops symbolic-link loops).
const MAX_DIR_DEPTH: usize = 32;

/// Loads and validates a project. Never panics on bad input and never overflows the stack.
pub fn load(fs: &dyn FileSystem, options: &LoadOptions) -> Loaded {
    stack::with_large_stack(|| Loader::new(fs, options).run()).unwrap_or_else(|err| Loaded {
        project: None,
        diagnostics: vec![Diagnostic::new(
            Rule::Io,
            format!("cannot start the loader thread: {err}"),
        )],
        sources: SourceMap::default(),
    })
}

/// One schema file loaded on its own (for `eventsmith diff`), with the files it references.
#[derive(Debug)]
pub struct LoadedFile {
    /// The file and everything it references.
    pub store: Store,
    /// The file itself, when it could be read and parsed.
    pub doc: Option<DocId>,
    /// Findings: syntax, draft, meta-schema and reference errors.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file read.
    pub sources: SourceMap,
}

impl LoadedFile {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads a plain JSON Schema file, outside any project, following its references; a file
/// without `$schema` is read as `draft`.
pub fn load_file(
    fs: &dyn FileSystem,
    path: &Path,
    display_base: Option<&Path>,
    draft: Draft,
) -> LoadedFile {
    load_file_as(fs, path, display_base, None, draft)
}

/// [`load_file`], with `display_prefix` shown before every path (e.g. `3f2a9c1:` for a file read
/// from a commit).
pub fn load_file_as(
    fs: &dyn FileSystem,
    path: &Path,
    display_base: Option<&Path>,
    display_prefix: Option<String>,
    draft: Draft,
) -> LoadedFile {
    let mut options = LoadOptions::new(
        path.parent().map(Path::to_owned).unwrap_or_default(),
        display_base.map(Path::to_owned),
    );
    options.display_prefix = display_prefix;
    options.default_draft = draft;
    let run = || {
        let mut loader = Loader::new(fs, &options);
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let doc = loader.read_document(&path);
        if let Some(doc) = doc {
            let value = loader.store.document(doc).value();
            if !value.is_object() && !value.is_boolean() {
                loader.check_root_is_object(doc);
            }
        }
        loader.resolve_refs();
        for id in loader.store.ids().collect::<Vec<_>>() {
            let document = loader.store.document(id);
            if let (Some(draft), true) = (
                loader.store.draft(id),
                document.value().is_object() || document.value().is_boolean(),
            ) {
                let mut found = metaschema::check_draft(document, draft);
                // A registry reads a plain file the same way and ignores such a keyword: say
                // so, and compare what the file means in its draft.
                found.extend(
                    keywords::check(
                        document,
                        draft,
                        declares_draft(document),
                        "pass `--draft <draft>`",
                    )
                    .into_iter()
                    .map(Diagnostic::into_warning),
                );
                loader.add_for(id, found);
            }
        }
        diagnostic::sort(&mut loader.diagnostics);
        LoadedFile {
            store: loader.store,
            doc,
            diagnostics: loader.diagnostics,
            sources: loader.sources,
        }
    };
    stack::with_large_stack(run).unwrap_or_else(|err| LoadedFile {
        store: Store::default(),
        doc: None,
        diagnostics: vec![Diagnostic::new(
            Rule::Io,
            format!("cannot start the loader thread: {err}"),
        )],
        sources: SourceMap::default(),
    })
}

struct Loader<'a> {
    fs: &'a dyn FileSystem,
    root: PathBuf,
    display_base: Option<PathBuf>,
    display_prefix: Option<String>,
    check_examples: bool,
    default_draft: Draft,
    store: Store,
    diagnostics: Vec<Diagnostic>,
    sources: SourceMap,
    /// Files that could not be read or parsed, by URI.
    broken: HashSet<String>,
    /// Documents with a schema error: their examples are not checked.
    invalid: HashSet<DocId>,
}

impl<'a> Loader<'a> {
    fn new(fs: &'a dyn FileSystem, options: &LoadOptions) -> Self {
        let root = std::path::absolute(&options.root).unwrap_or_else(|_| options.root.clone());
        Self {
            fs,
            root,
            display_base: options.display_base.clone(),
            display_prefix: options.display_prefix.clone(),
            check_examples: options.check_examples,
            default_draft: options.default_draft,
            store: Store::default(),
            diagnostics: Vec::new(),
            sources: SourceMap::default(),
            broken: HashSet::new(),
            invalid: HashSet::new(),
        }
    }

    fn run(mut self) -> Loaded {
        let config = self.read_config();
        let project = config.map(|config| self.load_schemas(config));
        diagnostic::sort(&mut self.diagnostics);
        Loaded {
            project,
            diagnostics: self.diagnostics,
            sources: self.sources,
        }
    }

    fn display(&self, path: &Path) -> PathBuf {
        let shown = match &self.display_base {
            Some(base) => match path.strip_prefix(base) {
                Ok(relative) if !relative.as_os_str().is_empty() => relative.to_owned(),
                _ => path.to_owned(),
            },
            None => path.to_owned(),
        };
        match &self.display_prefix {
            Some(prefix) => PathBuf::from(format!("{prefix}{}", shown.display())),
            None => shown,
        }
    }

    fn read_config(&mut self) -> Option<Config> {
        let path = self.root.join(FILE_NAME);
        let display = self.display(&path);
        let bytes = match self.fs.read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Rule::Io,
                        format!("cannot read {}: {err}", display.display()),
                    )
                    .with_help("run `eventsmith init` to create a project, or pass --project DIR"),
                );
                return None;
            }
        };
        let source = SourceFile::new(&display, String::from_utf8_lossy(&bytes).into_owned());
        self.sources.insert(&source);
        match Config::parse(&source) {
            Ok(config) => Some(config),
            Err(diagnostic) => {
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }

    fn load_schemas(&mut self, config: Config) -> Project {
        self.default_draft = config.schema.draft;
        let schema_dir = self.root.join(&config.schema.dir);
        let mut files = Vec::new();
        if self.fs.is_dir(&schema_dir) {
            self.collect_files(&schema_dir, &mut files);
        } else {
            self.diagnostics.push(
                Diagnostic::new(Rule::Io,
                    format!("schema directory {} does not exist", self.display(&schema_dir).display()),
                )
                .in_file(self.display(&self.root.join(FILE_NAME)), None)
                .with_help("create it (`eventsmith init` writes a sample) or set `[schema] dir` in eventsmith.toml"),
            );
        }
        files.sort();
        let mut role_files = Vec::new();
        for path in files {
            let relative = path.strip_prefix(&schema_dir).unwrap_or(&path).to_owned();
            let doc = self.read_document(&path);
            let display = self.display(&path);
            match layout::classify(&relative) {
                Ok(role) => {
                    if let Some(doc) = doc {
                        self.check_root_is_object(doc);
                    }
                    role_files.push(RoleFile { role, display, doc });
                }
                Err(err) => self.diagnostics.push(
                    Diagnostic::new(Rule::FileName, err.message)
                        .in_file(&display, doc.map(|d| self.store.document(d).span_of("")))
                        .with_label("file name or place does not fit the layout")
                        .with_help(err.help.unwrap_or_default()),
                ),
            }
        }
        self.resolve_refs();
        for id in self.store.ids().collect::<Vec<_>>() {
            let is_object = self.store.document(id).value().is_object();
            if let (Some(draft), true) = (self.store.draft(id), is_object) {
                let document = self.store.document(id);
                let mut found = metaschema::check_draft(document, draft);
                found.extend(keywords::check(
                    document,
                    draft,
                    declares_draft(document),
                    "set `[schema] draft` in eventsmith.toml",
                ));
                self.add_for(id, found);
            }
        }
        for file in &role_files {
            if let (Some(doc), Some(kind)) = (file.doc, file.role.annotation_kind()) {
                let found = metaschema::check_annotations(self.store.document(doc), kind);
                self.add_for(doc, found);
            }
        }
        let mut project = Project {
            root: self.root.clone(),
            config,
            aggregates: Default::default(),
            events: Default::default(),
            commands: Default::default(),
            projections: Default::default(),
            sagas: Default::default(),
            windows: Default::default(),
            types: Vec::new(),
            store: std::mem::take(&mut self.store),
        };
        let found = rules::build_model(&mut project, &role_files, &self.invalid);
        self.diagnostics.extend(found);
        self.diagnostics.extend(placeholders::check(&project));
        let checked: Vec<DocId> = project
            .store
            .ids()
            .filter(|id| !self.invalid.contains(id) && project.store.draft(*id).is_some())
            .collect();
        if self.check_examples {
            self.diagnostics
                .extend(examples::check(&project.store, &checked));
        }
        project
    }

    /// Adds diagnostics about a document; errors mark it invalid.
    fn add_for(&mut self, doc: DocId, found: Vec<Diagnostic>) {
        if found.iter().any(Diagnostic::is_error) {
            self.invalid.insert(doc);
        }
        self.diagnostics.extend(found);
    }

    fn collect_files(&mut self, schema_dir: &Path, files: &mut Vec<PathBuf>) {
        let mut pending = vec![schema_dir.to_owned()];
        let mut visited = HashSet::new();
        while let Some(dir) = pending.pop() {
            if !visited.insert(self.fs.canonical(&dir)) {
                continue; // reached again through a link
            }
            let entries = match self.fs.read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) => {
                    self.diagnostics.push(Diagnostic::new(
                        Rule::Io,
                        format!(
                            "cannot read directory {}: {err}",
                            self.display(&dir).display()
                        ),
                    ));
                    continue;
                }
            };
            for (path, is_dir) in entries {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if is_dir {
                    if dir == schema_dir && layout::IGNORED_DIRECTORIES.contains(&name) {
                        continue;
                    }
                    if path.components().count() > schema_dir.components().count() + MAX_DIR_DEPTH {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Rule::Layout,
                                format!("directory {} is nested too deeply; it is skipped", self.display(&path).display()),
                            )
                            .in_file(self.display(&path), None)
                            .with_help(format!("schema directories nest at most {MAX_DIR_DEPTH} levels; a symbolic link that points to its own parent causes this")),
                        );
                        continue;
                    }
                    if dir == schema_dir && !layout::DIRECTORIES.contains(&name) {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Rule::Layout,
                                format!("directory {} is not part of the schema layout; its files are ignored", self.display(&path).display()),
                            )
                            .in_file(self.display(&path), None)
                            .with_help("schema files live under events/, commands/, aggregates/, projections/, sagas/, windows/ or types/"),
                        );
                        continue;
                    }
                    pending.push(path);
                } else if name.ends_with(".json") {
                    files.push(path);
                }
            }
        }
    }

    /// Reads and parses a file into the store; `None` (with a diagnostic) when it cannot be.
    fn read_document(&mut self, path: &Path) -> Option<DocId> {
        let display = self.display(path);
        let uri = file_uri(path);
        let bytes = match self.fs.read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                self.broken.insert(uri.to_string());
                self.diagnostics.push(
                    Diagnostic::new(
                        Rule::Io,
                        format!("cannot read {}: {err}", display.display()),
                    )
                    .in_file(&display, None),
                );
                return None;
            }
        };
        let document = match Document::parse(path, &display, &bytes) {
            Ok(document) => document,
            Err((diagnostic, source)) => {
                self.sources.insert(&source);
                self.broken.insert(uri.to_string());
                self.diagnostics.push(diagnostic);
                return None;
            }
        };
        self.sources.insert(document.source());
        let duplicates: Vec<Diagnostic> = document
            .duplicate_keys()
            .map(|(pointer, span)| {
                Diagnostic::new(Rule::DuplicateKey, "key appears twice in the same object")
                    .in_file(&display, Some(span))
                    .at_pointer(pointer)
                    .with_label("repeated here")
                    .with_help("JSON parsers disagree on which value wins: keep one")
            })
            .collect();
        let draft = match Draft::of(document.value(), self.default_draft) {
            Ok(draft) => Some(draft),
            Err(err) => {
                let (message, label) = match err {
                    DraftError::Unsupported(uri) => (
                        format!("unsupported JSON Schema draft `{uri}`"),
                        "this draft is not supported",
                    ),
                    DraftError::Unknown(uri) => (
                        format!("unknown `$schema` `{uri}`"),
                        "not a JSON Schema draft eventsmith knows",
                    ),
                    DraftError::NotAString => {
                        ("`$schema` must be a string".to_owned(), "not a string")
                    }
                };
                self.diagnostics.push(document.diagnostic_at(
                    Diagnostic::new(Rule::UnsupportedDraft, message)
                        .with_label(label)
                        .with_help(format!(
                            "eventsmith reads drafts {}: declare one of them, e.g. \"$schema\": \"{}\"",
                            Draft::ALL.map(Draft::name).join(", "),
                            Draft::Draft202012.uri(),
                        )),
                    "/$schema",
                ));
                None
            }
        };
        let has_errors = !duplicates.is_empty() || draft.is_none();
        self.diagnostics.extend(duplicates);
        let id = self.store.insert(document, draft);
        if has_errors {
            self.invalid.insert(id);
        }
        Some(id)
    }

    fn check_root_is_object(&mut self, doc: DocId) {
        let document = self.store.document(doc);
        if !document.value().is_object() {
            let diagnostic = document.diagnostic_at(
                Diagnostic::new(Rule::SchemaRoot, "a schema file must hold a JSON object")
                    .with_label("not an object")
                    .with_help("write the schema as an object, e.g. {\"type\": \"object\", \"properties\": {}}"),
                "",
            );
            self.diagnostics.push(diagnostic);
            self.invalid.insert(doc);
        }
    }
}

/// Whether a document says its draft (rather than taking the default).
fn declares_draft(document: &Document) -> bool {
    document.value().get("$schema").is_some()
}

mod refs;
#[cfg(test)]
pub(crate) mod tests;
