//! eqlc: a compiler for detection rules written in Elastic's Event Query Language.
//!
//! The pipeline, one module a stage:
//! [`document`] (rule documents → [`document::Rule`]) → [`syntax`] (pest grammar → AST) →
//! [`ir`] (typed, normalised IR; canonical printer) → backends → the `eqlc` CLI; [`serve`] is
//! the local preview page.

pub mod backend;
pub mod diagnostic;
pub mod document;
pub mod driver;
pub mod eval;
pub mod ir;
pub mod schema;
pub mod serve;
pub mod source;
pub mod syntax;
