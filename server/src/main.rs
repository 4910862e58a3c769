//! Run with `cargo run -p signalscope -- --help`.
fn main() {
    println!("signalscope: under construction");
}
