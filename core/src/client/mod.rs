//! The client half of the protocol (in progress): decisions a client makes
//! that real clients get wrong. So far: what to do with the address a
//! `227` reply names ([`passive`]).

pub mod passive;
