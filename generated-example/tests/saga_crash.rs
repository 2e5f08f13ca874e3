//! The `order_fulfilment` saga under SIGKILL: orders placed (some for more than the stock, some
//! paid at once, the rest left to time out after a second) while the service is killed and
//! restarted five times. Afterwards no command was executed twice (per idempotency key, the
//! events' causation id), no outcome or timeout was recorded twice, and every instance ended in
//! the state its order's events imply, with exactly the stock reserved that its end implies.

use eventsmith::serde_json::{Value, json};
use eventsmith::testing::process::{ServiceProcess, try_request};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const CUSTOMER: &str = "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23";
const SKUS: [&str; 3] = ["CRASH-A", "CRASH-B", "CRASH-C"];
const KILLS: usize = 5;

fn order_id(n: u64) -> String {
    format!("0190f5d3-1b2c-7d4e-8f5a-{n:012x}")
}

/// Sends until an answer comes (a crash in between: the same key again), and returns it.
fn send(address: &RwLock<SocketAddr>, path: &str, key: &str, body: &Value) -> Value {
    let body = body.to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let at = *address.read().expect("the address");
        match try_request(
            at,
            "POST",
            path,
            &[("Idempotency-Key", key)],
            body.as_bytes(),
        ) {
            Some(answer) if answer.status < 500 => {
                return json!({"status": answer.status, "body": answer.body});
            }
            _ => {
                assert!(Instant::now() < deadline, "{path} never answered");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn feed(service: &ServiceProcess) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = service.get(&format!("/events?after={after}&limit=1000"));
        assert_eq!(page.status, 200, "{page:?}");
        let batch = page.body["events"].as_array().expect("events").clone();
        if batch.is_empty() {
            return events;
        }
        after = batch
            .last()
            .and_then(|e| e["position"].as_u64())
            .expect("a position");
        events.extend(batch);
    }
}

#[test]
fn sagas_killed_repeatedly_send_each_command_once_and_end_where_their_events_say() {
    let mut service = ServiceProcess::start_with(
        env!("CARGO_BIN_EXE_shop"),
        &[("EVENTSMITH_SAGA_TIMEOUTS", "order_fulfilment.payment=1s")],
    );
    for (i, sku) in SKUS.iter().enumerate() {
        let answer = service.post(
            &format!("/commands/stock/{sku}/receive_stock"),
            &json!({"quantity": 40 + 20 * i}),
        );
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let address = Arc::new(RwLock::new(service.address()));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (address, stop) = (Arc::clone(&address), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let order = order_id(n);
                let lines: Vec<Value> = (0..1 + n % 2)
                    .map(|i| json!({"sku": SKUS[((n + i) % 3) as usize], "quantity": 1 + (n + i) % 4, "unit_price": 2.5}))
                    .collect();
                let placed = send(
                    &address,
                    &format!("/commands/order/{order}/place_order"),
                    &format!("place-{order}"),
                    &json!({"customer_id": CUSTOMER, "lines": lines, "currency": "EUR"}),
                );
                assert_eq!(placed["status"], 200, "{placed}");
                if n % 3 == 0 {
                    // Refused (409) once the saga cancelled it for want of stock.
                    let total = placed["body"]["events"][0]["data"]["total_amount"].clone();
                    let paid = send(
                        &address,
                        &format!("/commands/order/{order}/pay_order"),
                        &format!("pay-{order}"),
                        &json!({"amount": total, "method": "card"}),
                    );
                    assert!(paid["status"] == 200 || paid["status"] == 409, "{paid}");
                }
                std::thread::sleep(Duration::from_millis(15));
            }
            n
        })
    };
    for kill in 0..KILLS {
        std::thread::sleep(Duration::from_millis(400 + 150 * kill as u64));
        service.kill();
        service.restart();
        *address.write().expect("the address") = service.address();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let orders = client.join().expect("the client");
    // Every instance ends: unpaid ones time out a second after their reservations.
    service.wait_for("/sagas/order_fulfilment?status=running&limit=1", |answer| {
        answer.status == 200 && answer.body["instances"] == json!([])
    });
    service.wait_for("/projections/stock_levels?limit=1", |answer| {
        answer.body["lag"] == 0
    });
    let events = feed(&service);

    // No command twice: each saga command emits one event at most.
    let mut caused: HashMap<&str, usize> = HashMap::new();
    for event in &events {
        let own = event["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("eventsmith.saga."));
        if let Some(key) = event["causationid"]
            .as_str()
            .filter(|k| k.starts_with("saga:") && !own)
        {
            *caused.entry(key).or_default() += 1;
        }
    }
    let twice: Vec<_> = caused.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "commands executed twice: {twice:?}");
    // No outcome or timeout recorded twice.
    let mut recorded: HashMap<String, usize> = HashMap::new();
    for event in &events {
        if matches!(
            event["type"].as_str(),
            Some("eventsmith.saga.outcome" | "eventsmith.saga.timeout")
        ) {
            *recorded
                .entry(format!("{}:{}", event["type"], event["data"]["key"]))
                .or_default() += 1;
        }
    }
    let again: Vec<_> = recorded.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        again.is_empty(),
        "outcomes or timeouts recorded twice: {again:?}"
    );

    // What each order's events imply, and the stock it holds.
    let mut held: BTreeMap<String, i64> = BTreeMap::new();
    let mut reserved_total = 0;
    for event in &events {
        let quantity = event["data"]["quantity"].as_i64().unwrap_or_default();
        let order = event["data"]["order_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match event["type"].as_str() {
            Some("stock.reserved") => {
                *held.entry(order).or_default() += quantity;
                reserved_total += quantity;
            }
            Some("stock.released") => {
                *held.entry(order).or_default() -= quantity;
                reserved_total -= quantity;
            }
            _ => {}
        }
    }
    let mut ends: BTreeMap<&str, usize> = BTreeMap::new();
    for n in 1..=orders {
        let order = order_id(n);
        let stream: Vec<&Value> = events
            .iter()
            .filter(|e| e["subject"] == format!("order-{order}"))
            .collect();
        if stream.is_empty() {
            continue; // placed as the client stopped, never acknowledged
        }
        let reasons: Vec<&str> = stream
            .iter()
            .filter(|e| e["type"] == "order.cancelled")
            .filter_map(|e| e["data"]["reason"].as_str())
            .collect();
        let paid = stream.iter().any(|e| e["type"] == "order.paid");
        let (state, status, holds) = match reasons.as_slice() {
            ["out of stock"] => ("out_of_stock", "compensated", false),
            ["payment timeout"] => ("payment_timed_out", "compensated", false),
            [] if paid => ("paid", "completed", true),
            other => panic!("order {order}: cancellations {other:?}, paid {paid}"),
        };
        let saga = service.get(&format!("/sagas/order_fulfilment/{order}"));
        assert_eq!(
            (saga.body["state"].as_str(), saga.body["status"].as_str()),
            (Some(state), Some(status)),
            "order {order}: {saga:?}"
        );
        let timeouts = saga.body["history"]
            .as_array()
            .expect("a history")
            .iter()
            .filter(|h| h["input"] == "timeout payment")
            .count();
        assert!(
            timeouts <= 1,
            "order {order}: the timeout fired {timeouts} times"
        );
        let wanted: i64 = if holds {
            stream[0]["data"]["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .map(|l| l["quantity"].as_i64().unwrap_or_default())
                .sum()
        } else {
            0
        };
        assert_eq!(
            held.get(&order).copied().unwrap_or_default(),
            wanted,
            "order {order} ({state})"
        );
        *ends.entry(state).or_default() += 1;
    }
    let levels: i64 = SKUS
        .iter()
        .map(|sku| {
            service
                .get(&format!("/projections/stock_levels/{sku}"))
                .body["row"]["reserved"]
                .as_i64()
                .unwrap_or_default()
        })
        .sum();
    assert_eq!(
        levels, reserved_total,
        "stock_levels against the stock events"
    );
    println!("saga crash: {orders} orders, {KILLS} SIGKILLs, ends {ends:?}");
    for end in ["out_of_stock", "payment_timed_out", "paid"] {
        assert!(
            ends.get(end).copied().unwrap_or_default() > 0,
            "no order ended `{end}`: {ends:?}"
        );
    }
}
