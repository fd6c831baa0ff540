//! A small file system of a node's own that a test can fill up (a tmpfs) or have turn
//! read-only under the node while it writes (ext4 on a loop device, shut down with
//! `FS_IOC_SHUTDOWN`: every write then fails with `EROFS`, as when a disk goes read-only after
//! an I/O error; a remount read-only is refused while the node holds its files open for writing).
//! Both need root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; unmounted (lazily) on drop.
pub struct SmallFs {
    pub dir: PathBuf,
}

fn run(cmd: &mut Command) -> bool {
    cmd.status().is_ok_and(|s| s.success())
}

impl SmallFs {
    /// Mounts a `size_mb` tmpfs on a fresh directory; `None` unless this process may mount
    /// (root). The suite runs as root in `.ci/run`.
    pub fn mount(size_mb: u32) -> Option<SmallFs> {
        let dir = crate::tmp::unique_dir("breakout-smallfs");
        let ok = run(Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mb}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&dir));
        ok.then_some(SmallFs { dir })
    }

    /// The node's data directory inside it.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Writes a filler file until the file system is full; the bytes written.
    pub fn fill(&self) -> u64 {
        let mut f = std::fs::File::create(self.filler()).expect("create filler");
        let mut written = 0u64;
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0xA5u8; chunk];
            while f.write_all(&buf).is_ok() {
                written += chunk as u64;
            }
        }
        let _ = f.sync_all();
        written
    }

    /// Frees what [`SmallFs::fill`] took.
    pub fn unfill(&self) {
        let _ = std::fs::remove_file(self.filler());
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = run(Command::new("umount").arg("-l").arg(&self.dir));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An ext4 file system in an image file, loop-mounted.
pub struct LoopFs {
    pub dir: PathBuf,
    image: PathBuf,
}

impl LoopFs {
    /// Makes and mounts a `size_mb` ext4 image; `None` unless this process may (root).
    pub fn mount(size_mb: u32) -> Option<LoopFs> {
        let dir = crate::tmp::unique_dir("breakout-loopfs");
        let image = dir.with_extension("img");
        let made = run(Command::new("truncate")
            .args(["-s", &format!("{size_mb}M")])
            .arg(&image))
            && run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image));
        let fs = LoopFs { dir, image };
        (made && fs.attach()).then_some(fs)
    }

    fn attach(&self) -> bool {
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&self.image)
            .arg(&self.dir))
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Shuts the file system down under its users: from now on writes fail (`EROFS`). With
    /// `flush_log == false` the journal is not flushed first: what was not yet on the device
    /// is lost, as in a power cut.
    pub fn shut_down(&self, flush_log: bool) {
        // FS_IOC_SHUTDOWN = _IOR('X', 125, __u32); flags: 1 = flush the log, 2 = do not.
        const FS_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587D;
        let flags: u32 = if flush_log { 1 } else { 2 };
        let dir = std::fs::File::open(&self.dir).expect("open the mount point");
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor, and a pointer to a u32 as the ioctl expects.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::ioctl(dir.as_raw_fd(), FS_IOC_SHUTDOWN, &flags as *const u32) };
        assert_eq!(
            rc,
            0,
            "FS_IOC_SHUTDOWN: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Unmounts and mounts the image again (ext4 replays its journal): the repair.
    pub fn remount(&self) {
        assert!(
            run(Command::new("umount").arg(&self.dir)),
            "umount {}",
            self.dir.display()
        );
        assert!(self.attach(), "mount {}", self.image.display());
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = run(Command::new("umount").arg("-l").arg(&self.dir));
        let _ = std::fs::remove_file(&self.image);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
