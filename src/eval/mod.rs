//! The native evaluator: EQL rules run over JSON events with Elasticsearch's semantics.
//!
//! Building blocks so far: field access on events ([`document`]) and compiled wildcard
//! patterns ([`wildcard`]).

pub mod condition;
pub mod conformance;
pub mod document;
pub mod engine;
pub mod extract;
pub mod prefilter;
pub mod run;
pub mod sample;
pub mod sequence;
pub mod wildcard;

pub use document::{Document, FieldValue, JsonDocument};
pub use wildcard::Wildcard;
