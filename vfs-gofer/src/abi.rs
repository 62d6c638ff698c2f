//! Pieces of Linux's file ABI that the gofer and the sentry's VFS both need:
//! the file type of a mode as a `d_type` and back, `linux_dirent64` records
//! as the host's `getdents64` writes them, and a host `struct stat` as the
//! protocol's [`Attr`]. Constants come from the `libc` crate.

use crate::proto::Attr;

/// `DT_*` of a mode's file type bits (`DT_UNKNOWN` for none).
pub fn dtype(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFREG => libc::DT_REG,
        libc::S_IFLNK => libc::DT_LNK,
        libc::S_IFCHR => libc::DT_CHR,
        libc::S_IFBLK => libc::DT_BLK,
        libc::S_IFIFO => libc::DT_FIFO,
        libc::S_IFSOCK => libc::DT_SOCK,
        _ => libc::DT_UNKNOWN,
    }
}

/// The file type bits of a `DT_*` (0 for `DT_UNKNOWN` and anything else).
pub fn mode_of_dtype(t: u8) -> u32 {
    match t {
        libc::DT_DIR => libc::S_IFDIR,
        libc::DT_REG => libc::S_IFREG,
        libc::DT_LNK => libc::S_IFLNK,
        libc::DT_CHR => libc::S_IFCHR,
        libc::DT_BLK => libc::S_IFBLK,
        libc::DT_FIFO => libc::S_IFIFO,
        libc::DT_SOCK => libc::S_IFSOCK,
        _ => 0,
    }
}

/// Parses `linux_dirent64` records (a host `getdents64` result) into (name,
/// inode, file type bits), `.` and `..` included. A record that does not fit
/// ends the parse.
pub fn parse_dirents(buf: &[u8]) -> Vec<(String, u64, u32)> {
    let mut v = Vec::new();
    let mut off = 0usize;
    while off + 19 <= buf.len() {
        let ino = u64::from_le_bytes(buf[off..off + 8].try_into().unwrap_or([0; 8]));
        let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
        if reclen < 20 || off + reclen > buf.len() {
            break;
        }
        let t = buf[off + 18];
        let raw = &buf[off + 19..off + reclen];
        let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
        let name = String::from_utf8_lossy(name).into_owned();
        v.push((name, ino, mode_of_dtype(t)));
        off += reclen;
    }
    v
}

/// A host `struct stat` as the protocol carries it.
pub fn attr(st: &libc::stat) -> Attr {
    Attr {
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize,
        blocks: st.st_blocks,
        times: vec![
            st.st_atime,
            st.st_atime_nsec,
            st.st_mtime,
            st.st_mtime_nsec,
            st.st_ctime,
            st.st_ctime_nsec,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_round_trips_every_file_type() {
        for (mode, t) in [
            (0o040755, 4),
            (0o100644, 8),
            (0o120777, 10),
            (0o020666, 2),
            (0o060660, 6),
            (0o010600, 1),
            (0o140755, 12),
        ] {
            assert_eq!(dtype(mode), t);
            assert_eq!(mode_of_dtype(t), mode & 0o170000);
        }
        assert_eq!(dtype(0o644), 0);
        assert_eq!(mode_of_dtype(0), 0);
        assert_eq!(mode_of_dtype(200), 0);
    }

    /// Records written by hand, one cut short: parsed up to the cut.
    #[test]
    fn parses_records_and_stops_at_a_short_one() {
        let rec = |ino: u64, t: u8, name: &str| {
            let len = (19 + name.len() + 1).next_multiple_of(8);
            let mut r = vec![0u8; len];
            r[0..8].copy_from_slice(&ino.to_le_bytes());
            r[16..18].copy_from_slice(&(len as u16).to_le_bytes());
            r[18] = t;
            r[19..19 + name.len()].copy_from_slice(name.as_bytes());
            r
        };
        let mut buf = rec(1, 4, ".");
        buf.extend(rec(7, 8, "file"));
        buf.extend(rec(9, 10, "link"));
        let whole = buf.len();
        buf.extend(rec(11, 8, "cut"));
        let got = parse_dirents(&buf[..buf.len() - 1]);
        assert_eq!(
            got,
            vec![
                (".".to_string(), 1, 0o040000),
                ("file".to_string(), 7, 0o100000),
                ("link".to_string(), 9, 0o120000),
            ]
        );
        assert_eq!(parse_dirents(&buf[..whole]), got);
        assert!(parse_dirents(&[0u8; 18]).is_empty());
    }

    #[test]
    fn attr_of_a_host_stat() {
        // SAFETY: a zeroed stat is a valid out-buffer; lstat of a path that exists.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above; the path is a NUL-terminated literal.
        let rc = unsafe { libc::lstat(c"/".as_ptr(), &mut st) };
        assert_eq!(rc, 0);
        let a = attr(&st);
        assert_eq!(a.mode & libc::S_IFMT, libc::S_IFDIR);
        assert_eq!(a.ino, st.st_ino);
        assert_eq!(a.times.len(), 6);
    }
}
