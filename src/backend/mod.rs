//! Backends: each lowers the IR to one target and never parses anything itself.

pub mod dsl;
pub mod sigma;
