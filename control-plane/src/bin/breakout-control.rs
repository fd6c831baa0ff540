//! Placeholder binary: the control plane is not built yet (see docs/architecture.md).
fn main() {
    eprintln!("breakout-control: not implemented yet; run breakout-edge standalone (see README.md)");
    std::process::exit(2);
}
