//! `rollgate report --input timeline.json --output report.html`, run as a process: the report
//! is written (directories created) and its path printed; an invalid timeline exits 2 naming
//! the field; an unreadable input exits 1.

use std::path::Path;
use std::process::Command;

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/report/tests/fixtures/timeline.json"
    ))
}

fn rollgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .output()
        .expect("rollgate runs")
}

#[test]
fn writes_the_report_and_prints_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("nested/demo/report.html");
    let out = rollgate(&[
        "report",
        "--input",
        &fixture().to_string_lossy(),
        "--output",
        &output.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        output.to_string_lossy()
    );
    let html = std::fs::read_to_string(&output).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg ").count(), 4, "four inline plots");
}

#[test]
fn invalid_timeline_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("timeline.json");
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    let broken = text.replacen("\"canary_percent\": 1", "\"canary_percent\": 101", 1);
    assert_ne!(text, broken, "the fixture has a 1 % step to break");
    std::fs::write(&input, broken).expect("write");
    let output = dir.path().join("report.html");
    let out = rollgate(&[
        "report",
        "--input",
        &input.to_string_lossy(),
        "--output",
        &output.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("canary_percent") && stderr.contains("101"),
        "{stderr}"
    );
    assert!(!output.exists(), "no report for an invalid timeline");
}

#[test]
fn missing_input_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.json");
    let out = rollgate(&[
        "report",
        "--input",
        &missing.to_string_lossy(),
        "--output",
        "x.html",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the timeline"));
}
