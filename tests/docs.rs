//! The learning docs name real functions: every link of the form
//! ``[`name`](../src/path.rs)`` in `docs/*.md` must point at a file that still
//! defines `fn name`. Renaming or moving a function without fixing the walk-through
//! fails this test, so the docs cannot quietly go stale.
//!
//! Their Rust blocks are doctests (`src/lib.rs` includes each file); the blocks
//! of `docs/prototyping.md` after the first include `docs/knock.rs`, so the
//! first block, which shows that protocol, must be that file word for word.

use std::fs;
use std::path::Path;

/// `(function, path)` for every ``[`name`](../src/….rs)`` link in `text`.
fn function_links(text: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("`](") else { break };
        let name = &rest[..end];
        rest = &rest[end + 3..];
        let Some(close) = rest.find(')') else { break };
        let target = &rest[..close];
        if let Some(path) = target.strip_prefix("../") {
            if path.starts_with("src/") && path.ends_with(".rs") {
                links.push((name.to_string(), path.to_string()));
            }
        }
    }
    links
}

#[test]
fn every_function_named_in_the_docs_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut missing = Vec::new();
    for entry in fs::read_dir(root.join("docs")).expect("docs/ exists") {
        let path = entry.expect("a docs entry").path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("a readable doc");
        for (name, file) in function_links(&text) {
            let source = fs::read_to_string(root.join(&file)).unwrap_or_default();
            let defines = source.contains(&format!("fn {name}(")) || source.contains(&format!("fn {name}<"));
            if !defines {
                missing.push(format!("{}: `{name}` is not defined in {file}", path.display()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "expected the walk-through's links, found {checked}");
    assert!(missing.is_empty(), "the docs name functions that no longer exist:\n{}", missing.join("\n"));
}

#[test]
fn links_are_parsed() {
    let text = "see [`emit`](../src/tcp/tcb.rs) and [`x`](https://example.org) and [`y`](../README.md)";
    assert_eq!(function_links(text), vec![("emit".to_string(), "src/tcp/tcb.rs".to_string())]);
}

/// The contents of every ```` ```rust ```` block of `text`, in order.
fn rust_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match current.as_mut() {
            None if line.starts_with("```rust") => current = Some(String::new()),
            None => {}
            Some(block) if line == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

#[test]
fn the_protocol_shown_in_prototyping_md_is_the_one_its_examples_include() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("docs/prototyping.md")).expect("docs/prototyping.md");
    let knock = fs::read_to_string(root.join("docs/knock.rs")).expect("docs/knock.rs");
    let blocks = rust_blocks(&doc);
    assert!(blocks.len() >= 8, "found {} Rust blocks", blocks.len());
    assert_eq!(blocks[0], knock, "the first Rust block of docs/prototyping.md differs from docs/knock.rs");
    let including = blocks[1..].iter().filter(|b| b.contains("/docs/knock.rs\")); }")).count();
    assert!(including >= 6, "the later blocks build on docs/knock.rs: {including}");
}
