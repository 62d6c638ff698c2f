//! Pseudo-terminals: /dev/ptmx masters, /dev/pts/N slaves, /dev/tty, and
//! the line discipline between them.
//!
//! Bytes written to the master are input: they go through input processing
//! (ICRNL, INLCR, IGNCR, ISTRIP), signal characters (ISIG: INTR, QUIT, SUSP
//! go to the foreground process group), canonical line editing (ICANON:
//! ERASE, WERASE, KILL, EOF, EOL) and echo (ECHO, ECHOE, ECHOK, ECHOKE,
//! ECHOCTL, ECHONL) before the slave can read them. Bytes written to the
//! slave are output: OPOST with ONLCR and OCRNL, then the master reads them.
//! Non-canonical reads honour VMIN and VTIME.
//!
//! A slave opened by a session leader without a controlling terminal (and
//! without O_NOCTTY), or given by TIOCSCTTY, becomes its session's
//! controlling terminal: /dev/tty opens it, TIOCSPGRP picks the foreground
//! group, and a background group reading it gets SIGTTIN (writing it with
//! TOSTOP, SIGTTOU). Closing the last master hangs the terminal up: SIGHUP
//! and SIGCONT to the foreground group, slave reads return 0 and writes EIO.
//!
//! The pieces: the termios ABI is [`crate::abi::termios`]; `ldisc` is the
//! line discipline, `pty` a terminal pair and the registry of them, `ioctl`
//! the terminal ioctls, `file` the master and slave open files.

use std::sync::{Mutex, MutexGuard};

mod file;
mod ioctl;
mod ldisc;
mod pty;

pub use crate::abi::termios::Termios;
pub use file::{dev_stat, pts_stat, Master, Slave};
pub use pty::{Pty, PtyRegistry};

/// Most pseudo-terminals at once (/proc/sys/kernel/pty/max is larger; this
/// bounds what one sandbox can allocate).
pub const MAX_PTYS: u32 = 1024;
/// Major device number of slaves.
pub const PTS_MAJOR: u64 = 136;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks completes before the guard drops.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::abi::termios::{ECHO, ICANON};
    use crate::errno::Errno;
    #[allow(unused_imports)]
    use crate::vfs::Detached;
    use crate::vfs::FileDescription;

    fn pair() -> (Arc<dyn FileDescription>, Arc<dyn FileDescription>) {
        let reg = Arc::new(PtyRegistry::default());
        let m = reg.open_master(&Detached, libc::O_RDWR as u32).unwrap();
        let pty = reg.get(0).unwrap();
        assert_eq!(
            pty.open_slave(&Detached, libc::O_RDWR as u32).err(),
            Some(Errno::EIO),
            "locked until unlockpt"
        );
        pty.lock().locked = false;
        let s = pty.open_slave(&Detached, libc::O_RDWR as u32).unwrap();
        // Keep the registry alive through the pty's weak pointer.
        std::mem::forget(reg);
        (m, s)
    }

    fn read_all(f: &Arc<dyn FileDescription>) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let n = f.read(&Detached, &mut b).unwrap();
        b.truncate(n);
        b
    }

    #[test]
    fn canonical_input_echo_and_output() {
        let (m, s) = pair();
        m.write(&Detached, b"ab\x7fc\r").unwrap();
        assert_eq!(read_all(&s), b"ac\n", "erase and ICRNL");
        assert_eq!(
            read_all(&m),
            b"ab\x08 \x08c\r\n",
            "echo with ECHOE and ONLCR"
        );
        s.write(&Detached, b"out\n").unwrap();
        assert_eq!(read_all(&m), b"out\r\n");
        m.write(&Detached, b"x\x04").unwrap();
        assert_eq!(read_all(&s), b"x", "EOF ends a line without itself");
        m.write(&Detached, b"\x04").unwrap();
        assert_eq!(read_all(&s), b"", "EOF on an empty line reads 0");
        let _ = read_all(&m);
        m.write(&Detached, b"one two\x17three\x15four\n").unwrap();
        assert_eq!(read_all(&s), b"four\n", "WERASE then KILL");
    }

    #[test]
    fn raw_mode_and_hangup() {
        let (m, s) = pair();
        let pty = match s.as_any().downcast_ref::<Slave>() {
            Some(sl) => sl.pty.clone(),
            None => panic!("not a slave"),
        };
        {
            let mut st = pty.lock();
            let mut t = st.termios;
            t.lflag &= !(ICANON | ECHO);
            st.set_termios(t);
        }
        m.write(&Detached, b"q").unwrap();
        assert_eq!(read_all(&s), b"q", "no line needed");
        assert_eq!(m.readiness() & libc::POLLIN as u32, 0, "no echo");
        drop(m);
        assert_eq!(read_all(&s), b"", "hung up: EOF");
        assert_eq!(s.write(&Detached, b"x"), Err(Errno::EIO));
    }

    #[test]
    fn master_read_after_slave_close_is_eio() {
        let (m, s) = pair();
        drop(s);
        let mut b = [0u8; 4];
        assert_eq!(m.read(&Detached, &mut b), Err(Errno::EIO));
    }
}
