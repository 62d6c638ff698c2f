//! `linux_dirent64` records.

use crate::errno::{Errno, SysResult};

/// DT_* from a mode.
pub fn dtype(mode: u32) -> u8 {
    match mode & 0o170000 {
        0o040000 => 4,  // DT_DIR
        0o100000 => 8,  // DT_REG
        0o120000 => 10, // DT_LNK
        0o020000 => 2,  // DT_CHR
        0o060000 => 6,  // DT_BLK
        0o010000 => 1,  // DT_FIFO
        0o140000 => 12, // DT_SOCK
        _ => 0,
    }
}

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

/// Parses records (for merging a host directory's listing).
pub fn parse(buf: &[u8]) -> Vec<(String, u64, u32)> {
    let mut v = Vec::new();
    let mut off = 0;
    while off + 19 <= buf.len() {
        let ino = u64::from_le_bytes(buf[off..off + 8].try_into().unwrap_or([0; 8]));
        let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
        if reclen < 20 || off + reclen > buf.len() {
            break;
        }
        let t = buf[off + 18];
        let name = &buf[off + 19..off + reclen];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        let mode = match t {
            4 => 0o040000,
            8 => 0o100000,
            10 => 0o120000,
            2 => 0o020000,
            6 => 0o060000,
            1 => 0o010000,
            12 => 0o140000,
            _ => 0,
        };
        v.push((String::from_utf8_lossy(name).into_owned(), ino, mode));
        off += reclen;
    }
    v
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
