//! Writing a large new file past the page cache.
//!
//! A build writes its graph image and the cache's pack once, whole, and reads neither back: the
//! image is fsynced for a crash-safe save, so its bytes go to the disk before the build ends
//! whatever the path, and copying them into the page cache on the way costs memory bandwidth
//! and fresh pages for nothing. On this project's benchmark machine that copy was the largest
//! single cost of a cold build (benches/README.md, "Seventh pass"). `DirectWriter` writes
//! through `O_DIRECT` where the platform and the file system allow it (Linux; block-aligned
//! writes from an aligned buffer), and through ordinary writes everywhere else: a file system
//! that refuses `O_DIRECT` (tmpfs, some network and FUSE file systems) gets the same bytes by
//! the ordinary path, and so does the unaligned tail of every file.

use std::borrow::Borrow;
use std::fs::File;
use std::io::{self, Write};

/// Alignment of the buffer, of each direct write's length and of the file offset: the page
/// size, a multiple of every common device's logical block size.
const ALIGN: usize = 4096;

/// Bytes gathered before a write: a request large enough for the device's full speed (1 MiB
/// direct writes ran at 1.5 GB/s here, `dd oflag=direct bs=1M`), small beside a build's memory
/// (a small graph's build is tens of MiB; a larger buffer, 8 MiB, added 20 MiB to its peak).
const CAPACITY: usize = 1 << 20;

/// A buffered writer to a new, empty file (owned or borrowed) that bypasses the page cache where
/// it can. Ended with `finish`, which reports errors; dropped, it writes what it holds and
/// ignores them (as `BufWriter` does).
pub struct DirectWriter<F: Borrow<File>> {
    file: F,
    /// `CAPACITY + ALIGN` bytes, of which `start..start + CAPACITY` is the aligned buffer.
    buf: Vec<u8>,
    start: usize,
    /// Bytes gathered in the buffer.
    len: usize,
    direct: bool,
}

impl<F: Borrow<File>> DirectWriter<F> {
    /// A writer to `file`, which must be empty and at offset 0 (direct writes need aligned
    /// offsets). Falls back to ordinary writes when direct ones cannot be had.
    pub fn new(file: F) -> DirectWriter<F> {
        let direct = file.borrow().metadata().is_ok_and(|meta| meta.len() == 0) && set_direct(file.borrow(), true);
        DirectWriter::with(file, direct)
    }

    /// A writer to `file` through the page cache, for a file that is read back soon.
    pub fn ordinary(file: F) -> DirectWriter<F> {
        DirectWriter::with(file, false)
    }

    fn with(file: F, direct: bool) -> DirectWriter<F> {
        let buf = vec![0; CAPACITY + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        DirectWriter { file, buf, start, len: 0, direct }
    }

    /// Whether writes still go past the page cache.
    #[cfg(test)]
    fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes what is buffered and leaves the file as ordinary writes would have. The caller
    /// syncs the file when it needs it on disk.
    pub fn finish(mut self) -> io::Result<()> {
        self.end()
    }

    fn end(&mut self) -> io::Result<()> {
        let aligned = self.len - self.len % ALIGN;
        self.write_buffered(aligned)?;
        if self.direct {
            // The tail cannot be written directly (its length is not aligned), and the file is
            // left as it was opened, for whoever writes it next.
            set_direct(self.file.borrow(), false);
            self.direct = false;
        }
        self.write_buffered(self.len)
    }

    /// Writes the first `n` buffered bytes (all of them, or an aligned prefix while direct). What
    /// was written leaves the buffer even when a later write fails, so that nothing is written
    /// twice (by `Drop`, after `finish` failed).
    fn write_buffered(&mut self, n: usize) -> io::Result<()> {
        let mut written = 0;
        let result = self.write_prefix(n, &mut written);
        self.buf.copy_within(self.start + written..self.start + self.len, self.start);
        self.len -= written;
        result
    }

    fn write_prefix(&mut self, n: usize, written: &mut usize) -> io::Result<()> {
        let start = self.start;
        while *written < n {
            let file: &File = self.file.borrow();
            match (&*file).write(&self.buf[start + *written..start + n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => *written += k,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // A device or file system that takes `O_DIRECT` at open but not this write (an
                // alignment it wants larger): the rest goes the ordinary way. A direct write
                // that fails writes nothing, so nothing is written twice.
                Err(err) if self.direct && err.kind() == io::ErrorKind::InvalidInput => {
                    set_direct(file, false);
                    self.direct = false;
                }
                Err(err) => return Err(err),
            }
            if self.direct && !written.is_multiple_of(ALIGN) {
                // A short direct write (the disk full, say) leaves an unaligned offset: the rest
                // goes the ordinary way.
                set_direct(file, false);
                self.direct = false;
            }
        }
        Ok(())
    }
}

impl<F: Borrow<File>> Drop for DirectWriter<F> {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

impl<F: Borrow<File>> Write for DirectWriter<F> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.len == CAPACITY {
            self.write_buffered(CAPACITY)?;
        }
        let n = data.len().min(CAPACITY - self.len);
        self.buf[self.start + self.len..self.start + self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    /// Buffered bytes are written as the buffer fills and by `finish`: a flush in between would
    /// write an unaligned part, and end direct writes for the rest of the file.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Turns `O_DIRECT` on or off for `file`; whether it is now as asked.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> bool {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fcntl` with `F_GETFL`/`F_SETFL` reads and sets the status flags of a descriptor
    // that `file` owns and keeps open for the whole call; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let wanted = if on { flags | libc::O_DIRECT } else { flags & !libc::O_DIRECT };
        libc::fcntl(fd, libc::F_SETFL, wanted) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_: &File, on: bool) -> bool {
    !on
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Bytes that tell their positions apart.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
    }

    #[test]
    fn what_is_written_is_the_file_whatever_the_sizes_of_the_writes() {
        let dir = tempfile::tempdir().unwrap();
        // Around the buffer's capacity and the alignment, in writes of odd sizes.
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, CAPACITY, CAPACITY + 5, 2 * CAPACITY + ALIGN + 7] {
            let path = dir.path().join(format!("f{len}"));
            let file = File::create(&path).unwrap();
            let data = pattern(len);
            let mut writer = DirectWriter::new(&file);
            for chunk in data.chunks(1 << 13 | 123) {
                writer.write_all(chunk).unwrap();
            }
            writer.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "{len} bytes");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_new_file_on_a_disk_is_written_directly_and_left_as_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("f")).unwrap();
        let writer = DirectWriter::new(&file);
        use std::os::fd::AsRawFd;
        // SAFETY: `statfs` fills the struct it is given, for a descriptor `file` owns.
        let kind = unsafe {
            let mut stat: libc::statfs = std::mem::zeroed();
            assert_eq!(libc::fstatfs(file.as_raw_fd(), &mut stat), 0);
            stat.f_type
        };
        // ext4, XFS and Btrfs take `O_DIRECT`; on another file system (the temp folder may be a
        // tmpfs) only the fallback, which the test above checks, can be.
        if [0xEF53, 0x5846_5342, 0x9123_683E].contains(&kind) {
            assert!(writer.is_direct(), "O_DIRECT on a file system that takes it");
        }
        writer.finish().unwrap();
        // SAFETY: reads the status flags of a descriptor `file` owns.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_DIRECT, 0, "O_DIRECT is turned off again");
    }

    #[test]
    fn a_write_that_fails_is_reported_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        File::create(&path).unwrap();
        // Opened for reading only: every write fails.
        let file = File::open(&path).unwrap();
        let mut writer = DirectWriter::new(&file);
        // The buffer fills, then its write fails.
        assert!(writer.write_all(&pattern(CAPACITY + ALIGN + 1)).is_err());
        assert!(writer.finish().is_err());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_file_that_is_not_empty_is_written_the_ordinary_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        let mut writer = DirectWriter::new(&file);
        assert!(!writer.is_direct());
        writer.write_all(&pattern(ALIGN * 3)).unwrap();
        writer.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), ALIGN * 3 + 1);
    }
}
