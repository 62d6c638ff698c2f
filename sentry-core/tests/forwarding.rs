//! The inotify wrapper around opened files (`vfs/notify.rs`, `Watched`) must forward every
//! method of `FileDescription`: a method left out silently falls back to the trait's default
//! for every file opened through the VFS. This checks the wrapper's impl names each method
//! the trait declares.

#![allow(clippy::expect_used)] // a test: a missing source file should stop it loudly

use std::collections::BTreeSet;

fn methods(block: &str) -> BTreeSet<String> {
    block
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix("fn ")?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// The text of the block that starts at the line containing `head`, up to its closing brace
/// at column 0.
fn block<'a>(src: &'a str, head: &str) -> &'a str {
    let start = src.find(head).expect("block head not found");
    let rest = &src[start..];
    let end = rest.find("\n}\n").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn the_notify_wrapper_forwards_every_file_method() {
    let root = env!("CARGO_MANIFEST_DIR");
    let vfs = std::fs::read_to_string(format!("{root}/src/vfs/mod.rs")).expect("vfs/mod.rs");
    let notify =
        std::fs::read_to_string(format!("{root}/src/vfs/notify.rs")).expect("vfs/notify.rs");
    let declared = methods(block(&vfs, "pub trait FileDescription"));
    let forwarded = methods(block(&notify, "impl FileDescription for Watched"));
    assert!(declared.len() > 20, "trait not parsed: {declared:?}");
    let missing: Vec<_> = declared.difference(&forwarded).collect();
    assert!(
        missing.is_empty(),
        "vfs/notify.rs `Watched` does not forward {missing:?}: every opened file would use the default"
    );
}
