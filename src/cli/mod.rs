//! The command line's verbs for people (`ctrsh ls`, `ctrsh image ...`,
//! `ctrsh network ...`): each family's parsing in a module of its own,
//! `main.rs` only dispatches. And how the ctrsh process takes signals.

pub mod containers;
pub mod image;
pub mod network;
pub mod signals;
