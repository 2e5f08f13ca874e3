//! The HTTP service over real sockets with the example domain (`domain/`): the order scenario
//! with every status the contract names, problem details with JSON pointers, `If-Match`,
//! `Idempotency-Key`, the body limit, bearer tokens, streams, the global feed, projection rows
//! with their position, and graceful shutdown.

mod domain;
#[path = "support/instrumented.rs"]
mod support;
mod generated {
    include!("../../generated-example/src/generated/mod.rs");
}
use domain::projections;

use domain::order::Rules;
use eventsmith::repository::Repository;
use eventsmith::service::{Service, Settings};
use eventsmith::store::{EventStore, ExpectedVersion, NewEvent, SqliteStore};
use generated::order::OrderAggregate;
use generated::projections::OrderSummaryProjection;
use projections::order_summary::Handler as Summaries;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::sync::Arc;

use eventsmith::testing::process::{Answer, try_request};

/// Sends one request on a fresh connection (blocking, off the runtime).
async fn send(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let (method, path, body) = (method.to_owned(), path.to_owned(), body.to_vec());
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        try_request(address, &method, &path, &headers, &body).expect("an answer")
    })
    .await
    .unwrap()
}

async fn post(
    address: std::net::SocketAddr,
    path: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> Answer {
    send(address, "POST", path, headers, body.to_string().as_bytes()).await
}

async fn get(address: std::net::SocketAddr, path: &str) -> Answer {
    send(address, "GET", path, &[], b"").await
}

const ORDER: &str = "/commands/order/0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12";

fn placing() -> Value {
    json!({
        "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
        "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}, {"sku": "PEN-BLUE", "quantity": 1, "unit_price": 3.99}],
        "currency": "EUR"
    })
}

/// Starts a service on a free port of loopback; returns its address, a stop switch and its task.
async fn start(
    dir: &std::path::Path,
    settings: Settings,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    start_on(dir, settings, "127.0.0.1:0").await
}

/// Starts a service on a free port of `bind`.
async fn start_on(
    dir: &std::path::Path,
    settings: Settings,
    bind: &str,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (at, stop, task, _) = start_with_store(dir, settings, bind).await;
    (at, stop, task)
}

/// Starts a service on a free port of `bind`; also returns its store.
async fn start_with_store(
    dir: &std::path::Path,
    settings: Settings,
    bind: &str,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    Arc<SqliteStore>,
) {
    // One recorder per process, installed by whichever test starts first.
    static METRICS: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    let metrics = METRICS
        .get_or_init(|| eventsmith::service::install_metrics().unwrap())
        .clone();
    let store = Arc::new(SqliteStore::open(dir.join("events.db"), "test-service").unwrap());
    let service = Service::new(Arc::clone(&store))
        .settings(settings)
        .metrics(metrics)
        .aggregate(
            "order",
            Repository::<_, OrderAggregate<Rules>>::new(Arc::clone(&store)).cache(100),
        )
        .projection(
            OrderSummaryProjection::<Summaries>::default(),
            dir.join("order_summary.db"),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let address =
        std::net::SocketAddr::from(([127, 0, 0, 1], listener.local_addr().unwrap().port()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    (address, stop, task, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_scenario_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;

    let placed = post(
        at,
        &format!("{ORDER}/place_order"),
        placing(),
        &[("X-Correlation-Id", "corr-1")],
    )
    .await;
    assert_eq!(placed.status, 200, "{placed:?}");
    assert_eq!(placed.body["version"], 1);
    assert_eq!(placed.header("etag"), Some("\"1\""));
    assert_eq!(placed.header("x-correlation-id"), Some("corr-1"));
    let event = &placed.body["events"][0];
    assert_eq!(
        (event["type"].as_str(), event["correlationid"].as_str()),
        (Some("order.placed"), Some("corr-1"))
    );
    assert_eq!(event["data"]["total_amount"], 28.99);

    let ship = json!({"carrier": "DHL", "tracking_number": "JJD1"});
    let unpaid = post(at, &format!("{ORDER}/ship_order"), ship, &[]).await;
    assert_eq!(unpaid.status, 409, "{unpaid:?}");
    assert_eq!(
        unpaid.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(unpaid.body["type"], "urn:eventsmith:problem:rejected");

    let wrong = post(
        at,
        &format!("{ORDER}/pay_order"),
        json!({"amount": 20, "method": "card"}),
        &[],
    )
    .await;
    assert_eq!(wrong.status, 409);
    let pay = json!({"amount": 28.99, "method": "card"});
    let paid = post(
        at,
        &format!("{ORDER}/pay_order"),
        pay.clone(),
        &[("If-Match", "\"1\"")],
    )
    .await;
    assert_eq!(
        (paid.status, paid.body["version"].as_u64()),
        (200, Some(2)),
        "{paid:?}"
    );
    let stale = post(
        at,
        &format!("{ORDER}/cancel_order"),
        json!({"reason": "late"}),
        &[("If-Match", "\"1\"")],
    )
    .await;
    assert_eq!(stale.status, 412, "{stale:?}");
    assert_eq!(
        (
            stale.body["expected"].as_u64(),
            stale.body["actual"].as_u64()
        ),
        (Some(1), Some(2))
    );

    let empty = post(
        at,
        "/commands/order/0190f5d3-0000-7000-8000-000000000002/place_order",
        json!({"customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "lines": [], "currency": "eur"}),
        &[],
    )
    .await;
    assert_eq!(empty.status, 422, "{empty:?}");
    let pointers: Vec<&str> = empty.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/lines", "/currency"]);

    let malformed = send(
        at,
        "POST",
        &format!("{ORDER}/pay_order"),
        &[],
        b"{\"amount\": ",
    )
    .await;
    assert_eq!(
        (malformed.status, malformed.body["type"].as_str()),
        (400, Some("urn:eventsmith:problem:malformed-json"))
    );
    assert_eq!(
        post(at, &format!("{ORDER}/refund_order"), json!({}), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        post(at, "/commands/invoice/1/pay", json!({}), &[])
            .await
            .status,
        404
    );
    let huge = vec![b' '; 3 * 1024 * 1024];
    let too_large = send(at, "POST", &format!("{ORDER}/pay_order"), &[], &huge).await;
    assert_eq!(
        (too_large.status, too_large.body["type"].as_str()),
        (413, Some("urn:eventsmith:problem:too-large"))
    );
    assert_eq!(
        send(
            at,
            "POST",
            &format!("{ORDER}/pay_order"),
            &[("If-Match", "three")],
            b"{}"
        )
        .await
        .status,
        400
    );

    // The same key twice: one append, the same answer.
    let once = post(
        at,
        "/commands/order/o-keyed/place_order",
        placing(),
        &[("Idempotency-Key", "k-1")],
    )
    .await;
    let twice = post(
        at,
        "/commands/order/o-keyed/place_order",
        placing(),
        &[("Idempotency-Key", "k-1")],
    )
    .await;
    assert_eq!((once.status, twice.status), (200, 200), "{twice:?}");
    assert_eq!(once.body["events"], twice.body["events"]);
    // The same key with another body, or for another command, is not a retry.
    let mut other = placing();
    other["customer_id"] = json!("0190f5d2-0000-7e3b-9a4f-2b6c8d0e1f23");
    for (path, body) in [
        ("/commands/order/o-keyed/place_order", other),
        ("/commands/order/o-other/place_order", placing()),
    ] {
        let reused = post(at, path, body, &[("Idempotency-Key", "k-1")]).await;
        assert_eq!(reused.status, 422, "{reused:?}");
        assert_eq!(
            reused.body["type"], "urn:eventsmith:problem:idempotency-key-reused",
            "{reused:?}"
        );
    }

    let stream = get(at, "/streams/order-0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12").await;
    assert_eq!(
        (stream.status, stream.body["version"].as_u64()),
        (200, Some(2))
    );
    assert_eq!(get(at, "/streams/order-nothing").await.status, 404);
    let page = get(
        at,
        "/streams/order-0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12?after=1&limit=1",
    )
    .await;
    assert_eq!(
        page.body["events"].as_array().map(Vec::len),
        Some(1),
        "{page:?}"
    );
    assert_eq!(
        (
            page.body["events"][0]["streamversion"].as_u64(),
            page.body["next"].as_u64(),
            page.body["version"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    let feed = get(at, "/events?after=1&limit=1").await;
    assert_eq!(feed.body["events"][0]["position"], 2);
    assert_eq!(feed.body["next"], 2);

    // The read model catches up.
    let row_path = "/projections/order_summary/0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12";
    let mut row = get(at, row_path).await;
    for _ in 0..100 {
        if row.status == 200 && row.body["row"]["status"] == "paid" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        row = get(at, row_path).await;
    }
    assert_eq!(row.body["row"]["status"], "paid", "{row:?}");
    assert!(row.body["position"].as_u64().unwrap() >= 2);
    // How fresh the answer is: events behind the store, and whether the runner is running.
    assert!(row.body["lag"].is_u64(), "{row:?}");
    assert_eq!(row.body["healthy"], true, "{row:?}");
    let listed = get(at, "/projections/order_summary?status=paid").await;
    assert_eq!(
        listed.body["rows"].as_array().unwrap().len(),
        1,
        "{listed:?}"
    );
    assert_eq!(
        get(at, "/projections/order_summary?colour=red")
            .await
            .status,
        400
    );
    assert_eq!(get(at, "/projections/nothing/1").await.status, 404);
    assert_eq!(get(at, "/healthz").await.status, 200);
    assert_eq!(get(at, "/readyz").await.status, 200);
    let metrics = get(at, "/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(text.contains("eventsmith_appends_total"), "{metrics:?}");
    assert!(
        text.contains("eventsmith_projection_lag{projection=\"order_summary\"}"),
        "{text}"
    );

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    // After a restart the state is the same.
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    let again = get(at, row_path).await;
    assert_eq!(again.body["row"], row.body["row"]);
    let cancel = post(
        at,
        &format!("{ORDER}/cancel_order"),
        json!({"reason": "late"}),
        &[("If-Match", "\"2\"")],
    )
    .await;
    assert_eq!(
        (cancel.status, cancel.body["version"].as_u64()),
        (200, Some(3))
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_the_health_checks_needs_a_token_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        token: Some("s3cret".into()),
        read_token: Some("reader".into()),
        ..Settings::default()
    };
    let (at, stop, task) = start(dir.path(), settings).await;
    let path = "/commands/order/o-1/place_order";
    let write = [("Authorization", "Bearer s3cret")];
    let read = [("Authorization", "Bearer reader")];
    let missing = post(at, path, placing(), &[]).await;
    assert_eq!(
        (missing.status, missing.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    assert_eq!(
        post(at, path, placing(), &[("Authorization", "Bearer wrong!")])
            .await
            .status,
        401
    );
    // The read-only token sends no command.
    let reader = post(at, path, placing(), &read).await;
    assert_eq!(reader.status, 403, "{reader:?}");
    assert_eq!(
        reader.body["type"],
        "urn:eventsmith:problem:read-only-token"
    );
    assert_eq!(post(at, path, placing(), &write).await.status, 200);
    // Every read needs a token, either one.
    for route in [
        "/streams/order-o-1",
        "/events",
        "/projections/order_summary",
        "/projections/order_summary/o-1",
        "/metrics",
        "/no-such-route",
    ] {
        let anonymous = get(at, route).await;
        assert_eq!(anonymous.status, 401, "{route}: {anonymous:?}");
        assert_eq!(
            anonymous.header("content-type"),
            Some("application/problem+json"),
            "{route}"
        );
        for token in [&read, &write] {
            let answer = send(at, "GET", route, token, b"").await;
            assert!(![401, 403].contains(&answer.status), "{route}: {answer:?}");
        }
    }
    let live = send(at, "GET", "/events/live?after=999", &[], b"").await;
    assert_eq!(live.status, 401, "{live:?}");
    // What orchestrators probe stays open.
    assert_eq!(get(at, "/healthz").await.status, 200);
    assert_ne!(get(at, "/readyz").await.status, 401);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_json_and_cors_is_off_unless_origins_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    let path = "/commands/order/o-2/place_order";
    // What a web page may send without a preflight is refused, body unread.
    for media in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let sent = send(
            at,
            "POST",
            path,
            &[("Content-Type", media)],
            placing().to_string().as_bytes(),
        )
        .await;
        assert_eq!(sent.status, 415, "{media}: {sent:?}");
        assert_eq!(
            sent.body["type"],
            "urn:eventsmith:problem:unsupported-media-type"
        );
    }
    // Without a token, only requests to a local name or an address: not a rebound host name.
    let rebound = send(at, "GET", "/events", &[("Host", "evil.example:8080")], b"").await;
    assert_eq!(rebound.status, 403, "{rebound:?}");
    assert_eq!(
        rebound.body["type"],
        "urn:eventsmith:problem:host-not-allowed"
    );
    assert_eq!(
        send(at, "GET", "/events", &[("Host", "localhost:8080")], b"")
            .await
            .status,
        200
    );
    // Every error is a problem: a path that does not decode, a method a route lacks.
    for (method, route, status) in [("GET", "/streams/%FF", 400), ("DELETE", "/events", 405)] {
        let answer = send(at, method, route, &[], b"").await;
        assert_eq!(answer.status, status, "{method} {route}: {answer:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    let origin = [("Origin", "https://evil.example")];
    let read = send(at, "GET", "/events", &origin, b"").await;
    assert_eq!(read.status, 200);
    assert_eq!(read.header("access-control-allow-origin"), None);
    let asking = [
        ("Origin", "https://evil.example"),
        ("Access-Control-Request-Method", "POST"),
    ];
    let preflight = send(at, "OPTIONS", path, &asking, b"").await;
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    assert_eq!(preflight.status, 403, "{preflight:?}");
    assert_eq!(post(at, path, placing(), &[]).await.status, 200);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    let settings = Settings {
        cors_origins: vec!["https://app.example".into()],
        ..Settings::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), settings).await;
    let allowed = [("Origin", "https://app.example")];
    let preflight = send(
        at,
        "OPTIONS",
        path,
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let read = send(at, "GET", "/events", &allowed, b"").await;
    assert_eq!(
        read.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let other = send(at, "GET", "/events", &origin, b"").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    // Answers differ by origin, so caches keep them apart.
    assert_eq!(other.header("vary"), Some("origin"));
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_would_open_the_service_silently_are_refused() {
    for (token, read_token) in [(Some(""), None), (None, Some("r")), (Some("t"), Some("t"))] {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            token: token.map(Into::into),
            read_token: read_token.map(Into::into),
            ..Settings::default()
        };
        let (_, _stop, task) = start(dir.path(), settings).await;
        let served = tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .expect("serve refuses the settings at once")
            .unwrap();
        assert_eq!(
            served.map_err(|e| e.kind()).unwrap_err(),
            std::io::ErrorKind::InvalidInput,
            "{token:?} {read_token:?}"
        );
    }
}

/// Reads a live feed until `count` events arrived (blocking); returns their ids and types.
fn read_live(address: std::net::SocketAddr, path: &str, count: usize) -> Vec<(String, String)> {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    let mut chunk = [0u8; 4096];
    // Complete events only: blocks ended by a blank line, in any field order.
    let events = |text: &str| -> Vec<(String, String)> {
        let text = text.replace("\r\n", "\n");
        let complete = text.rsplit_once("\n\n").map_or("", |(done, _)| done);
        complete
            .split("\n\n")
            .filter_map(|block| {
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::to_owned)
                };
                Some((field("id: ")?, field("event: ")?))
            })
            .collect()
    };
    while events(&text).len() < count {
        let read = stream
            .read(&mut chunk)
            .expect("the live feed keeps sending");
        assert!(read > 0, "the live feed ended early: {text}");
        text.push_str(&String::from_utf8_lossy(&chunk[..read]));
    }
    events(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_sends_stored_then_new_events_and_ends_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    assert_eq!(
        post(at, "/commands/order/o-1/place_order", placing(), &[])
            .await
            .status,
        200
    );
    let reader = tokio::task::spawn_blocking(move || read_live(at, "/events/live?after=0", 2));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let pay = json!({"amount": 28.99, "method": "cash"});
    assert_eq!(
        post(at, "/commands/order/o-1/pay_order", pay, &[])
            .await
            .status,
        200
    );
    let events = reader.await.unwrap();
    assert_eq!(
        events,
        [
            ("1".into(), "order.placed".into()),
            ("2".into(), "order.paid".into())
        ]
    );
    // Resuming with Last-Event-ID skips what was seen.
    let resumed = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(at).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /events/live HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 1\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        let mut chunk = [0u8; 4096];
        while !text.contains("id: 2") {
            let read = stream.read(&mut chunk).unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk[..read]));
        }
        (text.contains("id: 1\n"), stream)
    })
    .await
    .unwrap();
    assert!(!resumed.0, "event 1 was sent again");
    // Shutdown ends the open feed, so the server stops.
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the server stops with a live feed open")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_answers_500_with_its_correlation_id_and_logs_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    // The read model's file is no database any more: reading it fails inside the service.
    let model = dir.path().join("order_summary.db");
    std::fs::write(&model, vec![b'x'; 8192]).unwrap();
    let _ = std::fs::remove_file(dir.path().join("order_summary.db-wal"));
    let failed = send(
        at,
        "GET",
        "/projections/order_summary",
        &[("X-Correlation-Id", "find-me")],
        b"",
    )
    .await;
    assert_eq!(failed.status, 500, "{failed:?}");
    assert_eq!(failed.header("x-correlation-id"), Some("find-me"));
    assert_eq!(failed.body["correlation_id"], "find-me");
    assert_eq!(failed.body["type"], "urn:eventsmith:problem:internal");
    // What the store said stays in the log.
    let detail = failed.body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("database") && !detail.contains("sqlite"),
        "{detail}"
    );
    stop.send(()).unwrap();
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_bound_beyond_loopback_answers_its_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start_on(dir.path(), Settings::default(), "0.0.0.0:0").await;
    let named = send(at, "GET", "/events", &[("Host", "shop.internal:8080")], b"").await;
    assert_eq!(named.status, 200, "{named:?}");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// A read model locked by another connection (briefly: the runner waits for it within the
/// busy timeout): `/readyz` says the projection is behind, by name, while commands go through;
/// once the lock goes, the projection catches up by itself, with no dead letter, and the service
/// is ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_read_model_makes_the_service_unready_until_its_projection_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        ready_lag: 0,
        ..Settings::default()
    };
    let (at, stop, task) = start(dir.path(), settings).await;
    let ready = || async {
        for _ in 0..100 {
            if get(at, "/readyz").await.status == 200 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    };
    assert!(ready().await, "ready at start");
    let locker = rusqlite::Connection::open(dir.path().join("order_summary.db")).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let placed = post(at, &format!("{ORDER}/place_order"), placing(), &[]).await;
    assert_eq!(placed.status, 200, "{placed:?}");
    let mut answer = get(at, "/readyz").await;
    for _ in 0..300 {
        if answer.status == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        answer = get(at, "/readyz").await;
    }
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(
        answer.body["type"]
            .as_str()
            .map(|t| t.ends_with("not-ready")),
        Some(true),
        "{answer:?}"
    );
    assert_eq!(
        answer.body["projections"][0]["projection"], "order_summary",
        "{answer:?}"
    );

    // Commands still go through meanwhile.
    let paid = post(
        at,
        &format!("{ORDER}/pay_order"),
        json!({"amount": 28.99, "method": "card"}),
        &[],
    )
    .await;
    assert_eq!(paid.status, 200, "{paid:?}");
    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    assert!(ready().await, "ready again once the projection caught up");
    let row = get(
        at,
        "/projections/order_summary/0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12",
    )
    .await;
    assert_eq!(row.body["row"]["status"], "paid", "{row:?}");
    assert_eq!(
        (row.body["lag"].as_u64(), &row.body["healthy"]),
        (Some(0), &json!(true))
    );
    let model = eventsmith::read_model::sqlite::SqliteReadModel::open_read_only(
        dir.path().join("order_summary.db"),
    )
    .unwrap();
    let letters = eventsmith::read_model::Backend::dead_letters(&model, "order_summary").unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// A projection runner that fails (its store reads fail) is down: `/readyz` names it, its
/// answers say `healthy: false`, and the supervisor restarts it from its checkpoint once the
/// store reads again; it then catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_projection_runner_is_reported_down_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::Instrumented::new(Arc::new(
        SqliteStore::open(dir.path().join("events.db"), "test-service").unwrap(),
    ));
    let fail = &store.faults.fail_feed;
    let service = Service::new(store.clone())
        .aggregate(
            "order",
            Repository::<_, OrderAggregate<Rules>>::new(store.clone()),
        )
        .projection(
            OrderSummaryProjection::<Summaries>::default(),
            dir.path().join("order_summary.db"),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    let row_path = "/projections/order_summary/0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12";
    let until = |path: &'static str, done: fn(&Answer) -> bool| async move {
        for _ in 0..200 {
            let answer = get(at, path).await;
            if done(&answer) {
                return answer;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{path} never got there");
    };
    let placed = post(at, &format!("{ORDER}/place_order"), placing(), &[]).await;
    assert_eq!(placed.status, 200, "{placed:?}");
    until(row_path, |a| a.status == 200).await;
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let paid = post(
        at,
        &format!("{ORDER}/pay_order"),
        json!({"amount": 28.99, "method": "card"}),
        &[],
    )
    .await;
    assert_eq!(paid.status, 200, "{paid:?}");
    let down = until("/readyz", |a| a.status == 503).await;
    assert_eq!(
        down.body["projections"][0]["projection"], "order_summary",
        "{down:?}"
    );
    assert_eq!(down.body["projections"][0]["state"], "down", "{down:?}");
    // The cause is logged, not answered.
    assert!(!down.body.to_string().contains("disk"), "{down:?}");
    let row = get(at, row_path).await;
    assert_eq!(row.body["healthy"], false, "{row:?}");
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    until("/readyz", |a| a.status == 200).await;
    let row = until(row_path, |a| a.body["row"]["status"] == "paid").await;
    assert_eq!(row.body["healthy"], true, "{row:?}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// Idempotency keys are stored: one longer than 255 bytes is refused before anything is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_idempotency_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    let long = "k".repeat(256);
    let answer = post(
        at,
        &format!("{ORDER}/place_order"),
        placing(),
        &[("Idempotency-Key", long.as_str())],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body["detail"].as_str().unwrap().contains("255"),
        "{answer:?}"
    );
    // Not ignored when it is not ASCII either.
    let answer = post(
        at,
        &format!("{ORDER}/place_order"),
        placing(),
        &[("Idempotency-Key", "clé-1")],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    // Nor when it is empty (every client sending one would share it).
    let answer = post(
        at,
        &format!("{ORDER}/place_order"),
        placing(),
        &[("Idempotency-Key", "")],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let fits = "k".repeat(255);
    let answer = post(
        at,
        &format!("{ORDER}/place_order"),
        placing(),
        &[("Idempotency-Key", fits.as_str())],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// `count` events of about `size` bytes each in stream `stream`, appended straight to the store.
async fn append_large(store: &SqliteStore, stream: &str, count: usize, size: usize) {
    let text = "x".repeat(size);
    let mut left = count;
    while left > 0 {
        // A hundred at a time: one commit each.
        let batch = left.min(100);
        left -= batch;
        let events = (0..batch)
            .map(|_| NewEvent {
                event_type: "test.filler".into(),
                version: 1,
                data: json!({ "text": text }).to_string().into_bytes(),
                metadata: Default::default(),
            })
            .collect();
        store
            .append(stream, ExpectedVersion::Any, events, None)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_bounded_by_bytes_too() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task, store) =
        start_with_store(dir.path(), Settings::default(), "127.0.0.1:0").await;
    // 1.5 MiB each: a page of 4 MiB holds two.
    append_large(&store, "filler-1", 7, 1536 * 1024).await;
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = get(at, &format!("/events?after={after}&limit=1000")).await;
        assert_eq!(page.status, 200, "{:?}", page.status);
        let events = page.body["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        assert!(
            events.len() <= 2,
            "a page of {} events of 1.5 MiB",
            events.len()
        );
        seen.extend(events.iter().map(|e| e["position"].as_u64().unwrap()));
        after = page.body["next"].as_u64().unwrap();
    }
    assert_eq!(seen, (1..=7).collect::<Vec<u64>>());
    let stream = get(at, "/streams/filler-1?limit=1000").await;
    let events = stream.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{:?}", stream.body["next"]);
    assert_eq!(stream.body["next"], 2);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// Reads an HTTP answer's head from `stream`.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Opens `/events/live` and reads the answer's head.
fn open_live(at: std::net::SocketAddr, after: u64) -> (String, std::net::TcpStream) {
    let mut stream = std::net::TcpStream::connect(at).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /events/live?after={after} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    .unwrap();
    (read_head(&mut stream), stream)
}

/// A client that reads nothing while the feed runs far ahead is told where to resume and
/// closed; the others, and new clients, go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_client_that_falls_behind_is_closed_with_where_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task, store) =
        start_with_store(dir.path(), Settings::default(), "127.0.0.1:0").await;
    let (head, stalled) = tokio::task::spawn_blocking(move || open_live(at, 0))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Far more than the client's share of the broadcast and its socket's buffers.
    append_large(&store, "filler-1", 3_000, 8 * 1024).await;
    let text = tokio::task::spawn_blocking(move || {
        let mut stalled = stalled;
        let mut text = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        // Until the chunked body's last chunk: the feed ended.
        while !text.ends_with(b"\r\n0\r\n\r\n") {
            let read = stalled
                .read(&mut chunk)
                .expect("the stalled client's feed ends");
            assert!(read > 0, "closed without ending the feed");
            text.extend_from_slice(&chunk[..read]);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
    .await
    .unwrap();
    let tail = &text[text.len().saturating_sub(300)..];
    let overflow = tail.find("event: overflow").expect(tail);
    let resume: u64 = tail[overflow..]
        .split("\"resume_after\":")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .and_then(|n| n.trim().parse().ok())
        .expect(tail);
    let last_id: u64 = text
        .rsplit("id: ")
        .next()
        .and_then(|rest| rest.lines().next())
        .and_then(|n| n.trim().parse().ok())
        .expect("an id before the overflow");
    assert_eq!(resume, last_id, "resume after the last event sent");
    assert!(resume < 3_000);
    // A new client resumes from there.
    let rest = tokio::task::spawn_blocking(move || {
        read_live(at, &format!("/events/live?after={resume}"), 1)
    })
    .await
    .unwrap();
    assert_eq!(rest[0].0, (resume + 1).to_string());
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_clients_and_connections_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        max_live_clients: 1,
        max_connections: 3,
        ..Settings::default()
    };
    let (at, stop, task) = start(dir.path(), settings).await;
    let (head, first) = tokio::task::spawn_blocking(move || open_live(at, 0))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let refused = get(at, "/events/live").await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Three connections in all: the live one and two idle ones; a fourth is turned away.
    let idle: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(at).unwrap())
        .collect();
    // The refused /events/live request's connection may still count for a moment: ask until
    // the count settles at the limit.
    let mut head = String::new();
    for _ in 0..50 {
        head = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(at).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            write!(
                stream,
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            read_head(&mut stream)
        })
        .await
        .unwrap();
        if head.starts_with("HTTP/1.1 503") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    drop(idle);
    drop(first);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// A connection that sends no request (or stops half way through its headers) is closed after
/// the header timeout, so silent clients cannot hold the connection limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    let closed = tokio::task::spawn_blocking(move || {
        let mut silent = std::net::TcpStream::connect(at).unwrap();
        let mut partial = std::net::TcpStream::connect(at).unwrap();
        write!(partial, "GET /healthz HTTP/1.1\r\nHost: local").unwrap();
        let started = std::time::Instant::now();
        let limit = eventsmith::service::listen::HEADER_TIMEOUT + std::time::Duration::from_secs(5);
        let mut ends = Vec::new();
        for stream in [&mut silent, &mut partial] {
            stream.set_read_timeout(Some(limit)).unwrap();
            let mut rest = Vec::new();
            ends.push(stream.read_to_end(&mut rest).is_ok());
        }
        (ends, started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(
        closed.0,
        [true, true],
        "closed by the service, not timed out here"
    );
    assert!(
        closed.1 >= std::time::Duration::from_secs(9),
        "{:?}",
        closed.1
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// A live client that reads nothing does not hold up a graceful shutdown for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_live_client_does_not_stop_the_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task, store) =
        start_with_store(dir.path(), Settings::default(), "127.0.0.1:0").await;
    let (head, stalled) = tokio::task::spawn_blocking(move || open_live(at, 0))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Enough to fill the socket's buffers, fewer than the client's share of the broadcast.
    append_large(&store, "filler-1", 600, 64 * 1024).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(
        eventsmith::service::listen::SHUTDOWN_GRACE * 2 + std::time::Duration::from_secs(5),
        task,
    )
    .await
    .expect("the service stopped with a stalled live client")
    .unwrap()
    .unwrap();
    assert!(
        started.elapsed()
            <= eventsmith::service::listen::SHUTDOWN_GRACE * 2 + std::time::Duration::from_secs(5)
    );
    drop(stalled);
}

/// A correlation id is stored in every event a request appends: one that is too long, or holds
/// other characters than letters, digits and `-._:`, is replaced by a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_correlation_id_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (at, stop, task) = start(dir.path(), Settings::default()).await;
    let long = "c".repeat(129);
    for (n, sent) in [long.as_str(), "a b", "trace/1"].into_iter().enumerate() {
        let answer = post(
            at,
            &format!("/commands/order/o-{n}/place_order"),
            placing(),
            &[("X-Correlation-Id", sent)],
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let kept = answer.header("x-correlation-id").unwrap();
        assert_ne!(kept, sent);
        assert_eq!(kept.len(), 36, "a new UUID: {kept}");
    }
    let fits = "c".repeat(128);
    let answer = post(
        at,
        "/commands/order/o-9/place_order",
        placing(),
        &[("X-Correlation-Id", fits.as_str())],
    )
    .await;
    assert_eq!(answer.header("x-correlation-id"), Some(fits.as_str()));
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// A body that trickles in is cut off: 408, and the connection is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        body_timeout: std::time::Duration::from_millis(500),
        ..Settings::default()
    };
    let (at, stop, task) = start(dir.path(), settings).await;
    let head = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(at).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "POST /commands/order/o-1/place_order HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"cust"
        )
        .unwrap();
        read_head(&mut stream)
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// The live feed reads each commit from the store once, however many clients listen (it was
/// one read per client per commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_read_per_commit_serves_every_live_client() {
    use std::sync::atomic::Ordering;
    const CLIENTS: usize = 40;
    const COMMITS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let store = support::Instrumented::new(Arc::new(
        SqliteStore::open(dir.path().join("events.db"), "test-service").unwrap(),
    ));
    let reads = Arc::clone(&store.faults);
    let service = Service::new(store.clone()).aggregate(
        "order",
        Repository::<_, OrderAggregate<Rules>>::new(store.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::task::spawn_blocking(move || read_live(at, "/events/live?after=0", COMMITS))
        })
        .collect();
    // Each client finds the store empty twice (before and after it subscribes), the shared
    // reader once: then all are live.
    let mut live = false;
    for _ in 0..800 {
        if reads.feed_reads.load(Ordering::SeqCst) > 2 * CLIENTS {
            live = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(live, "the clients did not all connect");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = reads.feed_reads.load(Ordering::SeqCst);
    for n in 0..COMMITS {
        let placed = post(
            at,
            &format!("/commands/order/o-{n}/place_order"),
            placing(),
            &[],
        )
        .await;
        assert_eq!(placed.status, 200, "{placed:?}");
    }
    for client in clients {
        assert_eq!(client.await.unwrap().len(), COMMITS);
    }
    let during = reads.feed_reads.load(Ordering::SeqCst) - before;
    assert!(
        during <= 3 * COMMITS,
        "{during} reads of the feed for {COMMITS} commits and {CLIENTS} clients"
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
