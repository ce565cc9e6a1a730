//! Tests of the testkit builders.
