mod events {
    eventsmith::generate!("../../../../tests/codegen/fixtures/custom-upcaster");
}

fn main() {}
