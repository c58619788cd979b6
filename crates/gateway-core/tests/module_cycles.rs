//! The core's modules form no cycle, so any of them can be read, tested or lifted out with
//! only what it depends on. The graph comes from the source: every `crate::…` and `super::…`
//! path outside comments is an edge to the longest module it names, and a `pub use child::…`
//! re-export is an edge from the parent to the child. A new cycle fails this test by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Module paths (`multipart::rules`) and their source, from `src/`.
fn modules(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            modules(&path, &format!("{prefix}{name}::"), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let module = match name.as_str() {
                "lib" => String::new(),
                "mod" => prefix.trim_end_matches("::").to_owned(),
                _ => format!("{prefix}{name}"),
            };
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The longest module among `known` that `path` (already absolute) names.
fn resolve(known: &BTreeMap<String, String>, path: &[&str]) -> Option<String> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| known.contains_key(m))
}

fn graph(known: &BTreeMap<String, String>) -> Graph {
    let mut g = Graph::new();
    for (module, source) in known {
        let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let edges = g.entry(module.clone()).or_default();
        for line in source.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for (anchor, base) in
                [("crate::", Vec::new()), ("super::", parent[..parent.len().saturating_sub(1)].to_vec())]
            {
                let mut rest = line;
                while let Some(at) = rest.find(anchor) {
                    rest = &rest[at + anchor.len()..];
                    let tail: Vec<&str> = rest
                        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .next()
                        .unwrap_or("")
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .collect();
                    let full: Vec<&str> = base.iter().copied().chain(tail).collect();
                    if let Some(target) = resolve(known, &full) {
                        edges.insert(target);
                    }
                }
            }
            // `pub use child::…` in a module file makes it depend on its child.
            if let Some(rest) = line.strip_prefix("pub use ") {
                let child = rest.split("::").next().unwrap_or("");
                let full: Vec<&str> = parent.iter().copied().chain([child]).collect();
                if let Some(target) = resolve(known, &full).filter(|t| t != module) {
                    edges.insert(target);
                }
            }
        }
        edges.remove(module);
        edges.retain(|t| !t.is_empty() && !module.starts_with(&format!("{t}::")));
    }
    g
}

/// Every cycle, each as its sorted module list.
fn cycles(g: &Graph) -> BTreeSet<Vec<String>> {
    fn walk(g: &Graph, start: &str, node: &str, path: &mut Vec<String>, found: &mut BTreeSet<Vec<String>>) {
        for next in g.get(node).into_iter().flatten() {
            if next == start {
                let mut c = path.clone();
                c.sort();
                found.insert(c);
            } else if !path.contains(next) {
                path.push(next.clone());
                walk(g, start, next, path, found);
                path.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for start in g.keys() {
        walk(g, start, start, &mut vec![start.clone()], &mut found);
    }
    found
}

#[test]
fn the_core_modules_form_no_cycle() {
    let mut known = BTreeMap::new();
    modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut known);
    assert!(known.len() > 20, "read the modules: {:?}", known.keys());
    let g = graph(&known);
    assert!(g["upload"].contains("store") && g["multipart"].contains("multipart::session"), "edges are read: {g:?}");
    assert_eq!(cycles(&g), BTreeSet::new());
}

#[test]
fn a_planted_cycle_is_found() {
    let known: BTreeMap<String, String> = [
        ("a".to_owned(), "use crate::b::thing;".to_owned()),
        ("b".to_owned(), "// crate::a in a comment is not an edge\nfn f() { crate::c::g() }".to_owned()),
        ("c".to_owned(), "use crate::a::Other;".to_owned()),
        ("d".to_owned(), "use crate::a::Other;".to_owned()),
    ]
    .into_iter()
    .collect();
    let found = cycles(&graph(&known));
    assert_eq!(found, BTreeSet::from([vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]));
}
