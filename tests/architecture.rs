//! The shape of `src/` that docs/architecture.md promises: no two files import each other,
//! directly or around a circle, and no file grows past what one reader holds in their head.
//!
//! What counts as an import: every `crate::…` and `super::…` path in a file's code (in `use`
//! trees and inline), comments and test-only modules left out; a path belongs to the file
//! that holds the longest module prefix of it. `self::` and bare child paths are not seen;
//! a parent that declares a child module does not import it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines a file of `src/` may have before it must be split or named here with the reason.
const MAX_LINES: usize = 600;

/// Files allowed past [`MAX_LINES`], and why.
const LARGE_FILES: &[(&str, &str)] = &[];

/// The crate's top-level modules from the bottom up, as docs/architecture.md draws them: a
/// module may import only modules of a lower layer.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["clock", "limits", "metrics", "wire", "auth"],
    &["protocol", "config", "store"],
    &["sheet", "hub"],
    &["outbound", "import", "migrate"],
    &["app"],
    &["transport"],
    &["server"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("src/{module} is in no layer: add it to LAYERS and to docs/architecture.md"))
}

/// A crate's files by module path (`["transport", "ws"]`), each with the module paths it
/// imports.
struct Graph {
    files: BTreeMap<Vec<String>, PathBuf>,
    imports: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> =
        relative.with_extension("").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments, and without anything from a `#[cfg(test)]`
/// inline module on (test modules close the files here).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    match test_modules(&code).into_iter().find(|(_, inline)| *inline) {
        Some((at, _)) => code[..at].to_owned(),
        None => code,
    }
}

/// Each `#[cfg(test)] mod name` of `code`: where it starts, its name, and whether its body
/// is inline (`{`) rather than a file of its own (`;`).
fn test_modules(code: &str) -> Vec<(usize, bool)> {
    test_module_names(code).into_iter().map(|(at, _, inline)| (at, inline)).collect()
}

fn test_module_names(code: &str) -> Vec<(usize, String, bool)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("#[cfg(test)]") {
        let rest = code[at + "#[cfg(test)]".len()..].trim_start();
        let rest = rest.strip_prefix("pub(crate) ").or_else(|| rest.strip_prefix("pub ")).unwrap_or(rest).trim_start();
        let Some(rest) = rest.strip_prefix("mod ") else { continue };
        let name: String = rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let after = rest.trim_start()[name.len()..].trim_start();
        found.push((at, name, after.starts_with('{')));
    }
    found
}

/// The paths `code` names from `start` (`crate::` or `super::`) on, each as far as it goes.
fn paths_from(code: &str, start: &str) -> Vec<String> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(start)
        .filter(|(at, _)| !code[..*at].ends_with(word))
        .map(|(at, _)| code[at..].chars().take_while(|c| word(*c) || *c == ':').collect::<String>())
        .collect()
}

/// Every path a `use` tree names: `use crate::a::{b, c::{d, e}}` gives `crate::a::b`,
/// `crate::a::c::d` and `crate::a::c::e`.
fn use_paths(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            let leaf = tree.split(" as ").next().unwrap_or_default().trim();
            out.push(format!("{prefix}{leaf}").trim_end_matches("::").to_owned());
        }
        Some(open) => {
            let head = format!("{prefix}{}", &tree[..open]);
            let inner = &tree[open + 1..tree.rfind('}').expect("a use tree closes its braces")];
            let (mut depth, mut start) = (0, 0);
            for (at, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        use_paths(&inner[start..at], &head, out);
                        start = at + 1;
                    }
                    _ => {}
                }
            }
            if !inner[start..].trim().is_empty() {
                use_paths(&inner[start..], &head, out);
            }
        }
    }
}

/// `crate::` and `super::` paths of `code`, as absolute module paths from `module`.
fn imported_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    for (at, _) in code.match_indices("use ") {
        if code[..at].ends_with(word) {
            continue;
        }
        let tree = &code[at + 4..];
        let end = tree.find(';').unwrap_or(tree.len());
        use_paths(&tree[..end], "", &mut paths);
    }
    paths.extend(paths_from(code, "crate::"));
    paths.extend(paths_from(code, "super::"));
    paths
        .iter()
        .filter_map(|path| {
            let mut parts = path.split("::").map(str::trim).filter(|p| !p.is_empty());
            let first = parts.next()?;
            let mut base = match first {
                "crate" => Vec::new(),
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => return None,
            };
            let mut rest: Vec<&str> = parts.collect();
            while rest.first() == Some(&"super") {
                base.pop();
                rest.remove(0);
            }
            base.extend(rest.into_iter().filter(|p| *p != "self" && *p != "*").map(str::to_owned));
            Some(base)
        })
        .collect()
}

impl Graph {
    fn of(src: &Path) -> Graph {
        let mut paths = Vec::new();
        rust_files(src, &mut paths);
        let mut texts = BTreeMap::new();
        for path in paths {
            let relative = path.strip_prefix(src).expect("under src").to_owned();
            // The binaries are crates of their own, importing the library by name.
            if relative.starts_with("bin") || relative == Path::new("main.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            texts.insert(module_of(&relative), (relative, text));
        }
        // Modules declared `#[cfg(test)] mod name;` are tests, with all below them.
        let mut tests: Vec<Vec<String>> = Vec::new();
        for (module, (_, text)) in &texts {
            for (_, name, inline) in test_module_names(text) {
                if !inline {
                    let mut child = module.clone();
                    child.push(name);
                    tests.push(child);
                }
            }
        }
        texts.retain(|module, _| !tests.iter().any(|test| module.starts_with(test)));
        let files: BTreeMap<_, _> = texts.iter().map(|(m, (relative, _))| (m.clone(), relative.clone())).collect();
        let mut imports = BTreeMap::new();
        for (module, (_, text)) in &texts {
            let mut targets = BTreeSet::new();
            for path in imported_paths(&code_of(text), module) {
                let holder = (0..=path.len()).rev().map(|k| &path[..k]).find(|prefix| files.contains_key(*prefix));
                if let Some(holder) = holder.filter(|holder| *holder != module.as_slice()) {
                    targets.insert(holder.to_vec());
                }
            }
            imports.insert(module.clone(), targets);
        }
        Graph { files, imports }
    }

    /// The strongly connected components of more than one file (Tarjan's algorithm).
    fn circles(&self) -> Vec<Vec<PathBuf>> {
        struct Walk<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g Vec<String>, usize>,
            low: BTreeMap<&'g Vec<String>, usize>,
            stack: Vec<&'g Vec<String>>,
            circles: Vec<Vec<PathBuf>>,
        }
        impl<'g> Walk<'g> {
            fn visit(&mut self, module: &'g Vec<String>) {
                let at = self.index.len();
                self.index.insert(module, at);
                self.low.insert(module, at);
                self.stack.push(module);
                for target in &self.graph.imports[module] {
                    if !self.index.contains_key(target) {
                        self.visit(target);
                        let low = self.low[module].min(self.low[target]);
                        self.low.insert(module, low);
                    } else if self.stack.contains(&target) {
                        let low = self.low[module].min(self.index[target]);
                        self.low.insert(module, low);
                    }
                }
                if self.low[module] == self.index[module] {
                    let mut component = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        component.push(self.graph.files[member].clone());
                        if member == module {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.circles.push(component);
                    }
                }
            }
        }
        let mut walk =
            Walk { graph: self, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), circles: Vec::new() };
        for module in self.imports.keys() {
            if !walk.index.contains_key(module) {
                walk.visit(module);
            }
        }
        walk.circles
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_two_files_of_src_import_each_other_even_around_a_circle() {
    let graph = Graph::of(&src());
    assert!(graph.files.len() > 40, "the check sees the crate's files: {}", graph.files.len());
    let circles = graph.circles();
    assert!(
        circles.is_empty(),
        "import circles in src/ (docs/architecture.md says what may import what):\n{}",
        circles.iter().map(|c| format!("  {c:?}")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let graph = Graph::of(&src());
    let mut upward = Vec::new();
    for (module, targets) in &graph.imports {
        let Some(top) = module.first() else { continue };
        for target in targets.iter().filter_map(|t| t.first()).filter(|t| *t != top) {
            if layer_of(target) >= layer_of(top) {
                upward.push(format!("{} imports {target}", graph.files[module].display()));
            }
        }
    }
    assert!(upward.is_empty(), "imports that do not go down a layer (docs/architecture.md): {upward:#?}");
}

#[test]
fn the_check_finds_a_circle_through_crate_and_super_paths() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod app;\npub mod transport;\n");
    write("app/mod.rs", "//! uses crate::transport::ws in a comment only\npub mod rooms;\npub struct State;\n");
    write("app/rooms.rs", "use super::State;\npub fn create(_: &State) {}\n");
    write("transport/mod.rs", "pub mod ws;\n");
    write(
        "transport/ws.rs",
        "use crate::{app::{rooms, State}};\npub fn serve(s: &State) { rooms::create(s) }\n\
         #[cfg(test)]\nmod tests {\n    use crate::app::rooms::Later;\n}\n",
    );
    let graph = Graph::of(dir.path());
    assert!(graph.circles().is_empty(), "no circle yet: {:?}", graph.circles());
    write("app/rooms.rs", "use super::State;\npub fn create(_: &State) { super::super::transport::ws::now() }\n");
    assert_eq!(
        Graph::of(dir.path()).circles(),
        vec![vec![PathBuf::from("app/rooms.rs"), PathBuf::from("transport/ws.rs")]]
    );
}

#[test]
fn no_file_of_src_is_past_600_lines_unless_named_with_its_reason() {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    let mut large = Vec::new();
    for path in paths {
        let relative = path.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        if lines > MAX_LINES && !LARGE_FILES.iter().any(|(name, _)| *name == relative) {
            large.push(format!("{relative}: {lines} lines"));
        }
    }
    assert!(large.is_empty(), "split these by responsibility, or name them in LARGE_FILES with the reason: {large:?}");
}
