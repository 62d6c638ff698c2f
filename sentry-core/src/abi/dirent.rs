//! `linux_dirent64` records.

use crate::errno::{Errno, SysResult};

// The mode ↔ d_type mapping and the parser are shared with the gofer
// (which lists host directories): one definition, in vfs-gofer.
/// DT_* from a mode; records (name, inode, mode) parsed from a
/// `getdents64` buffer (for merging a host directory's listing).
pub use vfs_gofer::abi::{dtype, parse_dirents as parse};

/// Writes records for `entries[*pos..]` (name, inode, mode) into `buf`,
/// advancing `pos`; EINVAL if not even one fits.
pub fn fill(buf: &mut [u8], entries: &[(String, u64, u32)], pos: &mut u64) -> SysResult<usize> {
    let mut off = 0;
    while let Some((name, ino, mode)) = entries.get(*pos as usize) {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if off + reclen > buf.len() {
            if off == 0 {
                return Err(Errno::EINVAL);
            }
            break;
        }
        let r = &mut buf[off..off + reclen];
        r.fill(0);
        r[0..8].copy_from_slice(&ino.to_le_bytes());
        r[8..16].copy_from_slice(&(*pos + 1).to_le_bytes());
        r[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
        r[18] = dtype(*mode);
        r[19..19 + name.len()].copy_from_slice(name.as_bytes());
        off += reclen;
        *pos += 1;
    }
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = vec![
            ("a".to_string(), 5, 0o100644),
            ("dir".to_string(), 6, 0o040755),
        ];
        let mut buf = [0u8; 256];
        let mut pos = 0;
        let n = fill(&mut buf, &e, &mut pos).unwrap();
        assert_eq!(pos, 2);
        assert_eq!(
            parse(&buf[..n]),
            vec![("a".into(), 5, 0o100000), ("dir".into(), 6, 0o040000)]
        );
        let mut tiny = [0u8; 8];
        let mut pos = 0;
        assert_eq!(fill(&mut tiny, &e, &mut pos), Err(Errno::EINVAL));
    }
}
