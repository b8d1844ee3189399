//! What a host serves: storage seen through the core's virtual paths, the
//! local filesystem jailed to its root, an S3 bucket, the users who may log in, and
//! listings streamed from storage. No sockets, runtime or TLS here, so a
//! host of any kind can serve these.

pub mod listing;
pub mod local_fs;
pub mod s3;
pub mod storage;
pub mod users;
