//! Charts: drawn for every run, valid PNG/SVG, drawn from the CSV, deterministic, and a clear
//! error for missing or malformed CSV.

use std::path::Path;
use std::process::Command;

/// The charts every run draws, by file stem.
const CHARTS: [&str; 4] = ["server_load", "latency", "traffic", "overview"];

const SUMMARY: &str = "strategy,clients,duration_s,events_generated,events_delivered,events_lost,duplicates,requests,requests_per_s,empty_responses,connections_opened,peak_open_connections,latency_mean_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,app_bytes_up,app_bytes_down,payload_bytes,overhead_bytes,bytes_per_event,upstream_messages,upstream_latency_mean_ms,parked_requests_mean,packets,wire_bytes_up,wire_bytes_down,wire_bytes_per_event,addresses_retained_peak,address_seconds,registry_bytes_peak\n\
my-strategy,10,10.0,100,100,0,0,450,45.0,10,10,10,12.5,12,20,30,31,4000,16000,10000,10000,200.0,0,0.0,0.0,300,20000,30000,500.0,10,100.0,140\n";

fn hand_made(dir: &Path) {
    std::fs::write(dir.join("summary.csv"), SUMMARY).unwrap();
    let mut ts = String::from("strategy,t_s,requests,responses,empty_responses,open_connections,parked_requests,events_delivered,app_bytes_up,app_bytes_down\n");
    for t in 0..10 {
        ts.push_str(&format!(
            "my-strategy,{t},{},{},1,10,0,10,400,1600\n",
            10 * t,
            10 * t
        ));
    }
    std::fs::write(dir.join("timeseries.csv"), ts).unwrap();
    std::fs::write(
        dir.join("latency.csv"),
        "strategy,latency_ms,count\nmy-strategy,10,50\nmy-strategy,30,50\n",
    )
    .unwrap();
}

fn realtime_lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_realtime-lab"))
        .args(args)
        .output()
        .unwrap()
}

/// The requests series of the hand-made CSV (10 rows) appears as one polyline of 10 points in
/// the strategy's colour, and the legend names the strategy: `chart DIR` draws from the CSV.
#[test]
fn charts_are_drawn_from_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    hand_made(dir.path());
    std::fs::write(
        dir.path().join("conditions.txt"),
        "10 clients · test
",
    )
    .unwrap();
    let o = realtime_lab(&["chart", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(dir.path().join("server_load.svg")).unwrap();
    assert!(svg.contains("my-strategy"), "legend names the strategy");
    assert!(
        svg.contains("10 clients · test"),
        "title carries the conditions"
    );
    // a strategy the lab does not know takes the first spare look: Okabe–Ito blue, solid
    let lines: Vec<&str> = svg
        .split("<polyline")
        .skip(1)
        .filter(|l| l.contains("stroke=\"#0072B2\"") && l.contains("stroke-width=\"3\""))
        .collect();
    assert!(
        !lines.is_empty(),
        "no requests line in the strategy's colour"
    );
    let points = lines[0]
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(
        points.split_whitespace().count(),
        10,
        "one point per CSV row: {points}"
    );
}

#[test]
fn the_same_csv_gives_the_same_svg_and_png_bytes() {
    let dir = tempfile::tempdir().unwrap();
    hand_made(dir.path());
    let draw = || {
        let o = realtime_lab(&["chart", dir.path().to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        CHARTS
            .iter()
            .flat_map(|stem| ["svg", "png"].map(|ext| format!("{stem}.{ext}")))
            .map(|f| std::fs::read(dir.path().join(f)).unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b) = (draw(), draw());
    assert_eq!(a.len(), 8);
    assert!(a == b, "two drawings of one CSV differ");
}

/// `run` writes every chart as PNG and SVG; `chart DIR` redraws them identically.
#[test]
fn every_run_writes_valid_pngs_and_svgs_and_chart_redraws_them() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, "name = \"c\"\nduration_s = 8\n[clients]\ncount = 20\n[events]\nrate_per_client_per_s = 1\n").unwrap();
    let out = dir.path().join("out");
    let o = realtime_lab(&[
        "run",
        "-q",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let results = out.join("c");
    let mut before = Vec::new();
    for stem in CHARTS {
        let png = std::fs::read(results.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is not a PNG");
        assert!(png.len() > 20_000, "{stem}.png is only {} bytes", png.len());
        let svg = std::fs::read_to_string(results.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{stem}.svg"
        );
        assert!(svg.len() > 10_000, "{stem}.svg is only {} bytes", svg.len());
        before.push(svg);
    }
    let o = realtime_lab(&["chart", results.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (stem, svg) in CHARTS.iter().zip(before) {
        let again = std::fs::read_to_string(results.join(format!("{stem}.svg"))).unwrap();
        assert!(
            again == svg,
            "{stem}.svg changed when redrawn from the same CSV"
        );
    }
}

#[test]
fn chart_on_missing_or_malformed_csv_exits_2_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // missing
    let o = realtime_lab(&["chart", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("summary.csv"), "{err}");
    // malformed: a word where a number belongs
    hand_made(dir.path());
    let bad = SUMMARY.replace(",45.0,", ",fast,");
    std::fs::write(dir.path().join("summary.csv"), bad).unwrap();
    let o = realtime_lab(&["chart", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("summary.csv") && err.contains("line 2"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    // not a folder
    let o = realtime_lab(&["chart", "/nonexistent/results"]);
    assert_eq!(o.status.code(), Some(2));
}
