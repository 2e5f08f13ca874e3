#[derive(serde::Serialize, serde::Deserialize, eventsmith::Event)]
#[event(schema = "../../../../schema/events/order/placed.v2.json")]
struct OrderPlaced {
    customer_id: String,
    currency: Option<String>,
    total_amount: f64,
}

fn main() {}
