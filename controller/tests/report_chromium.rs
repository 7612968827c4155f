//! The report renders in a real browser: headless Chromium (Debian `chromium`) screenshots the
//! report of the demo-like fixture, offline, and the PNG has the window's size and real content.
//! Chromium comes from `make test` (its `chromium` prerequisite installs Debian's package).
//! Without it the test fails, naming the fix: it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

const WINDOW: (u32, u32) = (1280, 2400);

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "PNG too short: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (word(16), word(20))
}

#[test]
fn report_renders_in_headless_chromium() {
    let browser = chromium().expect(
        "chromium not found: this test must run. Install it with `make chromium` (Debian's \
         `chromium` package), which `make test` does.",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("report.html");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("report/tests/fixtures/timeline.json");
    let status = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["report", "--input"])
        .arg(&fixture)
        .arg("--output")
        .arg(&html)
        .status()
        .expect("rollgate runs");
    assert!(status.success());

    let png: PathBuf = dir.path().join("report.png");
    let profile = dir.path().join("chromium-profile");
    let out = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success() && png.exists(),
        "chromium failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).expect("screenshot");
    assert_eq!(png_size(&bytes), WINDOW);
    // A blank page compresses to a few KiB; four plots, cards and tables take far more.
    assert!(
        bytes.len() > 100_000,
        "screenshot looks empty: {} bytes",
        bytes.len()
    );
}
