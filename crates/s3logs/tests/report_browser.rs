//! `s3logs report`'s page in a real headless Chromium (the Debian package `chromium`, which
//! `make chromium` installs): it renders without console errors, its own script ran to the end
//! and marked the page, every section has its charts, and a screenshot is kept as an artifact
//! in `target/report-screenshot.png` (the page itself in `target/report-sample.html`).
//!
//! Without Chromium this test fails, naming the command that installs it: a skipped browser
//! test would let a broken page through unnoticed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report_data;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pipeline::audit::Rule;
use support::{Scratch, command, path_str, run_guarded};

/// The browser binary the Debian package installs.
const CHROMIUM: &str = "chromium";

/// Where the artifacts go: the workspace's `target/` directory.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Chromium, headless, with a throwaway profile; logging to standard error so console
/// messages can be read. (`--no-sandbox`: CI runs the tests as root, where Chromium refuses
/// its sandbox.)
fn chromium(profile: &Path) -> Command {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(CHROMIUM).is_file()));
    assert!(
        found,
        "`{CHROMIUM}` is not installed; run `make chromium` (as root it runs \
         `apt-get update && apt-get install -y chromium`)"
    );
    let mut command = Command::new(CHROMIUM);
    command.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        &format!("--user-data-dir={}", profile.display()),
    ]);
    command
}

/// Console messages Chromium logged: lines like `[...:INFO:CONSOLE(12)] "Uncaught ..."`.
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|line| line.contains(":CONSOLE")).collect()
}

#[test]
fn the_report_renders_in_chromium_without_errors() {
    let scratch = Scratch::new("report-browser");
    let raw = scratch.write("media.log", report_data::log().as_bytes());
    let page = target_dir().join("report-sample.html");
    let output = command(&["report", path_str(&raw), "-o", path_str(&page)], &scratch.0)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = format!("file://{}", page.display());

    let mut dump = chromium(&scratch.path("profile-dom"));
    dump.args(["--dump-dom", &url]);
    let dumped = run_guarded(dump, &scratch.0, None);
    assert!(dumped.status.success(), "{}", dumped.stderr);
    assert_eq!(console_messages(&dumped.stderr), Vec::<&str>::new());
    let dom = String::from_utf8(dumped.stdout).unwrap();
    let root = &dom[dom.find("<html").unwrap()..][..200];
    assert!(
        root.contains("data-rendered=\"ok\""),
        "the page's script did not finish: {root}"
    );
    assert!(!root.contains("data-errors"), "{root}");

    let charts = |section: &str| {
        let start = dom.find(&format!("<section id=\"{section}\"")).unwrap();
        let end = start + dom[start..].find("</section>").unwrap();
        dom[start..end].matches("<svg class=\"chart").count()
    };
    assert_eq!(charts("requests"), 2);
    assert_eq!(charts("migration"), 1);
    assert_eq!(charts("detections"), Rule::ALL.len());
    assert_eq!(charts("top"), 6);

    let screenshot = target_dir().join("report-screenshot.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut shoot = chromium(&scratch.path("profile-shot"));
    shoot.args([
        "--window-size=1280,6000",
        &format!("--screenshot={}", screenshot.display()),
        &url,
    ]);
    let shot = run_guarded(shoot, &scratch.0, None);
    assert!(shot.status.success(), "{}", shot.stderr);
    assert_eq!(console_messages(&shot.stderr), Vec::<&str>::new());
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "no screenshot at {}",
        screenshot.display()
    );
}
