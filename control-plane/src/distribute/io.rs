//! Frames over the control stream: the shared shell in `breakout_policy::wire::quic`.

pub use breakout_policy::wire::quic::{FrameIo, IoError};
