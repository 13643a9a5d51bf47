//! eqlc: a compiler for detection rules written in Elastic's Event Query Language.
//!
//! The pipeline, one module a stage:
//! [`document`] (rule documents → [`document::Rule`]) → [`syntax`] (pest grammar → AST) →
//! [`ir`] (typed, normalised IR; canonical printer) → backends → the `eqlc` CLI.
//! [`driver`] runs batches of documents; [`build`] turns a rules repository into checked
//! artifacts for CI; [`serve`] is the local preview page.

pub mod backend;
pub mod build;
pub mod cli_docs;
pub mod diagnostic;
pub mod document;
pub mod driver;
pub mod eval;
pub mod explain;
pub mod ir;
pub mod schema;
pub mod serve;
pub mod source;
pub mod syntax;
