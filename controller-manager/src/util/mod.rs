//! Helpers more than one controller uses.

pub mod claim;
pub mod conflict;
