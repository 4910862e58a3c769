//! Mounts the dashboard; everything else lives in the library.

fn main() {
    signalscope_frontend::mount();
}
