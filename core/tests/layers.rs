//! The engine's layers point one way. Each top-level module of `core/src` may use only the
//! modules below it, and inside any module its sub-modules use each other without a cycle
//! (`#[cfg(test)]` modules aside). The test parses the sources with syn and resolves every path
//! into the crate (`crate::`, `super::`, `self::`, a child module), through the names a module
//! imports, so a re-export does not hide where a name comes from. Macro bodies (`quote!`,
//! `format!`), strings and comments are not read.

use quote::ToTokens;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Top-level modules from the bottom up; a module may use those of a strictly lower rank.
const LAYERS: &[(&str, u32)] = &[
    ("diagnostic", 0),
    ("text", 1),
    ("io", 2),
    ("schema", 3),
    ("project", 4),
    ("templates", 5),
    ("compat", 5),
    ("scaffold", 5),
    ("codegen", 6),
    ("catalog", 7),
    ("service", 7),
    ("report", 8),
    ("commands", 9),
    ("build", 10),
];

fn rank(module: &str) -> Option<u32> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, rank)| *rank)
}

type ModulePath = Vec<String>;

/// A path as written in `module` (resolved once every module is known).
struct Use {
    module: ModulePath,
    segments: Vec<String>,
    file: PathBuf,
}

/// What the scan of the sources found.
#[derive(Default)]
struct Crate {
    modules: BTreeSet<ModulePath>,
    /// Modules compiled only for tests (`#[cfg(test)] mod …`).
    test_modules: BTreeSet<ModulePath>,
    /// Per module, the names its `use` items bring in, with the path each stands for.
    imports: BTreeMap<ModulePath, BTreeMap<String, Vec<String>>>,
    uses: Vec<Use>,
}

/// Collects the modules a file declares, the names it imports and the paths it uses.
struct Scan<'a> {
    file: &'a Path,
    module: ModulePath,
    found: &'a mut Crate,
}

impl Scan<'_> {
    fn record(&mut self, segments: &[String]) {
        self.found.uses.push(Use {
            module: self.module.clone(),
            segments: segments.to_vec(),
            file: self.file.to_owned(),
        });
    }

    fn import(&mut self, name: String, segments: &[String]) {
        self.found
            .imports
            .entry(self.module.clone())
            .or_default()
            .insert(name, segments.to_vec());
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) if name.ident == "self" => {
                self.record(prefix);
                if let Some(last) = prefix.last().cloned() {
                    self.import(last, prefix);
                }
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                self.record(prefix);
                self.import(name.ident.to_string(), prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                self.record(prefix);
                self.import(rename.rename.to_string(), prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg") && attr.meta.to_token_stream().to_string().contains("test")
    })
}

impl<'ast> Visit<'ast> for Scan<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let mut module = self.module.clone();
        module.push(item.ident.to_string());
        if is_cfg_test(&item.attrs) {
            self.found.test_modules.insert(module.clone());
        }
        if item.content.is_some() {
            self.found.modules.insert(module.clone());
            let outer = std::mem::replace(&mut self.module, module);
            syn::visit::visit_item_mod(self, item);
            self.module = outer;
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }
}

impl Crate {
    /// `segments`, written in `module`, as a path from the crate root: anchored at `crate`,
    /// `self` or `super`, or starting with a child module or a name `module` imports. `None`
    /// for a path outside the crate (another crate, a local name).
    fn absolute(&self, module: &[String], segments: &[String]) -> Option<ModulePath> {
        let first = segments.first()?;
        let mut base = match first.as_str() {
            "crate" => return Some(segments[1..].to_vec()),
            "self" | "super" => module.to_vec(),
            _ => {
                let mut child = module.to_vec();
                child.push(first.clone());
                if self.modules.contains(&child) {
                    child.extend_from_slice(&segments[1..]);
                    return Some(child);
                }
                let imported = self.imports.get(module)?.get(first)?;
                // `use quote::quote;`: the name is the crate's own, not another import.
                if imported.first() == Some(first) {
                    return None;
                }
                let mut path = self.absolute(module, imported)?;
                path.extend_from_slice(&segments[1..]);
                return Some(path);
            }
        };
        let mut rest = segments;
        while let Some((first, tail)) = rest.split_first() {
            match first.as_str() {
                "self" => {}
                "super" => {
                    base.pop()?;
                }
                _ => break,
            }
            rest = tail;
        }
        base.extend_from_slice(rest);
        Some(base)
    }

    /// The module an absolute path points into, seen through re-exports: its longest prefix
    /// that is a module, and when the next segment is a name that module imports, where that
    /// name comes from.
    fn target(&self, path: &[String]) -> ModulePath {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let module = (0..=path.len())
                .rev()
                .map(|len| path[..len].to_vec())
                .find(|prefix| self.modules.contains(prefix))
                .unwrap_or_default();
            let Some(name) = path.get(module.len()) else {
                return module;
            };
            let Some(imported) = self.imports.get(&module).and_then(|names| names.get(name)) else {
                return module;
            };
            let Some(mut next) = self.absolute(&module, imported) else {
                return module;
            };
            next.extend_from_slice(&path[module.len() + 1..]);
            if next == path {
                return module;
            }
            path = next;
        }
        path
    }

    /// Whether `module` is, or is inside, a module compiled only for tests.
    fn is_test(&self, module: &[String]) -> bool {
        (1..=module.len()).any(|len| self.test_modules.contains(&module[..len]))
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file of `src` holds: `a/b.rs` and `a/b/mod.rs` are `a::b`, lib.rs the root.
fn module_of(src: &Path, file: &Path) -> ModulePath {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut module: ModulePath = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
        module.pop();
    }
    module
}

/// The modules of the crate and the crate paths each uses.
/// The modules of the crate, their imports and the paths each uses.
fn scan(src: &Path, files: &[PathBuf]) -> Crate {
    let mut found = Crate::default();
    for file in files {
        let module = module_of(src, file);
        found.modules.insert(module.clone());
        let text = std::fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|error| panic!("{}: does not parse: {error}", file.display()));
        Scan {
            file,
            module,
            found: &mut found,
        }
        .visit_file(&parsed);
    }
    found
}

/// A cycle in `edges`, as the modules along it, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = walk(next, edges, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| walk(node, edges, &mut done, &mut Vec::new()))
}

/// Every way the sources break the layering, as messages.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let scanned = scan(src, &files);
    let mut found = BTreeSet::new();
    // Per parent module, the edges between its children.
    let mut graphs: BTreeMap<ModulePath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for used in &scanned.uses {
        let Some(path) = scanned.absolute(&used.module, &used.segments) else {
            continue;
        };
        let to = scanned.target(&path);
        let from = &used.module;
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        // A module using its own ancestor or descendant is not an edge between layers.
        if common == from.len() || common == to.len() {
            continue;
        }
        let (a, b) = (&from[common], &to[common]);
        if common == 0 {
            match (rank(a), rank(b)) {
                (Some(own), Some(theirs)) if theirs < own => {}
                (Some(_), Some(_)) => {
                    found.insert(format!(
                        "{}: `{a}` uses `crate::{}`, which is not below it",
                        used.file.display(),
                        to.join("::")
                    ));
                }
                (None, _) | (_, None) => {
                    let missing = if rank(a).is_none() { a } else { b };
                    found.insert(format!(
                        "{}: top-level module `{missing}` has no layer in tests/layers.rs",
                        used.file.display()
                    ));
                }
            }
        } else if !scanned.is_test(from) {
            // Tests may use any sibling of the module they test.
            graphs
                .entry(from[..common].to_vec())
                .or_default()
                .entry(a.clone())
                .or_default()
                .insert(b.clone());
        }
    }
    for (parent, edges) in &graphs {
        if let Some(cycle) = cycle(edges) {
            found.insert(format!(
                "modules of `crate::{}` use each other in a cycle: {}",
                parent.join("::"),
                cycle.join(" -> ")
            ));
        }
    }
    found.into_iter().collect()
}

#[test]
fn modules_use_only_layers_below_them_and_sub_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let scanned = scan(&src, &files);
    let paths = scanned
        .uses
        .iter()
        .filter(|used| scanned.absolute(&used.module, &used.segments).is_some())
        .count();
    assert!(paths > 100, "the scan found only {paths} crate paths");
}

#[test]
fn the_scanner_resolves_paths_and_skips_strings_comments_and_macros() {
    let dir = std::env::temp_dir().join(format!("eventsmith-layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("project/loader")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(src.join(path), text).unwrap();
    write("lib.rs", "mod text; mod project; mod codegen;");
    write("text.rs", "pub fn f() {}");
    write("codegen.rs", "pub fn g() {}");
    write(
        "project/mod.rs",
        "mod loader; mod rules; const S: &str = \"crate::codegen\"; const C: char = '\"';\n\
         // crate::codegen\nfn q() { quote!(crate::codegen::g()); }",
    );
    write(
        "project/loader/mod.rs",
        "use super::super::text; fn h() { super::rules::r(); }",
    );
    write("project/rules.rs", "use crate::project::loader::h;");
    let found = violations(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        vec![
            "modules of `crate::project` use each other in a cycle: loader -> rules -> loader"
                .to_owned()
        ]
    );
}

#[test]
fn the_scanner_sees_a_layer_reached_through_super() {
    let dir = std::env::temp_dir().join(format!("eventsmith-layers-up-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("schema")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod schema; mod codegen;").unwrap();
    std::fs::write(src.join("codegen.rs"), "pub fn g() {}").unwrap();
    std::fs::write(src.join("schema/mod.rs"), "fn f() { super::codegen::g(); }").unwrap();
    let found = violations(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("`schema` uses `crate::codegen`, which is not below it"));
}

#[test]
fn a_cycle_through_the_parent_s_imports_is_seen_and_test_modules_are_exempt() {
    let dir = std::env::temp_dir().join(format!("eventsmith-layers-via-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("codegen")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(src.join(path), text).unwrap();
    write("lib.rs", "mod codegen;");
    write(
        "codegen/mod.rs",
        "mod a; mod b; #[cfg(test)] mod tests; use a::f; use b::g as h;",
    );
    write("codegen/a.rs", "use super::h; pub fn f() { h() }");
    write("codegen/b.rs", "pub fn g() { super::f() }");
    write("codegen/tests.rs", "use super::{a, b};");
    let found = violations(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        vec!["modules of `crate::codegen` use each other in a cycle: a -> b -> a".to_owned()]
    );
}
