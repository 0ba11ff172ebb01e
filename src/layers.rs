//! The house's shape, checked: read from the `crate::` paths of every file under src/ (test
//! code left out), the modules import one way down. No import circle, between files or between
//! layers; clap types stop at `config`; nothing below `main` names a command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module of src/ (`steps::follow::machine`), with its source minus test-only code.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
        .into_iter()
        .filter_map(|path: PathBuf| {
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let name = parts.join("::");
            let text = std::fs::read_to_string(&path).unwrap();
            // test-only modules (proptests, the engine's scripted tests) are not the house
            let test_only = ["proptests", "layers", "steps::follow::tests"];
            (!test_only.contains(&name.as_str())).then(|| (name, without_tests(&text)))
        })
        .collect()
}

/// The source without the items behind `#[cfg(test)]` (each one to its matching brace).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // the item ends at the brace that closes its first `{`, or at its `;`
        let open = after.find('{');
        let semi = after.find(';');
        let end = match (open, semi) {
            (Some(o), Some(s)) if s < o => s + 1,
            (Some(o), _) => {
                let mut depth = 0;
                let mut end = after.len();
                for (i, c) in after[o..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = o + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The modules each module names with a `crate::` path.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges = BTreeMap::new();
    for (name, text) in modules {
        let mut targets = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let path: String = text[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            // the longest prefix of the path that is a module
            let target = (1..=segments.len())
                .rev()
                .map(|k| segments[..k].join("::"))
                .find(|m| modules.contains_key(m));
            if let Some(t) = target.filter(|t| t != name) {
                targets.insert(t);
            }
        }
        edges.insert(name.clone(), targets);
    }
    edges
}

fn layer(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// A cycle of the graph, if there is one (depth-first search).
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut vec![], &mut done))
}

#[test]
fn no_import_circle_between_modules_or_layers() {
    let edges = imports(&modules());
    assert!(edges.len() > 30, "the modules were found: {edges:?}");
    if let Some(c) = cycle(&edges) {
        panic!("an import circle between modules: {}", c.join(" → "));
    }
    let mut layers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in &edges {
        for to in targets {
            if layer(from) != layer(to) {
                layers
                    .entry(layer(from).to_string())
                    .or_default()
                    .insert(layer(to).to_string());
            }
        }
    }
    if let Some(c) = cycle(&layers) {
        panic!("an import circle between layers: {}", c.join(" → "));
    }
}

#[test]
fn clap_types_stop_at_config_and_only_main_names_a_command() {
    for (from, targets) in imports(&modules()) {
        if targets.iter().any(|t| layer(t) == "cli") {
            assert!(
                ["main", "cli", "config"].contains(&from.as_str()),
                "{from} imports cli: clap types stop at config"
            );
        }
        if targets.iter().any(|t| layer(t) == "commands") {
            assert!(
                from == "main" || layer(&from) == "commands",
                "{from} names a command: only main dispatches"
            );
        }
        if layer(&from) == "plan" || layer(&from) == "verdict" {
            for t in &targets {
                assert!(
                    !["steps", "commands", "aws", "output", "config"].contains(&layer(t)),
                    "{from} (pure) imports {t}"
                );
            }
        }
    }
}

#[test]
fn the_checks_see_a_circle_and_test_code_is_left_out() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert!(cycle(&edges).is_some());
    let text = "use crate::x;\n#[cfg(test)]\nmod tests {\n    use crate::y;\n    fn f() { {} }\n}\nuse crate::z;\n";
    let kept = without_tests(text);
    assert!(kept.contains("crate::x") && kept.contains("crate::z") && !kept.contains("crate::y"));
}
