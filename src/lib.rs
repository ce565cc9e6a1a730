//! placeholder
pub mod lyrics;
