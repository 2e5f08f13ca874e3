//! The service's page (`/ui`) in a real browser: headless Chromium, driven by Playwright's
//! `playwright-core` from `tests/browser/ui.test.mjs` against the example binary. This harness
//! starts the service with a dead letter to retry, runs the suite with `node --test`, and fails
//! with the suite's output. It needs Node.js, Debian's `chromium` and the suite's packages
//! (`npm ci --prefix generated-example/tests/browser`); `.ci/run` installs them, and a missing
//! one fails the test with what to install.

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::ServiceProcess;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The suite's directory.
fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The browser: `CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What the suite needs, or what to install.
fn check_prerequisites() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "Node.js is missing: the browser tests run with `node --test` (install Node.js 20 or later)"
    );
    assert!(
        chromium().exists(),
        "Chromium is missing at {}: install Debian's package (`apt-get install chromium`) or set CHROMIUM to a Chromium binary",
        chromium().display()
    );
    assert!(
        suite().join("node_modules/playwright-core").exists(),
        "the browser suite's packages are missing: run `npm ci --prefix {}`",
        suite().display()
    );
}

/// A `stock.received` event whose payload the service cannot read, written behind the stopped
/// service's back: `stock_levels` dead-letters it when the service starts.
const UNREADABLE: &str = r#"{"quantity": "five"}"#;
const READABLE: &str = r#"{"quantity": 5}"#;

fn database(service: &ServiceProcess) -> rusqlite::Connection {
    rusqlite::Connection::open(service.dir().join("events.db")).expect("the service's database")
}

/// Starts the service with an open dead letter of `stock_levels` whose event now reads: the
/// page's Retry applies it. Returns the dead letter's id.
fn with_a_dead_letter(service: &mut ServiceProcess) -> i64 {
    let received = service.post(
        "/commands/stock/PEN-1/receive_stock",
        &json!({"quantity": 1}),
    );
    assert_eq!(received.status, 200, "{received:?}");
    service.stop();
    let inserted = database(service).execute(
        "INSERT INTO events (id, stream, stream_version, event_type, version, time, data, metadata)
         SELECT randomblob(16), 'stock-PEN-2', 1, 'stock.received', 1, time, ?1, NULL
         FROM events ORDER BY position DESC LIMIT 1",
        [UNREADABLE.as_bytes()],
    );
    assert_eq!(inserted.ok(), Some(1), "the unreadable event is written");
    service.restart();
    let letters = service.wait_for("/dead-letters?runner=stock_levels", |answer| {
        answer.status == 200
            && answer.body["dead_letters"]
                .as_array()
                .is_some_and(|letters| !letters.is_empty())
    });
    let letter = &letters.body["dead_letters"][0];
    assert_eq!(letter["stream"], "stock-PEN-2", "{letter}");
    // Mended in the store: a retry now reads it.
    let mended = database(service).execute(
        "UPDATE events SET data = ?1 WHERE stream = 'stock-PEN-2'",
        [READABLE.as_bytes()],
    );
    assert_eq!(mended.ok(), Some(1), "the event is mended");
    letter["id"].as_i64().expect("a dead letter's id")
}

/// Runs the suite (the tests whose names match `only`, when given) against `service`, with
/// `env`; fails with its output and the service's log.
fn run_suite(
    service: &ServiceProcess,
    screenshots: &str,
    only: Option<&str>,
    env: &[(&str, String)],
) {
    // One browser at a time: the suite times the live feed (2 s), on a 2-core machine.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join(screenshots);
    std::fs::create_dir_all(&screenshots).expect("the screenshots' directory");
    let started = Instant::now();
    let mut node = Command::new("node");
    // A browser that hangs fails the suite rather than CI.
    node.args(["--test", "--test-reporter=spec", "--test-timeout=120000"]);
    if let Some(pattern) = only {
        node.arg(format!("--test-name-pattern={pattern}"));
    }
    let run = node
        .arg("ui.test.mjs")
        .current_dir(suite())
        .env("SHOP_URL", format!("http://{}", service.address()))
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("node runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{output}");
    println!(
        "browser suite: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    assert!(
        run.status.success(),
        "the browser suite failed:\n{output}\nservice log:\n{}",
        service.logs()
    );
}

#[test]
fn the_page_shows_the_timeline_a_trace_a_stream_back_in_time_and_retries_a_dead_letter() {
    check_prerequisites();
    let mut service = ServiceProcess::start(env!("CARGO_BIN_EXE_shop"));
    let letter = with_a_dead_letter(&mut service);
    run_suite(
        &service,
        "ui-screenshots",
        None,
        &[
            ("DEAD_LETTER_RUNNER", "stock_levels".to_owned()),
            ("DEAD_LETTER_ID", letter.to_string()),
        ],
    );
    // The retry reached the runner: the event it mended is in `stock_levels`.
    let row = service.wait_for("/projections/stock_levels/PEN-2", |a| a.status == 200);
    assert_eq!(row.body["row"]["on_hand"], Value::from(5), "{:?}", row.body);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let letters = service.get("/dead-letters?runner=stock_levels");
        if letters.body["dead_letters"] == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "{letters:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_tokens_the_page_asks_for_one_and_reads_with_it() {
    check_prerequisites();
    let service = ServiceProcess::start_with(
        env!("CARGO_BIN_EXE_shop"),
        &[
            ("EVENTSMITH_TOKEN", "s3cret"),
            ("EVENTSMITH_READ_TOKEN", "reader"),
        ],
    );
    // The suite enters the token in the page's form when the page asks, and sends it itself.
    run_suite(
        &service,
        "ui-screenshots-tokens",
        Some("timeline|trace|time travel|request"),
        &[("TOKEN", "s3cret".to_owned())],
    );
}
