//! The README's "Write a connector" source is the partner template's code, word for word:
//! every line of the README's first Rust block there stands in
//! `examples/custom_connector/acme.rs`, in the same order (the example may hold more lines
//! between them: its other methods, its sink). The example compiles and passes the
//! conformance suites (`tests/custom_connector_conformance.rs`), so the README's code does.

/// The first ```` ```rust ```` block after `## Write a connector`.
fn readme_source() -> Vec<String> {
    let readme = include_str!("../README.md");
    let section = readme
        .split_once("## Write a connector")
        .expect("the README has a \"Write a connector\" section")
        .1;
    let block = section
        .split_once("```rust")
        .expect("the section has a Rust block")
        .1;
    let block = block.split_once('\n').expect("the fence ends its line").1;
    let block = block.split_once("```").expect("the block is closed").0;
    lines(block)
}

/// Trimmed, non-empty lines.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_s_source_is_the_template_s_line_for_line() {
    let readme = readme_source();
    assert!(
        readme.len() > 60,
        "the block is the whole source: {readme:#?}"
    );
    let example = lines(include_str!("../examples/custom_connector/acme.rs"));
    let mut rest = example.iter();
    for line in &readme {
        assert!(
            rest.any(|candidate| candidate == line),
            "README line not found (in order) in examples/custom_connector/acme.rs: {line}"
        );
    }
}

#[test]
fn the_readme_uses_only_public_helpers() {
    let readme = include_str!("../README.md");
    let section = readme.split_once("## Write a connector").unwrap().1;
    let section = section.split_once("\n## ").map_or(section, |(s, _)| s);
    // `mins` is private to ucp-core: a partner copying the README could not compile it.
    assert!(!section.contains("mins("), "{section}");
    assert!(section.contains("use ucp::prelude::*;"), "{section}");
}
