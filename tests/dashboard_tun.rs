//! The live dashboard, end to end in a real browser: headless Chromium, run
//! inside the test's network namespace, loads `http://198.18.0.2/` from the
//! stack, runs the page's JavaScript (which asks `/api/state.json` over the
//! stack's own TCP), and the test reads the DOM it built.
//!
//! * the page's TCP and UDP tables list exactly the listeners and UDP sockets
//!   `tunstack ss --json` lists, with the same queues, bounds, services and drops;
//! * a UDP port nobody reads (`--udp-no-read`) is a bar that grows as a bounded
//!   flood fills its queue, and turns full when the queue overflows, with the drops;
//! * a screenshot is written to `target/dashboard.png` for a person to look at.
//!
//! Chromium runs with a fresh profile, no sandbox (root), and nothing that
//! phones home; `--virtual-time-budget` lets the page's timers run until the
//! budget is spent, the network waits counting for nothing, so "the page has
//! polled" is a property of the dumped DOM (`data-polls`), not of a sleep.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{poll_until, require_e2e, tunstack_bin, Netns, Stack, STACK_ADDR};
use serde::Deserialize;

/// The unread UDP port, and its queue bound in datagrams.
const NO_READ: u16 = 5000;
const QUEUE: usize = 32;

#[derive(Deserialize)]
struct SsJson {
    sockets: Vec<serde_json::Value>,
}

/// A fresh Chromium profile directory, removed on drop.
struct Profile(PathBuf);

impl Profile {
    fn new(tag: &str) -> Profile {
        let dir = std::env::temp_dir().join(format!("tunstack-chromium-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a profile directory");
        Profile(dir)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Headless Chromium in `ns` on the dashboard with `what` (`--dump-dom` or
/// `--screenshot=…`); its standard output.
fn chromium(ns: &Netns, what: &str, budget_ms: u32) -> String {
    let profile = Profile::new("profile");
    let user_data = format!("--user-data-dir={}", profile.0.display());
    let budget = format!("--virtual-time-budget={budget_ms}");
    let url = format!("http://{STACK_ADDR}/");
    ns.run_ok(
        "chromium",
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            &user_data,
            &budget,
            what,
            &url,
        ],
    )
}

/// One `<tr data-…>` row of the page: its data attributes.
type Row = BTreeMap<String, String>;

/// The rows of the page's table `id` (`tcp`, `udp`), from the dumped DOM.
fn table_rows(dom: &str, id: &str) -> Vec<Row> {
    let start = dom.find(&format!("<table id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id} in:\n{dom}"));
    let end = start + dom[start..].find("</table>").expect("the table ends");
    dom[start..end]
        .split("<tr ")
        .skip(1)
        .map(|tr| {
            let head = &tr[..tr.find('>').expect("the tag ends")];
            head.split("\" ")
                .filter_map(|attr| {
                    let (name, value) = attr.split_once("=\"")?;
                    Some((name.trim().to_string(), value.trim_end_matches('"').replace("&amp;", "&")))
                })
                .collect()
        })
        .collect()
}

/// How many answers the page had drawn when the DOM was dumped.
fn polls(dom: &str) -> u32 {
    let at = dom.find("data-polls=\"").expect("the status line") + "data-polls=\"".len();
    dom[at..].split('"').next().and_then(|n| n.parse().ok()).expect("a number of polls")
}

/// The page, once it has drawn at least two answers.
fn page(ns: &Netns) -> String {
    let dom = chromium(ns, "--dump-dom", 3000);
    assert!(polls(&dom) >= 2, "the page drew fewer than 2 answers of /api/state.json:\n{dom}");
    dom
}

/// `tunstack ss --json`'s rows.
fn ss(ns: &Netns) -> Vec<serde_json::Value> {
    let json = ns.run_ok(&tunstack_bin(), &["ss", "--json"]);
    serde_json::from_str::<SsJson>(&json).unwrap_or_else(|e| panic!("bad `ss --json` {json:?}: {e}")).sockets
}

/// A row of `ss --json` as the page's data attributes would say it.
fn as_row(s: &serde_json::Value) -> Row {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut row: Row = ["netid", "local", "state", "drops"]
        .iter()
        .map(|k| ((*k).to_string(), text(&s[*k])))
        .chain([
            ("recvq".into(), text(&s["recv_q"])),
            ("recvqmax".into(), text(&s["recv_q_max"])),
            ("service".into(), text(&s["service"])),
        ])
        .collect();
    if let Some(dg) = s["datagrams"].as_array() {
        row.insert("dg".into(), text(&dg[0]));
        row.insert("dgmax".into(), text(&dg[1]));
    }
    row
}

/// The page's row of the unread port, with `data-` dropped from the names.
fn stable(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .filter(|r| !r.contains_key("data-peer"))
        .map(|r| r.iter().filter_map(|(k, v)| Some((k.strip_prefix("data-")?.to_string(), v.clone()))).collect::<Row>())
        .collect()
}

fn no_read_row(rows: &[Row]) -> Row {
    stable(rows)
        .into_iter()
        .find(|r| r["local"] == format!("{STACK_ADDR}:{NO_READ}"))
        .unwrap_or_else(|| panic!("no udp/{NO_READ} row in {rows:?}"))
}

/// The bar of the unread port: its `data-fill` and whether it is drawn full.
fn no_read_bar(dom: &str) -> (f64, bool) {
    let udp = &dom[dom.find("<table id=\"udp\"").expect("the UDP table")..];
    let row = &udp[udp.find(&format!("data-local=\"{STACK_ADDR}:{NO_READ}\"")).expect("the unread port's row")..];
    let bar = &row[row.find("<div class=\"bar").expect("its bar")..];
    let full = bar.starts_with("<div class=\"bar full\"");
    let at = bar.find("data-fill=\"").expect("data-fill") + "data-fill=\"".len();
    (bar[at..].split('"').next().and_then(|f| f.parse().ok()).expect("a fill"), full)
}

/// Wait until `ss` shows `n` datagrams queued on the unread port.
fn wait_queued(ns: &Netns, n: usize) {
    let port = format!("{STACK_ADDR}:{NO_READ}");
    poll_until(&format!("{n} datagrams queued on udp/{NO_READ}"), Duration::from_secs(10), || {
        let rows = ss(ns);
        let row = rows.iter().find(|r| r["netid"] == "udp" && r["local"] == port.as_str());
        match row.and_then(|r| r["datagrams"][0].as_u64()) {
            Some(q) if q == n as u64 => Ok(()),
            other => Err(format!("queued: {other:?}")),
        }
    })
}

#[test]
fn dashboard_in_chromium_shows_the_stack() {
    if !require_e2e(&["python3", "chromium", "curl"]) {
        return;
    }
    let ns = Netns::new("dash");
    let queue = QUEUE.to_string();
    let no_read = NO_READ.to_string();
    let stack = Stack::start(&ns, &["--udp-queue", &queue, "--udp-no-read", &no_read, "--no-accept", "8080"]);

    // The page's tables are `ss --json`'s: every listener and UDP socket, in
    // its own table, with the same queue, bound, service and drops.
    let dom = page(&ns);
    let (tcp, udp) = (table_rows(&dom, "tcp"), table_rows(&dom, "udp"));
    let sockets = ss(&ns);
    let expect = |netid: &str| -> Vec<Row> {
        sockets.iter().filter(|s| s["netid"] == netid && s["peer"].is_null()).map(as_row).collect()
    };
    assert_eq!(stable(&tcp), expect("tcp"), "the TCP table (listeners) differs from ss --json");
    assert_eq!(stable(&udp), expect("udp"), "the UDP table differs from ss --json");
    assert!(stable(&tcp).iter().any(|r| r["local"].ends_with(":7") && r["service"] == "echo"));
    assert!(stable(&udp).iter().any(|r| r["local"].ends_with(":7") && r["service"] == "echo"), "UDP 7 is its own row");
    assert_eq!(no_read_bar(&dom), (0.0, false), "the unread port's bar starts empty");

    // A few datagrams: the bar grows, the queue is not full.
    ns.python("udp_flood.py", &[STACK_ADDR, &no_read, "--count", "10", "--size", "64", "--max-seconds", "10"]);
    wait_queued(&ns, 10);
    let dom = page(&ns);
    let row = no_read_row(&table_rows(&dom, "udp"));
    assert_eq!((row["dg"].as_str(), row["dgmax"].as_str(), row["drops"].as_str()), ("10", queue.as_str(), "0"));
    let (fill, full) = no_read_bar(&dom);
    assert!((fill - 10.0 / QUEUE as f64).abs() < 0.001 && !full, "bar after 10 datagrams: {fill} full={full}");

    // A bounded flood: the queue fills to its bound, the bar is full, the rest
    // are dropped and counted — the page says as many as ss.
    ns.python("udp_flood.py", &[STACK_ADDR, &no_read, "--count", "200", "--size", "64", "--max-seconds", "10"]);
    wait_queued(&ns, QUEUE);
    let drops = poll_until("the flood's drops to settle", Duration::from_secs(10), || {
        let first = no_read_row(&stable_ss(&ns));
        std::thread::sleep(Duration::from_millis(200));
        let second = no_read_row(&stable_ss(&ns));
        if first == second {
            Ok(second["drops"].clone())
        } else {
            Err(format!("{first:?} -> {second:?}"))
        }
    });
    assert_ne!(drops, "0", "a flood of 200 into a queue of {QUEUE} dropped nothing");
    let dom = page(&ns);
    let row = no_read_row(&table_rows(&dom, "udp"));
    assert_eq!((row["dg"].as_str(), row["dgmax"].as_str()), (queue.as_str(), queue.as_str()));
    assert_eq!(row["drops"], drops, "the page's drops differ from ss");
    assert_eq!(no_read_bar(&dom), (1.0, true), "the bar of a full queue is drawn full");

    // A screenshot, with a slow download running so the graph has a connection.
    let mut download = ns.spawn(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "--limit-rate",
            "2M",
            "--max-time",
            "20",
            &format!("http://{STACK_ADDR}/bytes/40000000"),
        ],
    );
    poll_until("the download to start", Duration::from_secs(10), || {
        ss(&ns)
            .iter()
            .any(|s| {
                s["local"] == format!("{STACK_ADDR}:80").as_str()
                    && s["state"] == "ESTABLISHED"
                    && s["send_q"].as_u64() > Some(0)
            })
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });
    let png = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(&ns, &format!("--screenshot={}", png.display()), 4000);
    let _ = download.kill();
    let _ = download.wait();
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "no screenshot at {} ({size} bytes): {out}", png.display());
    let report = stack.stop();
    assert_eq!(report.socket(&format!("udp/{NO_READ}")).dropped.to_string(), drops);
}

/// `ss --json`'s rows as the page's rows (for [`no_read_row`]).
fn stable_ss(ns: &Netns) -> Vec<Row> {
    ss(ns).iter().map(|s| as_row(s).into_iter().map(|(k, v)| (format!("data-{k}"), v)).collect()).collect()
}
