//! rolecall: a terminal console and CLI for an application's users, roles and
//! permissions, kept in one SQLite file or a PostgreSQL database.
//!
//! `domain` holds the rules, `store` the SQLite file, `cli` and `tui` the two front
//! ends. Both front ends go through the same store calls, which apply the same rules.

pub mod cli;
pub mod demo;
pub mod domain;
pub mod error;
pub mod serve;
pub mod store;
pub mod text;
pub mod tui;
