//! `breakoutctl`: the operator CLI (being written).
fn main() {
    eprintln!("breakoutctl: not implemented yet");
    std::process::exit(2);
}
