//! The examples print the conformance transcripts of the Python original
//! (`tests/conformance/*.txt`, copied into the repository), line for line.
//!
//! `cargo test` builds the examples before running this file; they are run
//! from `target/<profile>/examples/`, next to the `deps/` directory holding
//! this test binary.
#![feature(coroutines)]

mod common;
use common::example;

use std::path::Path;
use std::process::Command;

/// The example's standard output, as lines; it must exit successfully.
fn run_example(name: &str, args: &[&str]) -> Vec<String> {
    let path = example(name);
    let output = Command::new(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        output.status.success(),
        "example {name} failed ({}); stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("the example prints UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lines of a conformance transcript.
fn transcript(file: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("conformance")
        .join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Compares line by line, so that a failure names the first differing line.
fn assert_lines(name: &str, actual: &[String], expected: &[String]) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a, e, "{name}: line {} differs\nactual:\n{actual:#?}", i + 1);
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{name}: {} lines printed, {} expected\nactual:\n{actual:#?}",
        actual.len(),
        expected.len()
    );
}

#[test]
fn printer_prints_the_transcript() {
    let actual = run_example("printer", &[]);
    assert_lines("printer", &actual, &transcript("printer.txt"));
}

#[test]
fn printer_takes_a_number_of_rounds() {
    let actual = run_example("printer", &["2"]);
    assert_lines("printer 2", &actual, &transcript("printer.txt")[..4]);
}

#[test]
fn children_prints_the_intended_program_output() {
    let actual = run_example("children", &[]);
    let expected = ["good child says: Hi, Mom!", "caught exception: oops!"].map(String::from);
    assert_lines("children", &actual, &expected);
}

#[test]
fn doc_children_prints_the_transcript() {
    let actual = run_example("doc_children", &[]);
    assert_lines("doc_children", &actual, &transcript("doc_children.txt"));
}

#[test]
fn main_routine_prints_the_transcript() {
    // Every line exactly, `exception in bad_descriptor: [Errno 9] Bad file descriptor` too.
    let actual = run_example("main_routine", &[]);
    assert_lines("main_routine", &actual, &transcript("main_routine.txt"));
}
