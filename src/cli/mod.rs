//! The command line's verbs for people (`ctrsh image ...`, `ctrsh network
//! ...`): each family's parsing in a module of its own, `main.rs` only
//! dispatches.

pub mod image;
pub mod network;
