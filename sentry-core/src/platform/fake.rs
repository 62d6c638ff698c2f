//! A platform that records mappings and runs nothing: for unit tests of the
//! memory manager and the syscalls that do not need to run app code.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{AddressSpace, Context, MemoryFile, Perms, Platform, PlatformError};

/// A fake platform over a real (memfd) memory file.
pub struct FakePlatform {
    mem: Arc<MemoryFile>,
}

impl FakePlatform {
    /// With a memory file of `size` bytes.
    pub fn new(size: u64) -> Result<Self, PlatformError> {
        let mem = MemoryFile::new(size).map_err(|e| {
            PlatformError::Unsupported(format!("memory file for the fake platform: {e}"))
        })?;
        Ok(FakePlatform { mem: Arc::new(mem) })
    }
}

/// Records the current mapping of each page.
#[derive(Default)]
pub struct FakeAddressSpace {
    /// page va → (file offset, perms)
    pub pages: Mutex<BTreeMap<u64, (u64, Perms)>>,
    /// Number of map calls (fault-around batches count once).
    pub map_calls: Mutex<usize>,
}

impl FakeAddressSpace {
    /// The mapping of `va`'s page.
    pub fn lookup(&self, va: u64) -> Option<(u64, Perms)> {
        self.pages.lock().ok()?.get(&(va & !0xfff)).copied()
    }
}

impl AddressSpace for FakeAddressSpace {
    fn map(&self, va: u64, file_off: u64, len: u64, perms: Perms) -> Result<(), PlatformError> {
        let mut p = self
            .pages
            .lock()
            .map_err(|_| PlatformError::Unsupported("poisoned".into()))?;
        *self
            .map_calls
            .lock()
            .map_err(|_| PlatformError::Unsupported("poisoned".into()))? += 1;
        for i in (0..len).step_by(4096) {
            p.insert(va + i, (file_off + i, perms));
        }
        Ok(())
    }
    fn map_pages(&self, pages: &[(u64, u64)], perms: Perms) -> Result<(), PlatformError> {
        let mut p = self
            .pages
            .lock()
            .map_err(|_| PlatformError::Unsupported("poisoned".into()))?;
        *self
            .map_calls
            .lock()
            .map_err(|_| PlatformError::Unsupported("poisoned".into()))? += 1;
        for &(va, off) in pages {
            p.insert(va, (off, perms));
        }
        Ok(())
    }
    fn protect(&self, va: u64, len: u64, perms: Perms) -> Result<(), PlatformError> {
        let mut p = self
            .pages
            .lock()
            .map_err(|_| PlatformError::Unsupported("poisoned".into()))?;
        for (_, v) in p.range_mut(va..va + len) {
            v.1 = perms;
        }
        Ok(())
    }
    fn unmap(&self, va: u64, len: u64) -> Result<(), PlatformError> {
        let mut p = self
            .pages
            .lock()
            .map_err(|_| PlatformError::Unsupported("poisoned".into()))?;
        let keys: Vec<u64> = p.range(va..va + len).map(|(k, _)| *k).collect();
        for k in keys {
            p.remove(&k);
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Platform for FakePlatform {
    fn describe(&self) -> String {
        "fake".into()
    }
    fn memory(&self) -> &Arc<MemoryFile> {
        &self.mem
    }
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        Ok(Arc::new(FakeAddressSpace::default()))
    }
    fn new_context(&self) -> Result<Box<dyn Context>, PlatformError> {
        Err(PlatformError::Unsupported(
            "the fake platform cannot run app code".into(),
        ))
    }
}
