//! The sentry's modules form layers: each imports only the layers below it,
//! and the leaf modules (abi, errno, waiter) import nothing but errno. This
//! test reads every source file and fails on an import that goes sideways
//! into a higher layer, which is what brings an import cycle back.

#![allow(clippy::unwrap_used)] // a test: a missing source file should stop it loudly

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top to bottom. A module may use the ones after it.
const LAYERS: &[&str] = &[
    "syscalls", "procfs", "kernel", "net", "loader", "fsimpl", "vfs", "mm", "platform",
];
/// Usable from every layer.
const LEAVES: &[&str] = &["abi", "errno", "waiter"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]`
/// module (tests may reach anywhere).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names as `crate::m`, including inside
/// `use crate::{a, b::c}` groups.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out.remove("");
    out
}

#[test]
fn every_import_goes_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |m: &str| LAYERS.iter().position(|&l| l == m);
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "testing" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for used in crate_refs(&code(&text)) {
            if used == top || used == "errno" {
                continue;
            }
            let ok = if LEAVES.contains(&top.as_str()) {
                // abi and waiter stand alone.
                false
            } else if LEAVES.contains(&used.as_str()) {
                true
            } else {
                match (rank(&top), rank(&used)) {
                    (Some(a), Some(b)) => b > a,
                    _ => false,
                }
            };
            if !ok {
                bad.push(format!("{} uses crate::{used}", rel.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layers ({}):\n{}",
        LAYERS.join(" → "),
        bad.join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_plain_imports() {
    let c =
        code("use crate::{vfs::Stat, kernel};\nfn f() { crate::mm::PAGE } // crate::syscalls\n");
    let r: Vec<String> = crate_refs(&c).into_iter().collect();
    assert_eq!(r, ["kernel", "mm", "vfs"]);
}
