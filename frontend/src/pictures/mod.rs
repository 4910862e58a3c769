//! Pictures for the room: stakeholders look, they don't read.
//!
//! * [`topology`] draws publisher → Redis → each instance → its panel, a
//!   dot travelling the edges on every broadcast and each hop's time on
//!   its edge;
//! * [`latency`] charts click → arrival per instance over the last minutes
//!   against the verdict threshold;
//! * [`present`] is presentation mode (`?present` or the toolbar button):
//!   a big verdict banner over those two pictures, and the keys `b` and `r`.
//!
//! The geometry (node positions, edge paths, scales, time buckets) and
//! the banner's wording are plain Rust with native unit tests; the views
//! only place what they compute.

pub mod latency;
pub mod present;
pub mod topology;

/// An SVG point in the drawing's user units. Whole units: the drawings
/// scale to their box, and integer text keeps float formatting out of
/// the .wasm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Rightwards from the drawing's left edge.
    pub x: i32,
    /// Downwards from its top edge.
    pub y: i32,
}
