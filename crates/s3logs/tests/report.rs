//! `s3logs report` through the built binary: the same page from raw logs, NDJSON records and
//! Parquet; markup from the logs escaped; nothing fetched from the network; every detection of
//! the catalogue on the page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report_data;
mod support;

use std::fs;
use std::path::Path;

use columnar::{ParquetWriter, WriterOptions};
use pipeline::audit::Rule;
use report_data::HOSTILE_AGENT;
use support::{Scratch, command, path_str};

/// Runs `s3logs report` on `inputs` and returns the page.
fn report(scratch: &Scratch, inputs: &[&Path], name: &str) -> String {
    let out = scratch.path(name);
    let mut args = vec!["report"];
    args.extend(inputs.iter().map(|p| path_str(p)));
    args.extend(["-o", path_str(&out)]);
    let output = command(&args, &scratch.0).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    fs::read_to_string(out).unwrap()
}

/// The page without the line naming the inputs, which is the only part that differs by format.
fn without_inputs(page: &str) -> String {
    page.lines()
        .filter(|line| !line.starts_with("<p id=\"inputs\">"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The raw log, its records (through `s3logs parse`) and its Parquet file.
fn three_formats(scratch: &Scratch) -> [std::path::PathBuf; 3] {
    let raw = scratch.write("raw/media.log", report_data::log().as_bytes());
    let records = scratch.path("records.ndjson");
    let output = command(&["parse", path_str(&raw), "-o", path_str(&records)], &scratch.0)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    for line in fs::read_to_string(&records).unwrap().lines() {
        writer.write_record(line.as_bytes()).unwrap();
    }
    let parquet = scratch.write("records.parquet", &writer.finish().unwrap());
    [raw, records, parquet]
}

#[test]
fn raw_logs_records_and_parquet_draw_the_same_page() {
    let scratch = Scratch::new("report-formats");
    let [raw, records, parquet] = three_formats(&scratch);
    let pages = [
        report(&scratch, &[&raw], "raw.html"),
        report(&scratch, &[&records], "records.html"),
        report(&scratch, &[&parquet], "parquet.html"),
    ];
    assert!(pages[0].contains("<p id=\"inputs\">1 input: 1 raw log</p>"));
    assert!(pages[1].contains("<p id=\"inputs\">1 input: 1 NDJSON records</p>"));
    assert!(pages[2].contains("<p id=\"inputs\">1 input: 1 Parquet</p>"));
    assert_eq!(without_inputs(&pages[0]), without_inputs(&pages[1]));
    assert_eq!(without_inputs(&pages[0]), without_inputs(&pages[2]));
    // 1,710 generated requests, the 60-request burst, the policy change and the bad line.
    assert!(
        pages[0].contains("<dt>Requests</dt><dd>1,772</dd>"),
        "{}",
        &pages[0][..3000]
    );
    assert!(pages[0].contains("<dt>Quarantined lines (ParseError)</dt><dd>1</dd>"));
}

#[test]
fn markup_from_the_logs_is_escaped_and_nothing_is_fetched() {
    let scratch = Scratch::new("report-escape");
    let raw = scratch.write("media.log", report_data::log().as_bytes());
    let page = report(&scratch, &[&raw], "report.html");
    assert!(page.contains("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;"));
    assert!(!page.contains(HOSTILE_AGENT));
    // The page's own script is its only one.
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains("default-src 'none'"));
    assert!(!page.contains(" src="));
    for (at, _) in page.match_indices("href=\"") {
        assert!(
            page[at + 6..].starts_with('#'),
            "a link out of the page: {}",
            &page[at..at + 60]
        );
    }
}

#[test]
fn every_detection_has_its_hits_and_timeline() {
    let scratch = Scratch::new("report-detections");
    let raw = scratch.write("media.log", report_data::log().as_bytes());
    let page = report(&scratch, &[&raw], "report.html");
    for rule in Rule::ALL {
        let id = format!("<div class=\"detection\" id=\"detection-{}\">", rule.name());
        let at = page
            .find(&id)
            .unwrap_or_else(|| panic!("no section for {}", rule.name()));
        let section = &page[at..at + page[at..].find("</div>").unwrap()];
        assert!(section.contains("<svg class=\"chart\""), "{}", rule.name());
        assert!(
            section.contains(rule.detection().severity.name()),
            "{}",
            rule.name()
        );
    }
    // The burst and the policy change are found; quiet detections say 0.
    let hits = |rule: &str| {
        let row = format!("<a href=\"#detection-{rule}\">{rule}</a>");
        let at = page.find(&row).unwrap();
        let cell = &page[at..];
        let start = cell.find("<td class=\"n\">").unwrap() + 14;
        cell[start..start + cell[start..].find('<').unwrap()].to_owned()
    };
    assert_eq!(hits("bucket-config-change"), "1");
    assert_ne!(hits("enumeration"), "0");
    assert_eq!(hits("mass-deletion"), "0");
}

#[test]
fn a_selection_of_rules_shows_only_those() {
    let scratch = Scratch::new("report-rules");
    let raw = scratch.write("media.log", report_data::log().as_bytes());
    let out = scratch.path("report.html");
    let output = command(
        &[
            "report",
            "--rules",
            "sigv2,tls-legacy",
            path_str(&raw),
            "-o",
            path_str(&out),
        ],
        &scratch.0,
    )
    .output()
    .unwrap();
    assert!(output.status.success());
    let page = fs::read_to_string(out).unwrap();
    assert!(page.contains("id=\"detection-sigv2\"") && page.contains("id=\"detection-tls-legacy\""));
    assert!(!page.contains("id=\"detection-anonymous\""));
}

#[test]
fn an_unreadable_input_fails_the_run_but_the_page_is_written() {
    let scratch = Scratch::new("report-missing");
    let raw = scratch.write("media.log", report_data::log().as_bytes());
    let missing = scratch.path("missing.log");
    let out = scratch.path("report.html");
    let output = command(
        &["report", path_str(&raw), path_str(&missing), "-o", path_str(&out)],
        &scratch.0,
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.log"));
    assert!(
        fs::read_to_string(out)
            .unwrap()
            .contains("1 problem(s) while reading")
    );
}

/// `report` and `audit` sniff their inputs with one function, so they refuse Parquet on
/// standard input alike, with the way out.
#[test]
fn parquet_on_standard_input_is_refused_with_the_way_out() {
    let scratch = Scratch::new("report-parquet-stdin");
    let [_, _, parquet] = three_formats(&scratch);
    let out = scratch.path("report.html");
    let refusal = |args: &[&str]| {
        let output = command(args, &scratch.0)
            .stdin(fs::File::open(&parquet).unwrap())
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let expected =
        "error: -: standard input holds a Parquet file, which is read from its end: give its path instead";
    let report = refusal(&["report", "-", "-o", path_str(&out)]);
    assert!(report.contains(expected), "{report}");
    let audit = refusal(&["audit", "-"]);
    assert!(audit.contains(expected), "{audit}");
}

#[test]
fn the_page_says_which_top_lists_are_approximate() {
    let scratch = Scratch::new("report-approximate");
    // More distinct keys than the sketch's 2,000; every other field has one value.
    let raw = scratch.write("uploads.log", report_data::distinct_keys(2_500).as_bytes());
    let page = report(&scratch, &[&raw], "report.html");
    let caption = |title: &str| {
        let at = page.find(&format!("<h3>{title}</h3>")).unwrap();
        let start = at + page[at..].find("<figcaption>").unwrap() + 12;
        page[start..start + page[start..].find('<').unwrap()].to_owned()
    };
    assert!(caption("Top keys").starts_with("Approximate: each count may be low by up to "));
    assert_eq!(caption("Top operations"), "Exact counts.");
    assert_eq!(caption("Top remote IPs"), "Exact counts.");
}

#[test]
fn a_gzip_cut_short_fails_the_run_but_its_records_before_the_cut_are_counted() {
    let scratch = Scratch::new("report-cut-gzip");
    let [_, records, _] = three_formats(&scratch);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzip, &fs::read(&records).unwrap()).unwrap();
    let whole = gzip.finish().unwrap();
    let cut = scratch.write("cut.ndjson.gz", &whole[..whole.len() / 2]);
    let out = scratch.path("report.html");
    let output = command(&["report", path_str(&cut), "-o", path_str(&out)], &scratch.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the records before it are in the report"),
        "{stderr}"
    );
    let page = fs::read_to_string(out).unwrap();
    assert!(page.contains("<p id=\"inputs\">1 input: 1 NDJSON records; 1 problem(s) while reading"));
    let requests = &page[page.find("<dt>Requests</dt><dd>").unwrap() + 21..];
    let requests: u64 = requests[..requests.find('<').unwrap()]
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(requests > 0 && requests < 1_772, "{requests}");
}
