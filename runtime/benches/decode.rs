//! Decoding a stored `order.placed` v1 payload through its upcaster to v2, against a plain typed
//! decode of the same event stored at v2, measured in the same run with the example project's
//! generated code. Goal: the upcast path costs at most 1.3x the plain decode.
//!
//! Then full enforcement: every event of the example project is enforced by its type and
//! generated checks alone (no schema check), so its decode is the plain decode above. The cost of
//! the schema check, for an event whose type does not express every keyword, is measured on the
//! same v2 payload and type, checked against the event's schema bundled as generation bundles it
//! (`decode_checked`), against the decode without it.
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

/// order.placed v2 as `generate` bundles it for the schema check: its referenced types inside
/// it, annotations left out.
static PLACED_V2: eventsmith::__private::Schema = eventsmith::__private::Schema::new(
    r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"customer_id":{"$ref":"#/$defs/ids/$defs/CustomerId"},"lines":{"type":"array","items":{"$ref":"#/$defs/money/$defs/OrderLine"},"minItems":1},"currency":{"$ref":"#/$defs/money/$defs/Currency"},"total_amount":{"$ref":"#/$defs/money/$defs/Amount"}},"required":["customer_id","lines","currency","total_amount"],"additionalProperties":false,"$defs":{"ids":{"$defs":{"CustomerId":{"type":"string","format":"uuid"}}},"money":{"$defs":{"Amount":{"type":"number","minimum":0,"multipleOf":0.01},"Currency":{"type":"string","pattern":"^[A-Z]{3}$"},"Sku":{"type":"string","minLength":1,"maxLength":64},"Quantity":{"type":"integer","minimum":1},"OrderLine":{"type":"object","properties":{"sku":{"$ref":"#/$defs/money/$defs/Sku"},"quantity":{"$ref":"#/$defs/money/$defs/Quantity"},"unit_price":{"$ref":"#/$defs/money/$defs/Amount"}},"required":["sku","quantity","unit_price"],"additionalProperties":false}}}}}"##,
);

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
    type Placed = events::order::v2::OrderPlaced;
    use eventsmith::__private::codec;
    assert_eq!(
        codec::decode_checked::<Placed>("order.placed", 2, V2, &PLACED_V2).unwrap(),
        from_v2
    );
    let invalid = V2
        .to_vec()
        .into_iter()
        .map(|b| if b == b'E' { b'e' } else { b })
        .collect::<Vec<u8>>();
    assert!(codec::decode_checked::<Placed>("order.placed", 2, &invalid, &PLACED_V2).is_err());
    let unchecked = best_of(5, || {
        for _ in 0..ITERATIONS {
            black_box(codec::decode::<Placed>("order.placed", 2, black_box(V2)).unwrap());
        }
    });
    let checked = best_of(5, || {
        for _ in 0..ITERATIONS {
            black_box(
                codec::decode_checked::<Placed>("order.placed", 2, black_box(V2), &PLACED_V2)
                    .unwrap(),
            );
        }
    });
    // Without the new checks: the typed decode and generated checks alone, called directly.
    let generated = best_of(5, || {
        for _ in 0..ITERATIONS {
            black_box(events::order::decode_placed(2, black_box(V2)).unwrap());
        }
    });
    println!(
        "full enforcement (order.placed v2, as generated) {:>6.0} ns | typed decode only {:>6.0} ns | ratio {:.2}x (goal <= 1.5x)",
        per(generated),
        per(unchecked),
        generated.as_secs_f64() / unchecked.as_secs_f64()
    );
    println!(
        "schema check where a type needs one: checked {:>6.0} ns | typed only {:>6.0} ns | ratio {:.2}x",
        per(checked),
        per(unchecked),
        checked.as_secs_f64() / unchecked.as_secs_f64()
    );
}
