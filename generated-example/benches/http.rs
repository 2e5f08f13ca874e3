//! The example service under load: the release `shop` binary, started as a user would (its
//! event store and three projections in a temporary directory, request logs on), driven with
//! `place_order` then `pay_order` over real HTTP/1.1 keep-alive connections by 1, 16 and 64
//! concurrent clients. Each level prints requests/s, orders/s and p50/p99 latency next to the
//! store's own append rate with as many concurrent writers, measured in the same run.
//!
//! Run: `cargo bench -p shop --bench http`

use eventsmith::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore};
use eventsmith::testing::process::ServiceProcess;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::time::{Duration, Instant};

/// Orders each level places and pays.
const ORDERS: usize = 2_000;

const PLACE: &str = r#"{"customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}, {"sku": "PEN-BLUE", "quantity": 1, "unit_price": 3.99}], "currency": "EUR"}"#;
const PAY: &str = r#"{"amount": 28.99, "method": "card"}"#;

/// One client: a keep-alive connection sending its orders in turn; returns request latencies.
async fn client(
    address: std::net::SocketAddr,
    client: usize,
    orders: usize,
    level: usize,
) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut latencies = Vec::with_capacity(orders * 2);
    for n in 0..orders {
        // Order ids are UUIDs, as the read models key them.
        let id = format!("00000000-0000-7000-8{level:03x}-{client:04x}{n:08x}");
        for (command, body) in [("place_order", PLACE), ("pay_order", PAY)] {
            let request = hyper::Request::post(format!("/commands/order/{id}/{command}"))
                // The address itself: a service without a token on loopback answers only
                // requests to `localhost` or an IP address.
                .header("host", address.to_string())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap();
            let started = Instant::now();
            let response = sender.send_request(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(
                status.is_success(),
                "{status}: {}",
                String::from_utf8_lossy(&body)
            );
            latencies.push(started.elapsed());
        }
    }
    latencies
}

/// The store's own rate: `writers` concurrent writers appending single events.
async fn raw_appends(store: &SqliteStore, writers: usize, events: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..events / writers {
                    let event = NewEvent {
                        event_type: "order.paid".into(),
                        version: 1,
                        data: PAY.as_bytes().to_vec(),
                        metadata: Metadata::default(),
                    };
                    store
                        .append(
                            &format!("raw-{writers}-{writer}"),
                            ExpectedVersion::Any,
                            vec![event],
                            None,
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (events / writers * writers) as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    // `EVENTSMITH_BENCH_LOG=warn` leaves request logs out, to see what they cost.
    let log = std::env::var("EVENTSMITH_BENCH_LOG").unwrap_or_else(|_| "info".into());
    let service = ServiceProcess::start_with(env!("CARGO_BIN_EXE_shop"), &[("RUST_LOG", &log)]);
    let address = service.address();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let raw_store = SqliteStore::open(service.dir().join("raw.db"), "bench").unwrap();
        println!(
            "the shop binary: place_order + pay_order over HTTP/1.1 keep-alive ({ORDERS} orders per level)"
        );
        for clients in [1, 16, 64] {
            let started = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|c| tokio::spawn(client(address, c, ORDERS / clients, clients)))
                .collect();
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.unwrap());
            }
            let elapsed = started.elapsed();
            latencies.sort();
            let requests = latencies.len() as f64 / elapsed.as_secs_f64();
            let raw = raw_appends(&raw_store, clients, 2_000.max(clients * 50)).await;
            println!(
                "{clients:>3} clients: {requests:>8.0} requests/s ({:>7.0} orders/s) | p50 {:>7.2} ms | p99 {:>7.2} ms | store alone, {clients} writers: {raw:>8.0} appends/s ({:.2}x)",
                requests / 2.0,
                percentile(&latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&latencies, 0.99).as_secs_f64() * 1e3,
                requests / raw,
            );
        }
    });
    // Every order reached the read model: the projections kept up.
    let last = format!("00000000-0000-7000-8040-{:04x}{:08x}", 63, ORDERS / 64 - 1);
    let summary = service.wait_for(&format!("/projections/order_summary/{last}"), |a| {
        a.status == 200 && a.body["row"]["status"] == "paid"
    });
    println!(
        "order_summary caught up at position {}",
        summary.body["position"]
    );
}
