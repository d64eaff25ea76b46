//! The lab's disks fail the way the kernel fails: full, I/O error, read-only, and heal when
//! freed or repaired.

use std::fs::{self, OpenOptions};
use std::io::Write;

use ucp_testkit::disk::{require_lab_disks, LabDisk};

fn errno(result: std::io::Result<()>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

fn append(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[test]
fn a_filled_tmpfs_refuses_writes_until_freed() {
    if !require_lab_disks("a_filled_tmpfs_refuses_writes_until_freed") {
        return;
    }
    let disk = LabDisk::tmpfs(1 << 20).unwrap();
    let file = disk.path().join("data");
    append(&file, b"before\n").unwrap();
    disk.fill().unwrap();
    assert_eq!(errno(append(&file, &[b'x'; 8192])), Some(28), "ENOSPC");
    disk.free().unwrap();
    append(&file, b"after\n").unwrap();
    assert!(fs::read_to_string(&file).unwrap().starts_with("before\n"));
}

#[test]
fn an_ext4_disk_fails_with_eio_or_erofs_and_works_again_after_repair() {
    if !require_lab_disks("an_ext4_disk_fails_with_eio_or_erofs_and_works_again_after_repair") {
        return;
    }
    let mut disk = LabDisk::ext4(8 << 20).unwrap();
    let file = disk.path().join("data");
    append(&file, b"one\n").unwrap();
    let open = OpenOptions::new().append(true).open(&file).unwrap();

    disk.fail_io().unwrap();
    assert_eq!(errno(append(&file, b"x")), Some(5), "EIO by path");
    assert_eq!(
        errno((&open).write_all(b"x")),
        Some(5),
        "EIO on an open file"
    );
    disk.repair().unwrap();
    append(&file, b"two\n").unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "one\ntwo\n");

    disk.go_read_only().unwrap();
    assert_eq!(errno(append(&file, b"x")), Some(30), "EROFS");
    disk.repair().unwrap();
    append(&file, b"three\n").unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "one\ntwo\nthree\n");

    disk.fill().unwrap();
    assert_eq!(errno(append(&file, &[b'x'; 8192])), Some(28), "ENOSPC");
}
