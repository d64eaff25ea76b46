//! Storage faults at chosen moments, on small real file systems the tests create themselves.
//!
//! A [`LabDisk`] is a file system mounted on a fresh temporary directory. Whatever writes
//! there — SQLite (the durable store, the health table), the checkpoint file, the file sink,
//! the data lake's local store — meets the kernel's own errors, with no fake layer between:
//!
//! | fault | how | what writers get | how it clears |
//! |---|---|---|---|
//! | full | [`LabDisk::fill`] writes a ballast file until the kernel refuses ([`LabDisk::fill_leaving`] gives a little back, so a large write stops halfway) | `ENOSPC` | [`LabDisk::free`] removes the ballast |
//! | I/O error | [`LabDisk::fail_io`] shuts the ext4 file system down (the `EXT4_IOC_SHUTDOWN` ioctl, through `xfs_io`), as a dying disk does | `EIO` on every call, open files included | [`LabDisk::repair`] |
//! | read-only | [`LabDisk::go_read_only`] raises an ext4 error with `errors=remount-ro` (through `/sys/fs/ext4/<dev>/trigger_fs_error`), as the kernel does on a corrupt disk | `EROFS` on every write, open files included | [`LabDisk::repair`] |
//!
//! [`LabDisk::repair`] is what an operator does: lazily unmount the broken file system,
//! check it with `e2fsck` and mount it again, on the same path. Files opened before stay on
//! the broken mount: a component heals only if it opens its files again. Both faults first
//! sync the file system, so what was written before the fault is on the disk after the
//! repair (a test about healing, not about unsynced writes).
//!
//! Mounting needs root and the tools `mount`, `umount`, `losetup`, `mkfs.ext4`, `e2fsck`
//! (util-linux, e2fsprogs) and, for `fail_io`, `xfs_io` (xfsprogs). CI runs as root and
//! installs them; elsewhere [`lab_disks_available`] says what is missing so a test can skip
//! with that message — and fails instead when `CI=true`, so a CI that lost them cannot pass
//! by skipping.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a lab disk could not be set up or changed.
#[derive(Debug, thiserror::Error)]
pub enum LabDiskError {
    /// A command failed.
    #[error("lab disk: `{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and error output.
        detail: String,
    },
    /// A file operation of the lab itself failed.
    #[error("lab disk: {what} {path}: {source}")]
    Io {
        /// What the lab was doing.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The fault needs an ext4 lab disk.
    #[error("lab disk: {0} needs an ext4 lab disk (LabDisk::ext4), not tmpfs")]
    NeedsExt4(&'static str),
}

/// Whether lab disks can be mounted here: `Ok` as root with every tool present, otherwise
/// what is missing. See [`require_lab_disks`] for the test-side rule.
pub fn lab_disks_available() -> Result<(), String> {
    if !is_root() {
        return Err("mounting lab file systems needs root (CI runs as root)".into());
    }
    let missing: Vec<&str> = [
        ("mount", "util-linux"),
        ("umount", "util-linux"),
        ("losetup", "util-linux"),
        ("mkfs.ext4", "e2fsprogs"),
        ("e2fsck", "e2fsprogs"),
        ("xfs_io", "xfsprogs"),
    ]
    .iter()
    .filter(|(tool, _)| !on_path(tool))
    .map(|(_, package)| *package)
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "lab file systems need the Debian packages {} (apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        ))
    }
}

/// For a test: `true` when lab disks can be used. Otherwise prints why and returns `false`
/// (the test skips), or panics with that reason when `CI=true`.
pub fn require_lab_disks(test: &str) -> bool {
    match lab_disks_available() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: {why}; CI must provide this")
        }
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// A small file system mounted on a temporary directory, to fill, break and repair.
#[derive(Debug)]
pub struct LabDisk {
    mount: tempfile::TempDir,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Tmpfs,
    Ext4 {
        /// Holds the image file.
        _images: tempfile::TempDir,
        image: PathBuf,
        /// The loop device mounted now, then the ones of earlier (broken) mounts.
        devices: Vec<String>,
    },
}

const BALLAST: &str = ".lab-ballast";

impl LabDisk {
    /// A tmpfs of `bytes` (rounded up to whole pages): fills up like any disk, fast. Can be
    /// [filled](LabDisk::fill), not broken otherwise.
    pub fn tmpfs(bytes: u64) -> Result<LabDisk, LabDiskError> {
        let mount = temp_dir("lab-disk")?;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0755"))
            .arg("tmpfs")
            .arg(mount.path()))?;
        Ok(LabDisk {
            mount,
            kind: Kind::Tmpfs,
        })
    }

    /// An ext4 file system of `bytes` (at least 4 MiB) on a loop device, mounted with
    /// `errors=remount-ro`: takes every fault.
    pub fn ext4(bytes: u64) -> Result<LabDisk, LabDiskError> {
        let images = temp_dir("lab-disk-image")?;
        let image = images.path().join("disk.img");
        let file = File::create(&image).map_err(|source| LabDiskError::Io {
            what: "creating",
            path: image.clone(),
            source,
        })?;
        file.set_len(bytes.max(4 << 20))
            .map_err(|source| LabDiskError::Io {
                what: "sizing",
                path: image.clone(),
                source,
            })?;
        drop(file);
        // No reserved blocks: the test fills the disk for everyone, root included.
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(&image))?;
        let mount = temp_dir("lab-disk")?;
        let device = attach_and_mount(&image, mount.path())?;
        Ok(LabDisk {
            mount,
            kind: Kind::Ext4 {
                _images: images,
                image,
                devices: vec![device],
            },
        })
    }

    /// Where the file system is mounted.
    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Fill the file system with a ballast file until the kernel refuses another byte.
    pub fn fill(&self) -> Result<(), LabDiskError> {
        let path = self.path().join(BALLAST);
        let io = |what, source| LabDiskError::Io {
            what,
            path: path.clone(),
            source,
        };
        let mut ballast = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("creating the ballast", e))?;
        for chunk in [1 << 20, 4096, 512, 1] {
            let bytes = vec![0x5a_u8; chunk];
            loop {
                match ballast.write(&bytes) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                    Err(e) => return Err(io("writing the ballast", e)),
                }
            }
        }
        // Blocks are reserved at write time; the fsync makes the fill visible to every writer.
        let _ = ballast.sync_all();
        Ok(())
    }

    /// Fill the file system, then give back about `bytes` (whole blocks), so that the next
    /// large write starts and stops halfway with `ENOSPC`.
    pub fn fill_leaving(&self, bytes: u64) -> Result<(), LabDiskError> {
        self.fill()?;
        let path = self.path().join(BALLAST);
        let io = |source| LabDiskError::Io {
            what: "shortening the ballast",
            path: path.clone(),
            source,
        };
        let ballast = OpenOptions::new().write(true).open(&path).map_err(io)?;
        let len = ballast.metadata().map_err(io)?.len();
        ballast.set_len(len.saturating_sub(bytes)).map_err(io)?;
        ballast.sync_all().map_err(io)
    }

    /// Remove the ballast: the space is back.
    pub fn free(&self) -> Result<(), LabDiskError> {
        let path = self.path().join(BALLAST);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LabDiskError::Io {
                what: "removing the ballast",
                path,
                source,
            }),
        }
    }

    /// Make every later call on the file system fail with `EIO`, open files included (ext4
    /// only). What was written before is synced first.
    pub fn fail_io(&self) -> Result<(), LabDiskError> {
        let Kind::Ext4 { .. } = self.kind else {
            return Err(LabDiskError::NeedsExt4("fail_io"));
        };
        run(Command::new("sync").arg("-f").arg(self.path()))?;
        run(Command::new("xfs_io")
            .args(["-x", "-c", "shutdown -f"])
            .arg(self.path()))
    }

    /// Like [`LabDisk::fail_io`], without syncing first: what was written but not yet synced
    /// is lost, as when a disk dies (the files are shorter after the repair).
    pub fn fail_io_losing_unsynced(&self) -> Result<(), LabDiskError> {
        let Kind::Ext4 { .. } = self.kind else {
            return Err(LabDiskError::NeedsExt4("fail_io_losing_unsynced"));
        };
        run(Command::new("xfs_io")
            .args(["-x", "-c", "shutdown"])
            .arg(self.path()))
    }

    /// Make the kernel turn the file system read-only as after a disk error: every later
    /// write fails with `EROFS`, open files included (ext4 only).
    pub fn go_read_only(&self) -> Result<(), LabDiskError> {
        let Kind::Ext4 { devices, .. } = &self.kind else {
            return Err(LabDiskError::NeedsExt4("go_read_only"));
        };
        run(Command::new("sync").arg("-f").arg(self.path()))?;
        let device = devices
            .first()
            .and_then(|d| d.rsplit('/').next())
            .unwrap_or_default();
        let trigger = PathBuf::from(format!("/sys/fs/ext4/{device}/trigger_fs_error"));
        fs::write(&trigger, "ucp lab: the disk goes read-only").map_err(|source| LabDiskError::Io {
            what: "raising an ext4 error through",
            path: trigger,
            source,
        })
    }

    /// Repair a broken ext4 file system as an operator would: lazily unmount it (open files
    /// stay on the broken mount), check it, and mount it again on the same path.
    pub fn repair(&mut self) -> Result<(), LabDiskError> {
        let path = self.mount.path().to_path_buf();
        let Kind::Ext4 { image, devices, .. } = &mut self.kind else {
            return Err(LabDiskError::NeedsExt4("repair"));
        };
        run(Command::new("umount").arg("-l").arg(&path))?;
        // 0: clean, 1: errors corrected; anything else is a broken lab.
        let checked = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(&*image)
            .output()
            .map_err(|source| LabDiskError::Io {
                what: "running e2fsck on",
                path: image.clone(),
                source,
            })?;
        if !matches!(checked.status.code(), Some(0 | 1)) {
            return Err(LabDiskError::Command {
                command: format!("e2fsck -f -y {}", image.display()),
                detail: format!(
                    "{}: {}",
                    checked.status,
                    String::from_utf8_lossy(&checked.stdout)
                ),
            });
        }
        // A new loop device: the old one still serves the broken, lazily unmounted mount.
        let device = attach_and_mount(image, &path)?;
        devices.insert(0, device);
        Ok(())
    }
}

impl Drop for LabDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .output();
        if let Kind::Ext4 { devices, .. } = &self.kind {
            for device in devices {
                // Detached once the last file on it is closed.
                let _ = Command::new("losetup").arg("-d").arg(device).output();
            }
        }
    }
}

fn attach_and_mount(image: &Path, mount: &Path) -> Result<String, LabDiskError> {
    let device = run_output(Command::new("losetup").args(["-f", "--show"]).arg(image))?;
    let mounted = run(Command::new("mount")
        .args(["-t", "ext4", "-o", "errors=remount-ro"])
        .arg(&device)
        .arg(mount));
    if let Err(error) = mounted {
        let _ = Command::new("losetup").arg("-d").arg(&device).output();
        return Err(error);
    }
    Ok(device)
}

fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, LabDiskError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|source| LabDiskError::Io {
            what: "creating a temporary directory in",
            path: std::env::temp_dir(),
            source,
        })
}

fn run(command: &mut Command) -> Result<(), LabDiskError> {
    run_output(command).map(|_| ())
}

fn run_output(command: &mut Command) -> Result<String, LabDiskError> {
    let line = format!("{command:?}").replace('"', "");
    let output = command.output().map_err(|e| LabDiskError::Command {
        command: line.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(LabDiskError::Command {
            command: line,
            detail: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The effective user is root (read from `/proc`, no `unsafe` call).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

fn on_path(tool: &str) -> bool {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .any(|dir| dir.join(tool).is_file())
}
