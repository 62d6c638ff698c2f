//! `struct stat` and `struct statx` as x86-64 Linux lays them out, and the
//! file-type bits of `st_mode`.

/// File type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Symlink.
pub const S_IFLNK: u32 = 0o120000;

/// What `stat` reports (the fields of Linux's `struct stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: (i64, i64),
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Stat {
    /// The x86-64 `struct stat` (144 bytes).
    pub fn to_bytes(&self) -> [u8; 144] {
        let mut b = [0u8; 144];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(0, &self.dev.to_le_bytes());
        put(8, &self.ino.to_le_bytes());
        put(16, &self.nlink.to_le_bytes());
        put(24, &self.mode.to_le_bytes());
        put(28, &self.uid.to_le_bytes());
        put(32, &self.gid.to_le_bytes());
        put(40, &self.rdev.to_le_bytes());
        put(48, &self.size.to_le_bytes());
        put(56, &self.blksize.to_le_bytes());
        put(64, &self.blocks.to_le_bytes());
        put(72, &self.atime.0.to_le_bytes());
        put(80, &self.atime.1.to_le_bytes());
        put(88, &self.mtime.0.to_le_bytes());
        put(96, &self.mtime.1.to_le_bytes());
        put(104, &self.ctime.0.to_le_bytes());
        put(112, &self.ctime.1.to_le_bytes());
        b
    }

    /// `struct statx` (256 bytes) with the basic fields filled in.
    pub fn to_statx(&self) -> [u8; 256] {
        const STATX_BASIC_STATS: u32 = 0x7ff;
        let mut b = [0u8; 256];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(0, &STATX_BASIC_STATS.to_le_bytes());
        put(4, &(self.blksize as u32).to_le_bytes());
        put(16, &(self.nlink as u32).to_le_bytes());
        put(20, &self.uid.to_le_bytes());
        put(24, &self.gid.to_le_bytes());
        put(28, &(self.mode as u16).to_le_bytes());
        put(32, &self.ino.to_le_bytes());
        put(40, &(self.size as u64).to_le_bytes());
        put(48, &(self.blocks as u64).to_le_bytes());
        let ts = |t: (i64, i64)| {
            let mut x = [0u8; 16];
            x[..8].copy_from_slice(&t.0.to_le_bytes());
            x[8..12].copy_from_slice(&(t.1 as u32).to_le_bytes());
            x
        };
        put(64, &ts(self.atime));
        put(96, &ts(self.ctime));
        put(112, &ts(self.mtime));
        put(128, &((self.rdev >> 8) as u32 & 0xfff).to_le_bytes());
        put(132, &((self.rdev & 0xff) as u32).to_le_bytes());
        put(136, &((self.dev >> 8) as u32 & 0xfff).to_le_bytes());
        put(140, &((self.dev & 0xff) as u32).to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout() {
        let s = Stat {
            ino: 7,
            mode: S_IFREG | 0o644,
            size: 1234,
            mtime: (5, 6),
            ..Default::default()
        };
        let b = s.to_bytes();
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 7);
        assert_eq!(
            u32::from_le_bytes(b[24..28].try_into().unwrap()),
            S_IFREG | 0o644
        );
        assert_eq!(i64::from_le_bytes(b[48..56].try_into().unwrap()), 1234);
        assert_eq!(i64::from_le_bytes(b[88..96].try_into().unwrap()), 5);
        let x = s.to_statx();
        assert_eq!(
            u16::from_le_bytes(x[28..30].try_into().unwrap()),
            (S_IFREG | 0o644) as u16
        );
        assert_eq!(u64::from_le_bytes(x[40..48].try_into().unwrap()), 1234);
    }
}
