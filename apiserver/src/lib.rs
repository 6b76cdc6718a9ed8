//! `tug-apiserver` as a library: the binary's `main` is a thin wrapper so
//! tests and benchmarks can reach the storage backends directly.

pub mod storage;
