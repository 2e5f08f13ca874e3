#[derive(serde::Serialize, serde::Deserialize, eventsmith::Event)]
#[event(schema = "../../../../schema/events/order/paid.v1.json")]
struct OrderPaid {
    amount: f64,
    method: String,
    note: String,
}

fn main() {}
