//! The S3 back-end against a real Garage on loopback (tests/common/garage.rs):
//! curl, lftp and Python's ftplib move files of 0 bytes to past the
//! multipart part size through `ftpwire serve --s3-endpoint` on each
//! driver, resume a download with REST, list, rename and remove; a cut
//! upload leaves no object; users with a key prefix of their own see only
//! their keys; and two ftpwire instances share a three-node cluster that
//! keeps serving with one node down.

#[macro_use]
mod common;

use std::io::Write;
use std::net::TcpStream;

use common::clients::{CLIENT_TIMEOUT, curl, ftplib, lftp, run_bounded};
use common::control::{Control, read_data};
use common::garage::{Garage, wait_until};
use common::payload::{assert_same_bytes, payload};
use common::server::Server;
use std::sync::Arc;

use ftpwire_backend::Storage;
use ftpwire_backend::served::s3::{PART_SIZE, S3Settings, S3Storage};
use ftpwire_backend::served::storage::WriteMode;

driver_matrix!(
    files_of_every_size_round_trip,
    listings_renames_and_directories,
    a_cut_upload_leaves_no_object,
    a_100_mib_stor_holds_one_part_in_memory,
    an_unreachable_or_refusing_store_gives_451_and_550,
    each_user_sees_only_the_keys_under_their_prefix,
);

/// Bytes of `len` from the seeded payload (repeated past its end).
fn bytes(len: usize) -> Vec<u8> {
    payload().iter().copied().cycle().take(len).collect()
}

/// Downloads `name` with curl (from `offset` with `-C`).
fn curl_get(server: &Server, name: &str, offset: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("down");
    let mut command = curl();
    if offset > 0 {
        command.args(["-C", &offset.to_string()]);
    }
    run_bounded(
        command.arg("-o").arg(&local).arg(server.url(name)),
        CLIENT_TIMEOUT,
    )
    .success();
    std::fs::read(&local).unwrap_or_default()
}

fn files_of_every_size_round_trip(driver: &'static str) {
    let garage = Garage::single();
    let server = garage.serve(driver, 0, "");
    let dir = tempfile::tempdir().unwrap();
    // 0 bytes, small, one part exactly, and two parts with a short tail.
    let sizes = [
        ("empty", 0),
        ("small", 1000),
        ("one-part", PART_SIZE),
        ("big", PART_SIZE + 4 * 1024 * 1024 + 12_345),
    ];
    for (i, (name, len)) in sizes.iter().enumerate() {
        let local = dir.path().join(name);
        std::fs::write(&local, bytes(*len)).unwrap();
        // Each size up with another client.
        match i % 3 {
            0 => {
                run_bounded(
                    curl().arg("-T").arg(&local).arg(server.url(name)),
                    CLIENT_TIMEOUT,
                )
                .success();
            }
            1 => {
                lftp(&server, &format!("put {} -o {name}", local.display())).success();
            }
            _ => {
                let local = local.to_str().unwrap();
                let results = ftplib(&server, &[&["stor", name, local]]);
                assert!(results[0].is_ok(), "ftplib STOR {name}: {results:?}");
            }
        }
    }
    for (name, len) in sizes {
        let expected = bytes(len);
        assert_same_bytes(
            &curl_get(&server, name, 0),
            &expected,
            &format!("curl RETR {name}"),
        );
        let local = dir.path().join(format!("{name}.ftplib"));
        let results = ftplib(
            &server,
            &[&["size", name], &["retr", name, local.to_str().unwrap()]],
        );
        assert_eq!(results[0], Ok(len.to_string()), "SIZE {name}");
        assert!(results[1].is_ok(), "ftplib RETR {name}: {results:?}");
        assert_same_bytes(
            &std::fs::read(&local).unwrap(),
            &expected,
            &format!("ftplib RETR {name}"),
        );
    }
    // lftp's download of the big file, and a resumed one from inside its
    // second part (REST + ranged GET).
    let lftp_copy = dir.path().join("big.lftp");
    lftp(&server, &format!("get big -o {}", lftp_copy.display())).success();
    let big = bytes(sizes[3].1);
    assert_same_bytes(&std::fs::read(&lftp_copy).unwrap(), &big, "lftp RETR big");
    let offset = PART_SIZE + 777;
    assert_same_bytes(
        &curl_get(&server, "big", offset),
        &big[offset..],
        "REST then RETR big",
    );
    // Objects are written whole: APPE is refused (502), the file unchanged.
    let small = dir.path().join("small");
    let appended = run_bounded(
        curl()
            .arg("--append")
            .arg("-T")
            .arg(&small)
            .arg(server.url("big")),
        CLIENT_TIMEOUT,
    )
    .failure();
    assert!(appended.stderr.contains("502"), "APPE: {appended}");
    assert_same_bytes(
        &curl_get(&server, "big", 0),
        &big,
        "big after a refused APPE",
    );
}

fn listings_renames_and_directories(driver: &'static str) {
    let garage = Garage::single();
    // Under a prefix: what the server shows as / is `site/` in the bucket.
    let server = garage.serve(driver, 0, "site");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("a.txt");
    std::fs::write(&local, b"hello object store\n").unwrap();
    let local = local.to_str().unwrap();
    let results = ftplib(
        &server,
        &[
            &["mkd", "docs"],
            &["mkd", "docs/sub"],
            &["stor", "docs/a.txt", local],
            &["nlst", "docs"],
            &["mlsd", "docs"],
            &["list", "docs"],
            &["rename", "docs/a.txt", "docs/b.txt"],
            &["nlst", "docs"],
            &["size", "docs/b.txt"],
            &["size", "docs/a.txt"],
            &["rmd", "docs"],
            &["mkd", "docs"],
            &["rmd", "docs/sub"],
            &["delete", "docs/b.txt"],
            &["delete", "docs/b.txt"],
            &["rmd", "docs"],
            &["nlst", "/"],
            &["mkd", "missing/child"],
        ],
    );
    let ok = |i: usize| {
        results[i]
            .clone()
            .unwrap_or_else(|e| panic!("operation {i} failed: {e}; all: {results:?}"))
    };
    let refused = |i: usize, code: &str| {
        let error = results[i]
            .clone()
            .expect_err(&format!("operation {i} must fail"));
        assert!(error.starts_with(code), "operation {i}: {error}");
    };
    ok(0);
    ok(1);
    ok(2);
    assert_eq!(ok(3), r#"["a.txt", "sub"]"#);
    let mlsd = ok(4);
    assert!(
        mlsd.contains("a.txt;") && mlsd.contains("size=19"),
        "{mlsd}"
    );
    assert!(
        mlsd.contains("type=file") && mlsd.contains("type=dir"),
        "{mlsd}"
    );
    assert!(
        mlsd.contains("modify=2"),
        "MLSD gives the object's time: {mlsd}"
    );
    let list = ok(5);
    assert!(list.contains(" 19 ") && list.contains("a.txt"), "{list}");
    assert!(list.contains("drwx") && list.contains("sub"), "{list}");
    ok(6);
    assert_eq!(ok(7), r#"["b.txt", "sub"]"#);
    assert_eq!(ok(8), "19");
    refused(9, "550");
    refused(10, "550"); // not empty
    refused(11, "550"); // exists
    ok(12);
    ok(13);
    refused(14, "550"); // gone already
    ok(15);
    assert_eq!(ok(16), "[]");
    refused(17, "550"); // no parent directory

    // The prefix is where the files went: a server over the whole bucket
    // sees `site`, and nothing else.
    let whole = garage.serve(driver, 0, "");
    let stored = dir.path().join("again");
    std::fs::write(&stored, b"x").unwrap();
    let results = ftplib(&server, &[&["stor", "kept", stored.to_str().unwrap()]]);
    assert!(results[0].is_ok(), "{results:?}");
    let results = ftplib(&whole, &[&["nlst", "/"], &["nlst", "site"]]);
    assert_eq!(results[0], Ok(r#"["site"]"#.to_owned()));
    assert_eq!(results[1], Ok(r#"["kept"]"#.to_owned()));
}

/// A STOR whose data connection is reset after more than a part has gone
/// to Garage, then one cut by ABOR while replacing an existing object:
/// neither leaves its new object (the multipart uploads are aborted), the
/// old object stays, and the server keeps serving.
fn a_cut_upload_leaves_no_object(driver: &'static str) {
    let garage = Garage::single();
    let server = garage.serve(driver, 0, "");
    let mut control = Control::login(server.addr);
    control.binary();
    let chunk = bytes(1 << 20);

    // Reset: SO_LINGER 0, so the close sends RST and the server's read fails.
    let (data_addr, _) = control.pasv();
    control.send(b"STOR reset.bin\r\n");
    let mut data = TcpStream::connect(data_addr).unwrap();
    assert_eq!(control.reply().code, 150);
    for _ in 0..(PART_SIZE / chunk.len() + 3) {
        data.write_all(&chunk).unwrap();
    }
    // A part is in Garage: the cut below has something to discard.
    let node = &garage.nodes[0];
    wait_until("a part of reset.bin in Garage", || {
        node.bucket_info().contains("1 multipart uploads")
    });
    socket2::SockRef::from(&data)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(data);
    let reply = control.reply();
    assert!(
        reply.code == 426 || reply.code == 451,
        "a reset STOR must fail, got {reply:?}"
    );
    wait_until("the aborted upload of reset.bin to go", || {
        !node.bucket_info().contains("Unfinished uploads")
    });

    // ABOR after more than a part, replacing an object that exists: the
    // old one stays.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    std::fs::write(&old, b"old\n").unwrap();
    run_bounded(
        curl().arg("-T").arg(&old).arg(server.url("kept.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    let (data_addr, _) = control.pasv();
    control.send(b"STOR kept.bin\r\n");
    let mut data = TcpStream::connect(data_addr).unwrap();
    assert_eq!(control.reply().code, 150);
    for _ in 0..(PART_SIZE / chunk.len() + 3) {
        data.write_all(&chunk).unwrap();
    }
    wait_until("a part of the new kept.bin in Garage", || {
        node.bucket_info().contains("1 multipart uploads")
    });
    control.send(b"ABOR\r\n");
    let first = control.reply();
    assert!(
        first.code == 426 || first.code == 451 || first.code == 226,
        "ABOR during STOR: {first:?}"
    );
    if first.code != 226 {
        // 426 then the 226 of the ABOR itself.
        let second = control.reply();
        assert!(second.code == 226 || second.code == 225, "{second:?}");
    }
    drop(data);

    let size = control.command("SIZE reset.bin");
    assert_eq!(size.code, 550, "reset.bin must not exist: {size:?}");
    assert_same_bytes(
        &curl_get(&server, "kept.bin", 0),
        b"old\n",
        "kept.bin after a cut STOR",
    );
    // Garage's own view: only kept.bin, no unfinished upload left.
    wait_until("the aborted upload of kept.bin to go", || {
        !node.bucket_info().contains("Unfinished uploads")
    });
    let objects = node.bucket_info();
    let count = objects
        .lines()
        .find_map(|l| l.strip_prefix("Objects:"))
        .map(|v| v.trim().to_owned());
    assert_eq!(count.as_deref(), Some("1"), "{objects}");
    // And a whole upload after them works.
    let done = bytes(PART_SIZE + 1);
    let local = dir.path().join("whole");
    std::fs::write(&local, &done).unwrap();
    run_bounded(
        curl().arg("-T").arg(&local).arg(server.url("whole.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_same_bytes(
        &curl_get(&server, "whole.bin", 0),
        &done,
        "an upload after the cut ones",
    );
}

/// Peak resident memory of `pid` in KiB (Linux's VmHWM).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A 100 MiB STOR streams: the server's peak memory grows by far less
/// than the file (one 8 MiB part at a time, plus buffers), and every byte
/// comes back.
fn a_100_mib_stor_holds_one_part_in_memory(driver: &'static str) {
    const LEN: usize = 100 << 20;
    let garage = Garage::single();
    let server = garage.serve(driver, 0, "");
    let mut control = Control::login(server.addr);
    control.binary();
    let before = peak_kib(server.pid());
    let (data_addr, _) = control.pasv();
    control.send(b"STOR huge.bin\r\n");
    let mut data = TcpStream::connect(data_addr).unwrap();
    assert_eq!(control.reply().code, 150);
    let source = payload();
    let mut sent = 0;
    while sent < LEN {
        let start = sent % source.len();
        let n = (source.len() - start).min(LEN - sent);
        data.write_all(&source[start..start + n]).unwrap();
        sent += n;
    }
    drop(data);
    // The last part and the multipart completion go to Garage after the
    // data connection closes: on a loaded machine that took over 10 s once.
    assert_eq!(
        control
            .reply_within(std::time::Duration::from_secs(60))
            .code,
        226
    );
    let grown_mib = (peak_kib(server.pid()) - before) / 1024;
    eprintln!("{driver}: peak memory grew by {grown_mib} MiB for a 100 MiB STOR");
    assert!(
        grown_mib < 32,
        "the server's peak memory grew by {grown_mib} MiB for a 100 MiB STOR"
    );
    assert_eq!(
        control.command("SIZE huge.bin").text.trim(),
        format!("213 {LEN}")
    );
    let (data_addr, _) = control.pasv();
    control.send(b"RETR huge.bin\r\n");
    let mut data = TcpStream::connect(data_addr).unwrap();
    assert_eq!(control.reply().code, 150);
    let mut received = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut data, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        // Compared as it comes, a run of the payload at a time.
        let mut checked = 0;
        while checked < n {
            let at = (received + checked) % source.len();
            let run = (source.len() - at).min(n - checked);
            assert!(
                buf[checked..checked + run] == source[at..at + run],
                "the download differs within bytes {}..{}",
                received + checked,
                received + checked + run
            );
            checked += run;
        }
        received += n;
    }
    assert_eq!(received, LEN);
    assert_eq!(control.reply().code, 226);
}

/// A store that is down gives 451 (try again later); a key Garage does
/// not know gives 550 (access denied).
fn an_unreachable_or_refusing_store_gives_451_and_550(driver: &'static str) {
    let mut garage = Garage::single();
    let real = garage.secret.clone();
    garage.secret = "0".repeat(64);
    let refused = garage.serve(driver, 0, "");
    garage.secret = real;
    let mut control = Control::login(refused.addr);
    let reply = control.command("SIZE anything");
    assert_eq!(reply.code, 550, "a wrong secret: {reply:?}");
    let listed = run_bounded(curl().arg(refused.url("")), CLIENT_TIMEOUT).failure();
    assert!(listed.stderr.contains("550"), "{listed}");

    let down = garage.serve(driver, 0, "");
    garage.nodes[0].kill();
    let mut control = Control::login(down.addr);
    let reply = control.command("SIZE anything");
    assert_eq!(reply.code, 451, "Garage stopped: {reply:?}");
    let listed = run_bounded(curl().arg(down.url("")), CLIENT_TIMEOUT).failure();
    assert!(listed.stderr.contains("451"), "{listed}");
}

/// The whole bucket through [`S3Storage`] itself, to put many objects
/// faster than STORs would.
fn bucket_storage(garage: &Garage) -> Arc<S3Storage> {
    Arc::new(
        S3Storage::new(&S3Settings {
            endpoint: garage.nodes[0].endpoint(),
            bucket: common::garage::BUCKET.into(),
            region: common::garage::REGION.into(),
            prefix: String::new(),
            access_key_id: garage.key_id.clone(),
            secret_access_key: garage.secret.clone(),
        })
        .unwrap(),
    )
}

/// 1,100 objects in one directory: more than a ListObjectsV2 page (1,000
/// keys), so LIST and MLSD follow the continuation token. The objects are
/// put through [`S3Storage`] itself (one PUT each, in parallel), faster
/// than 1,100 STORs.
#[test]
fn a_directory_of_more_than_one_page_lists_whole() {
    let garage = Garage::single();
    let storage = bucket_storage(&garage);
    const COUNT: usize = 1100;
    storage.make_directory(b"/many").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let storage = Arc::clone(&storage);
            std::thread::spawn(move || {
                for i in (t..COUNT).step_by(4) {
                    let path = format!("/many/f{i:04}");
                    let mut file = storage
                        .open_write(path.as_bytes(), WriteMode::Truncate)
                        .unwrap();
                    file.write_all(format!("{i}").as_bytes()).unwrap();
                    file.finish().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let server = garage.serve("smol", 0, "");
    let results = ftplib(
        &server,
        &[&["nlst", "many"], &["mlsd", "many"], &["list", "many"]],
    );
    let expected: Vec<String> = (0..COUNT).map(|i| format!("f{i:04}")).collect();

    let names = common::clients::json_strings(results[0].as_ref().unwrap());
    assert!(
        names == expected,
        "NLST of {COUNT} objects: {} names, the first missing {:?}",
        names.len(),
        expected.iter().find(|n| !names.contains(n))
    );
    let mlsd = common::clients::json_strings(results[1].as_ref().unwrap());
    assert_eq!(mlsd.len(), COUNT, "MLSD of {COUNT} objects");
    assert!(
        mlsd[COUNT - 1].starts_with("f1099;") && mlsd[COUNT - 1].contains("size=4"),
        "{}",
        mlsd[COUNT - 1]
    );
    let list = common::clients::json_strings(results[2].as_ref().unwrap());
    assert_eq!(list.len(), COUNT, "LIST of {COUNT} objects");
}

/// A listing streams from S3 page by page, in name order although S3
/// pages in key order: the directory `d00` is the key `d00/`, which comes
/// after `d00.0` … `d00.9`. 91 such groups are 1,001 keys, so the first
/// page (1,000 keys) ends inside a group, with its directory on the next
/// page: the server must hold the group's files back until then.
#[test]
fn a_listing_streams_across_pages_in_name_order() {
    let garage = Garage::single();
    let storage = bucket_storage(&garage);
    storage.make_directory(b"/order").unwrap();
    let mut paths = Vec::new();
    for group in 0..91 {
        paths.extend((0..10).map(|j| format!("/order/d{group:02}.{j}")));
        storage
            .make_directory(format!("/order/d{group:02}").as_bytes())
            .unwrap();
        paths.push(format!("/order/d{group:02}/inside"));
    }
    let paths = Arc::new(paths);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (storage, paths) = (Arc::clone(&storage), Arc::clone(&paths));
            std::thread::spawn(move || {
                for path in paths.iter().skip(t).step_by(4) {
                    let mut file = storage
                        .open_write(path.as_bytes(), WriteMode::Truncate)
                        .unwrap();
                    file.write_all(b"x").unwrap();
                    file.finish().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut expected: Vec<String> = paths
        .iter()
        .map(|p| {
            let name = p.strip_prefix("/order/").unwrap();
            name.strip_suffix("/inside").unwrap_or(name).to_owned()
        })
        .collect();
    expected.sort();
    assert_eq!(expected[..2], ["d00", "d00.0"]);
    for driver in ["std", "smol"] {
        let server = garage.serve(driver, 0, "");
        let mut control = Control::login(server.addr);
        let names = nlst(&mut control, "order");
        assert!(
            names == expected,
            "{driver}: NLST gave {} names, the first out of place at {:?}",
            names.len(),
            names.iter().zip(&expected).position(|(a, b)| a != b)
        );
    }
}

/// Three Garage nodes each holding a copy; an ftpwire on the std driver
/// talks to node 0, one on smol to node 1. A file stored through one is
/// listed and read through the other; with node 2 killed, both still
/// read and write (2 of 3 is a quorum).
#[test]
fn two_instances_share_a_three_node_cluster() {
    let mut garage = Garage::cluster(3);
    let first = garage.serve("std", 0, "");
    let second = garage.serve("smol", 1, "");
    let dir = tempfile::tempdir().unwrap();
    let big = bytes(PART_SIZE + 3 * 1024 * 1024 + 1);
    let local = dir.path().join("shared.bin");
    std::fs::write(&local, &big).unwrap();

    run_bounded(
        curl().arg("-T").arg(&local).arg(first.url("shared.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    let listed = ftplib(&second, &[&["nlst", "/"], &["size", "shared.bin"]]);
    assert_eq!(listed[0], Ok(r#"["shared.bin"]"#.to_owned()));
    assert_eq!(listed[1], Ok(big.len().to_string()));
    assert_same_bytes(
        &curl_get(&second, "shared.bin", 0),
        &big,
        "read through the other instance",
    );

    garage.nodes[2].kill();
    let small = dir.path().join("after.txt");
    std::fs::write(&small, b"written with a node down\n").unwrap();
    run_bounded(
        curl().arg("-T").arg(&small).arg(second.url("after.txt")),
        CLIENT_TIMEOUT,
    )
    .success();
    run_bounded(
        curl().arg("-T").arg(&local).arg(second.url("again.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_same_bytes(
        &curl_get(&first, "after.txt", 0),
        b"written with a node down\n",
        "a small file written with a node down",
    );
    assert_same_bytes(
        &curl_get(&first, "again.bin", 0),
        &big,
        "a multipart file written with a node down",
    );
    assert_same_bytes(
        &curl_get(&first, "shared.bin", 0),
        &big,
        "an older file with a node down",
    );
    let listed = ftplib(&first, &[&["nlst", "/"]]);
    assert_eq!(
        listed[0],
        Ok(r#"["after.txt", "again.bin", "shared.bin"]"#.to_owned())
    );
}

/// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when the
/// config has none; with neither, `serve` stops at start and says what to
/// set; --root and --s3-endpoint together are refused.
#[test]
fn credentials_come_from_the_environment_or_serve_refuses_to_start() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let garage = Garage::single();
    let endpoint = garage.nodes[0].endpoint();
    let serve = |env: &[(&str, &str)], extra: &[&str]| {
        let mut command = Command::new(common::server::binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--user", "alice:secret"])
            .args(["--s3-endpoint", &endpoint, "--s3-bucket", "ftp"])
            .args(extra)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };

    let output = serve(&[], &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("AWS_ACCESS_KEY_ID") && stderr.contains("AWS_SECRET_ACCESS_KEY"),
        "{stderr}"
    );
    let output = serve(&[], &["--root", "/tmp"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--root"));

    let env = [
        ("AWS_ACCESS_KEY_ID", garage.key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", garage.secret.as_str()),
    ];
    let mut child = serve(&env, &[]).spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("listening ftp://"))
        .expect("a listening line");
    let addr = line.trim_start_matches("listening ftp://").trim();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("env.txt");
    std::fs::write(&local, b"signed with keys from the environment\n").unwrap();
    run_bounded(
        curl()
            .arg("-T")
            .arg(&local)
            .arg(format!("ftp://{addr}/env.txt")),
        CLIENT_TIMEOUT,
    )
    .success();
    let listed = run_bounded(curl().arg(format!("ftp://{addr}/")), CLIENT_TIMEOUT).success();
    assert!(listed.stdout.contains("env.txt"), "{listed}");
    drop(child);
}

/// `NLST path` over a passive data connection, as the names it sent.
fn nlst(control: &mut Control, path: &str) -> Vec<String> {
    let (addr, _) = control.pasv();
    let mut data = TcpStream::connect(addr).unwrap();
    let reply = control.command(&format!("NLST {path}"));
    assert_eq!(reply.code, 150, "NLST {path}: {reply:?}");
    let names = String::from_utf8(read_data(&mut data)).unwrap();
    let end = control.reply();
    assert_eq!(end.code, 226, "NLST {path}: {end:?}");
    names.lines().map(str::to_owned).collect()
}

/// `RETR path` over a passive data connection: the file's bytes, or the
/// refusal when the server answers without sending it.
fn retr(control: &mut Control, path: &str) -> Result<Vec<u8>, common::control::Reply> {
    let (addr, _) = control.pasv();
    let mut data = TcpStream::connect(addr).unwrap();
    let reply = control.command(&format!("RETR {path}"));
    if reply.code != 150 {
        return Err(reply);
    }
    let bytes = read_data(&mut data);
    let end = control.reply();
    assert_eq!(end.code, 226, "RETR {path}: {end:?}");
    Ok(bytes)
}

/// Users with an `s3_prefix` of their own (under the server's `s3_prefix`)
/// each see only their keys: the same name uploaded by two of them is two
/// objects, each downloads their own, the keys are where the prefixes
/// say (a user without a prefix sees the whole server prefix), and paths
/// that try to climb out (`..`, absolute paths) stay inside.
fn each_user_sees_only_the_keys_under_their_prefix(driver: &'static str) {
    let garage = Garage::single();
    let users = "[[users]]\nname = \"bob\"\npassword = \"bob-pw\"\ns3_prefix = \"homes/bob\"\n\
                 [[users]]\nname = \"carol\"\npassword = \"carol-pw\"\ns3_prefix = \"homes/carol/\"\n";
    let server = garage.serve_with(driver, 0, "site", users);
    let dir = tempfile::tempdir().unwrap();
    let content = |user: &str| format!("{user}'s own file\n").into_bytes();
    for user in ["bob", "carol"] {
        let local = dir.path().join(user);
        std::fs::write(&local, content(user)).unwrap();
        run_bounded(
            curl()
                .args(["--user", &format!("{user}:{user}-pw")])
                .arg("-T")
                .arg(&local)
                .arg(server.url("same.txt")),
            CLIENT_TIMEOUT,
        )
        .success();
    }
    for user in ["bob", "carol"] {
        let local = dir.path().join(format!("{user}.down"));
        run_bounded(
            curl()
                .args(["--user", &format!("{user}:{user}-pw")])
                .arg("-o")
                .arg(&local)
                .arg(server.url("same.txt")),
            CLIENT_TIMEOUT,
        )
        .success();
        assert_same_bytes(
            &std::fs::read(&local).unwrap(),
            &content(user),
            &format!("{user} RETR same.txt"),
        );
    }
    // alice has no prefix of her own: her / is the server's `site/`, where
    // the two objects are at homes/bob/ and homes/carol/.
    let results = ftplib(
        &server,
        &[
            &["nlst", "/"],
            &["nlst", "homes"],
            &["nlst", "homes/bob"],
            &["size", "homes/carol/same.txt"],
        ],
    );
    assert_eq!(results[0], Ok(r#"["homes"]"#.to_owned()), "{results:?}");
    assert_eq!(
        results[1],
        Ok(r#"["bob", "carol"]"#.to_owned()),
        "{results:?}"
    );
    assert_eq!(results[2], Ok(r#"["same.txt"]"#.to_owned()), "{results:?}");
    assert_eq!(results[3], Ok(content("carol").len().to_string()));
    // bob cannot climb to carol's keys or the server's.
    let mut bob = Control::connect(server.addr);
    bob.log_in_as("bob", "bob-pw");
    assert_eq!(bob.command("CWD ..").code, 250);
    let pwd = bob.command("PWD");
    assert!(pwd.text.starts_with("257 \"/\""), "{pwd:?}");
    assert_eq!(nlst(&mut bob, "/"), ["same.txt"]);
    assert_eq!(nlst(&mut bob, "../.."), ["same.txt"]);
    for path in [
        "../carol/same.txt",
        "../../homes/carol/same.txt",
        "/homes/carol/same.txt",
        "/../site/homes/carol/same.txt",
    ] {
        let reply = bob.command(&format!("SIZE {path}"));
        assert_eq!(reply.code, 550, "bob SIZE {path}: {reply:?}");
    }
    // RETR resolves the same way: a climbing path names a key of bob's
    // own (none there: 550), never carol's object.
    bob.binary();
    for path in [
        "../carol/same.txt",
        "../../homes/carol/same.txt",
        "/../site/homes/carol/same.txt",
    ] {
        match retr(&mut bob, path) {
            Err(reply) => assert_eq!(reply.code, 550, "bob RETR {path}: {reply:?}"),
            Ok(bytes) => panic!("bob RETR {path} sent {:?}", String::from_utf8_lossy(&bytes)),
        }
    }
    let own = retr(&mut bob, "../same.txt").expect("bob RETR ../same.txt");
    assert_same_bytes(&own, &content("bob"), "bob RETR ../same.txt");
    let reply = bob.command("SIZE ../../same.txt");
    assert_eq!(
        reply.text.trim_end(),
        format!("213 {}", content("bob").len()),
        "bob's ../../same.txt is his own"
    );
    bob.command("QUIT");
    // A new login on the same connection gets the new user's view.
    let mut switch = Control::connect(server.addr);
    switch.log_in_as("bob", "bob-pw");
    assert_eq!(nlst(&mut switch, "/"), ["same.txt"]);
    switch.log_in_as(common::server::USER, common::server::PASSWORD);
    assert_eq!(nlst(&mut switch, "/"), ["homes"]);
    switch.log_in_as("carol", "carol-pw");
    assert_eq!(nlst(&mut switch, "/"), ["same.txt"]);
    let reply = switch.command("SIZE same.txt");
    assert_eq!(
        reply.text.trim_end(),
        format!("213 {}", content("carol").len())
    );
}
