//! Elasticsearch Query DSL: the IR lowered as Elasticsearch's own EQL translator lowers it.

pub mod lucene_regex;
pub mod painless;
