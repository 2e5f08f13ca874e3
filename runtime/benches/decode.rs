//! Decoding a stored `order.placed` v1 payload through its upcaster to v2, against a plain typed
//! decode of the same event stored at v2, measured in the same run with the example project's
//! generated code. Goal: the upcast path costs at most 1.3x the plain decode.
//!
//! Run: `cargo bench -p eventsmith --bench decode`

mod events {
    include!("../../generated-example/src/generated/mod.rs");
}

use std::hint::black_box;
use std::time::{Duration, Instant};

const V1: &[u8] = br#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5},{"sku":"PEN-BLUE","quantity":1,"unit_price":3.99},{"sku":"MUG-WHITE","quantity":4,"unit_price":7.25}],"total":57.99}"#;
const V2: &[u8] = br#"{"customer_id":"0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23","lines":[{"sku":"BOOK-1984","quantity":2,"unit_price":12.5},{"sku":"PEN-BLUE","quantity":1,"unit_price":3.99},{"sku":"MUG-WHITE","quantity":4,"unit_price":7.25}],"currency":"EUR","total_amount":57.99}"#;
const ITERATIONS: usize = 200_000;

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    // Both decode to the same v2 event.
    let from_v1 = events::order::decode_placed(1, V1).unwrap();
    let from_v2 = events::order::decode_placed(2, V2).unwrap();
    assert_eq!(from_v1, from_v2);
    let plain = best_of(5, || {
        for _ in 0..ITERATIONS {
            black_box(events::order::decode_placed(2, black_box(V2)).unwrap());
        }
    });
    let upcast = best_of(5, || {
        for _ in 0..ITERATIONS {
            black_box(events::order::decode_placed(1, black_box(V1)).unwrap());
        }
    });
    let per = |d: Duration| d.as_secs_f64() * 1e9 / ITERATIONS as f64;
    println!(
        "decode order.placed: v1 through the upcaster {:>6.0} ns | plain v2 {:>6.0} ns | ratio {:.2}x (goal <= 1.3x)",
        per(upcast),
        per(plain),
        upcast.as_secs_f64() / plain.as_secs_f64()
    );
}
