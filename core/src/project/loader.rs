//! Reads a schema project into the typed [`Project`] model and collects every diagnostic of the run.

use crate::diagnostic::Rule;
use crate::diagnostic::{self, Diagnostic};
use crate::io::fs::FileSystem;
use crate::project::config::{Config, FILE_NAME};
use crate::project::examples;
use crate::project::layout::{self, FileRole};
use crate::project::model::Project;
use crate::project::rules;
use crate::schema::draft::{Draft, DraftError};
use crate::schema::metaschema;
use crate::schema::store::{DocId, NodeRef, RefError, Store, file_uri};
use crate::text::document::Document;
use crate::text::source::{SourceFile, SourceMap};
use crate::text::stack;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use url::Url;

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
}

impl LoadOptions {
    /// Loads the project at `root`, paths shown relative to `display_base`, every rule on.
    pub fn new(root: impl Into<PathBuf>, display_base: Option<PathBuf>) -> Self {
        Self {
            root: root.into(),
            display_base,
            display_prefix: None,
            check_examples: true,
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

/// Loads a plain JSON Schema file, outside any project, following its references.
pub fn load_file(fs: &dyn FileSystem, path: &Path, display_base: Option<&Path>) -> LoadedFile {
    load_file_as(fs, path, display_base, None)
}

/// [`load_file`], with `display_prefix` shown before every path (e.g. `3f2a9c1:` for a file read
/// from a commit).
pub fn load_file_as(
    fs: &dyn FileSystem,
    path: &Path,
    display_base: Option<&Path>,
    display_prefix: Option<String>,
) -> LoadedFile {
    let mut options = LoadOptions::new(
        path.parent().map(Path::to_owned).unwrap_or_default(),
        display_base.map(Path::to_owned),
    );
    options.display_prefix = display_prefix;
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
                let found = metaschema::check_draft(document, draft);
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
    store: Store,
    diagnostics: Vec<Diagnostic>,
    sources: SourceMap,
    /// Files that could not be read or parsed, by URI.
    broken: HashSet<String>,
    /// Documents with a schema error: their examples are not checked.
    invalid: HashSet<DocId>,
}

/// A project file with its role.
pub(crate) struct RoleFile {
    pub role: FileRole,
    pub display: PathBuf,
    pub doc: Option<DocId>,
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
                let found = metaschema::check_draft(self.store.document(id), draft);
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
            types: Vec::new(),
            store: std::mem::take(&mut self.store),
        };
        let found = rules::build_model(&mut project, &role_files, &self.invalid);
        self.diagnostics.extend(found);
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
                            .with_help("schema files live under events/, commands/, aggregates/, projections/ or types/"),
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
        let draft = match Draft::of(document.value()) {
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
                            "eventsmith reads draft 2020-12 (\"$schema\": \"{}\") and draft-07 (\"$schema\": \"{}\")",
                            Draft::Draft202012.uri(),
                            Draft::Draft7.uri()
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

    /// Indexes every document (loading referenced files outside the project as needed), then
    /// resolves every `$ref`.
    fn resolve_refs(&mut self) {
        let mut queue: Vec<DocId> = self.store.ids().collect();
        let mut found = Vec::new();
        while let Some(id) = queue.pop() {
            for (holder, text, target) in self.store.index(id) {
                if let Ok(url) = &target {
                    if let Some(new) = self.load_referenced(url) {
                        queue.push(new);
                    }
                }
                // Under an `http(s)` `$id`, a relative reference may also mean a file beside this
                // one (a common layout): keep that file at hand.
                let beside = self.beside(&holder, &text, &target);
                if let Some(new) = beside.as_ref().and_then(|url| self.load_referenced(url)) {
                    queue.push(new);
                }
                found.push((holder, text, target, beside));
            }
        }
        for (holder, text, target, beside) in found {
            if let (Ok(url), Some(beside)) = (&target, &beside) {
                if matches!(self.store.lookup(url), Err(RefError::Remote(_)))
                    && self.store.lookup(beside).is_ok()
                {
                    // From now on the `$id`-based URI names the file beside, for validators too.
                    self.store.alias(url, beside);
                }
            }
            let resolved = target.and_then(|url| {
                let mut resource = url.clone();
                resource.set_fragment(None);
                if self.broken.contains(resource.as_str()) {
                    let path = url.to_file_path().unwrap_or_default();
                    return Err(RefError::Unreadable(
                        path,
                        "it could not be read or parsed (see its own error)".into(),
                    ));
                }
                self.store.lookup(&url)
            });
            if let Err(err) = &resolved {
                let diagnostic = self.ref_diagnostic(&holder, &text, err);
                self.diagnostics.push(diagnostic);
                self.invalid.insert(holder.doc);
            }
            self.store.record_ref(holder, text, resolved);
        }
    }

    /// For a relative reference resolved against a non-file `$id`, the same reference resolved
    /// against the file's own location.
    fn beside(&self, holder: &NodeRef, text: &str, target: &Result<Url, RefError>) -> Option<Url> {
        let url = target.as_ref().ok()?;
        if url.scheme() == "file" || Url::parse(text).is_ok() {
            return None;
        }
        self.store.uri(holder.doc).join(text).ok()
    }

    /// Loads the file a `file:` URI names when no document holds it yet.
    fn load_referenced(&mut self, url: &Url) -> Option<DocId> {
        if url.scheme() != "file" {
            return None;
        }
        let mut resource = url.clone();
        resource.set_fragment(None);
        if self.store.has_resource(resource.as_str()) || self.broken.contains(resource.as_str()) {
            return None;
        }
        let path = resource.to_file_path().ok()?;
        if self.fs.read(&path).is_err() {
            // Reported as a dangling reference by the caller, not as an I/O failure.
            return None;
        }
        self.read_document(&path)
    }

    fn ref_diagnostic(&self, holder: &NodeRef, text: &str, err: &RefError) -> Diagnostic {
        let document = self.store.document(holder.doc);
        let at = crate::text::pointer::push(&holder.pointer, "$ref");
        let (code, message, label, help) = match err {
            RefError::InvalidUri(detail) => (
                Rule::DanglingRef,
                format!("`$ref` is not a valid URI reference: {detail}"),
                "invalid reference".to_owned(),
                "write a relative path (`../types/money.json#/$defs/Amount`) or a fragment (`#/$defs/Name`)".to_owned(),
            ),
            RefError::FileNotFound(path) => (
                Rule::DanglingRef,
                format!("`$ref` points to a file that does not exist: {}", self.display(path).display()),
                "no such file".to_owned(),
                "relative references resolve against this file's directory (or its `$id`); check the path".to_owned(),
            ),
            RefError::Unreadable(path, why) => (
                Rule::UnreadableRef,
                format!("`$ref` points to {}, but {why}", self.display(path).display()),
                "unreadable target".to_owned(),
                "fix the referenced file first".to_owned(),
            ),
            RefError::Remote(uri) => (
                Rule::DanglingRef,
                format!("`$ref` points to `{uri}`, which is not part of the project"),
                "not a project file".to_owned(),
                "eventsmith never fetches schemas over the network: copy the schema into schema/types/ and reference it by relative path, or declare this `$id` in a project file".to_owned(),
            ),
            RefError::PointerNotFound { pointer, missing } => {
                let suggestion = self.suggest_sibling(holder, text, pointer, missing);
                (
                    Rule::DanglingRef,
                    format!("`$ref` target `{pointer}` does not exist: there is no `{missing}`"),
                    format!("`{missing}` not found"),
                    suggestion.unwrap_or_else(|| "point at an existing definition, e.g. `#/$defs/<Name>`".to_owned()),
                )
            }
            RefError::AnchorNotFound(anchor) => (
                Rule::DanglingRef,
                format!("`$ref` names the anchor `{anchor}`, which no `$anchor` declares"),
                "unknown anchor".to_owned(),
                "declare `\"$anchor\": \"<name>\"` in the target schema or use a JSON pointer fragment".to_owned(),
            ),
        };
        document.diagnostic_at(
            Diagnostic::new(code, message)
                .with_label(label)
                .with_help(help),
            &at,
        )
    }

    /// "did you mean `X`?" for a missing pointer token, from the keys beside it.
    fn suggest_sibling(
        &self,
        holder: &NodeRef,
        text: &str,
        pointer: &str,
        missing: &str,
    ) -> Option<String> {
        let target_doc = match text.split('#').next() {
            Some("") | None => Some(holder.doc),
            Some(_) => self
                .store
                .uri(holder.doc)
                .join(text)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .and_then(|p| self.store.id_of(&p)),
        }?;
        let tokens = crate::text::pointer::tokens(pointer)?;
        let position = tokens.iter().position(|t| t == missing)?;
        let parent: String = tokens[..position]
            .iter()
            .fold(String::new(), |acc, t| crate::text::pointer::push(&acc, t));
        let siblings = self.store.document(target_doc).get(&parent)?.as_object()?;
        crate::project::rules::closest(missing, siblings.keys().map(String::as_str))
            .map(|name| format!("did you mean `{name}`?"))
    }
}

/// The declared aggregates, from `aggregates/*.json` file names (whether or not they parsed).
pub(crate) fn declared_aggregates(files: &[RoleFile]) -> BTreeSet<&str> {
    files
        .iter()
        .filter_map(|f| match &f.role {
            FileRole::Aggregate { name } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
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
            r#"{"type": "object", "properties": {"id": {"$ref": "../../../shared/common.json#/$defs/Id"}}}"#,
        );
        fs.insert(
            "/p/shared/common.json",
            r#"{"$defs": {"Id": {"type": "string", "examples": [7]}}}"#,
        );
        let loaded = load(&fs, &options());
        let d = only(&loaded, "invalid-example");
        assert_eq!(d.file.as_deref(), Some(Path::new("shared/common.json")));
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
        // placed.v1, placed.v2 and paid.v1 all reach money.json.
        assert_eq!(unreadable.len(), 3, "{:#?}", loaded.diagnostics);
        let paid = unreadable
            .iter()
            .find(|d| d.file.as_deref() == Some(Path::new("schema/events/order/paid.v1.json")))
            .expect("paid.v1.json");
        assert_eq!(paid.location(), "schema/events/order/paid.v1.json:5:15");
        assert_eq!(
            paid.message,
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
}
