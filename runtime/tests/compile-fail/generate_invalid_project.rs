mod events {
    eventsmith::generate!("../../../../tests/fixtures/invalid/three-broken-files");
}

fn main() {}
