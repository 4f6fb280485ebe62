//! The real file system, through `std::fs` and memmap2.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Access, FileSystem, LockGuard, MappedFile, NewFile, WalFile};
use crate::error::Result;

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFileSystem;

#[derive(Debug)]
struct StdWalFile {
    // The mutex orders appends against truncation; `sync` needs no lock.
    file: Mutex<File>,
    sync_handle: File,
}

impl WalFile for StdWalFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        self.file.lock().write_all(data)
    }

    fn sync(&self) -> io::Result<()> {
        self.sync_handle.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let file = self.file.lock();
        file.set_len(len)?;
        file.sync_all()
    }
}

impl FileSystem for StdFileSystem {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        let sync_handle = file.try_clone()?;
        Ok(Arc::new(StdWalFile {
            file: Mutex::new(file),
            sync_handle,
        }))
    }

    fn open_read(&self, path: &Path) -> io::Result<(Box<dyn Read + Send>, u64)> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok((Box::new(io::BufReader::with_capacity(1 << 20, file)), len))
    }

    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut file = File::create(path)?;
        file.write_all(data)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn lock_dir(&self, dir: &Path) -> Result<Box<dyn LockGuard>> {
        Ok(Box::new(crate::lock::DirectoryLock::acquire(dir)?))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn NewFile>> {
        let file = File::create(path)?;
        Ok(Box::new(StdNewFile {
            file: io::BufWriter::with_capacity(1 << 20, file),
        }))
    }

    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        let file = File::open(path)?;
        let map = if file.metadata()?.len() == 0 {
            None
        } else {
            Some(map_file(&file)?)
        };
        Ok(Arc::new(StdMappedFile { map }))
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }
}

#[derive(Debug)]
struct StdNewFile {
    file: io::BufWriter<File>,
}

impl Write for StdNewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl NewFile for StdNewFile {
    fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()
    }
}

#[derive(Debug)]
struct StdMappedFile {
    // An empty file cannot be mapped on every platform; it has no bytes to read anyway.
    map: Option<memmap2::Mmap>,
}

impl MappedFile for StdMappedFile {
    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    #[cfg(unix)]
    fn advise(&self, access: Access) {
        use memmap2::Advice;
        if let Some(map) = &self.map {
            let advice = match access {
                Access::Random => Advice::Random,
                Access::Normal => Advice::Normal,
                Access::Sequential => Advice::Sequential,
            };
            // A hint: if the OS refuses it, reads are as they would have been anyway.
            let _ = map.advise(advice);
        }
    }

    #[cfg(unix)]
    fn will_need(&self, range: std::ops::Range<usize>) {
        if let Some(map) = &self.map {
            if range.start < range.end && range.end <= map.len() {
                // A hint, as above. madvise wants a page-aligned start; memmap2 aligns
                // it down.
                let _ = map.advise_range(memmap2::Advice::WillNeed, range.start, range.len());
            }
        }
    }
}

#[expect(
    unsafe_code,
    reason = "memory-mapping sealed files is what lets a large database open without reading it"
)]
fn map_file(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: Strata maps only sealed files: segment files are written in full, fsynced
    // and published by rename, and are never opened for writing again; they are removed
    // only after every reader has dropped its map. The database directory is locked
    // against other Strata processes. What this cannot rule out is another program
    // truncating the file underneath us, which would fault on access; that is the
    // documented limit of mmap, shared by every mmap-based store.
    unsafe { memmap2::Mmap::map(file) }
}
