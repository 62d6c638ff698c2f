//! The line discipline: input processing, signal characters, canonical
//! line editing and echo on the way to the slave; output processing on the
//! way to the master.

use std::collections::VecDeque;

use crate::abi::termios::*;

/// Canonical line and non-canonical queue limit (N_TTY_BUF_SIZE).
pub(super) const INPUT_MAX: usize = 4096;
/// Output queue limit: slave writes wait when it is full.
pub(super) const OUTPUT_MAX: usize = 64 << 10;

pub(super) struct State {
    pub(super) termios: Termios,
    pub(super) winsize: [u8; 8],
    /// Slave output waiting for the master.
    pub(super) output: VecDeque<u8>,
    /// Canonical mode: finished lines (an empty one is an end-of-file).
    pub(super) lines: VecDeque<Vec<u8>>,
    /// Canonical mode: the line being edited.
    pub(super) line: Vec<u8>,
    /// Non-canonical input.
    pub(super) raw: VecDeque<u8>,
    pub(super) masters: usize,
    pub(super) slaves: usize,
    pub(super) slave_opened: bool,
    pub(super) locked: bool,
    /// Session it is the controlling terminal of (0: none).
    pub(super) sid: i32,
    /// Foreground process group.
    pub(super) fg: i32,
}

fn is_ctl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl State {
    pub(super) fn canonical(&self) -> bool {
        self.termios.lflag & ICANON != 0
    }

    /// Output processing into the master's queue.
    pub(super) fn put_output(&mut self, c: u8) {
        let t = self.termios;
        if t.oflag & OPOST != 0 {
            if c == b'\n' && t.oflag & ONLCR != 0 {
                self.output.push_back(b'\r');
            } else if c == b'\r' && t.oflag & OCRNL != 0 {
                self.output.push_back(b'\n');
                return;
            }
        }
        self.output.push_back(c);
    }

    /// Echo of an input character (within the output limit).
    pub(super) fn echo(&mut self, c: u8) {
        if self.output.len() >= OUTPUT_MAX {
            return;
        }
        let l = self.termios.lflag;
        if l & ECHOCTL != 0 && is_ctl(c) && c != b'\n' && c != b'\t' {
            self.output.push_back(b'^');
            self.output.push_back(c ^ 0x40);
        } else {
            self.put_output(c);
        }
    }

    pub(super) fn erase_echo(&mut self, c: u8) {
        let n = if is_ctl(c) && self.termios.lflag & ECHOCTL != 0 && c != b'\t' {
            2
        } else {
            1
        };
        for _ in 0..n {
            self.output.extend(b"\x08 \x08");
        }
    }

    pub(super) fn flush_input(&mut self) {
        self.lines.clear();
        self.line.clear();
        self.raw.clear();
    }

    pub(super) fn input_len(&self) -> usize {
        if self.canonical() {
            self.lines.iter().map(Vec::len).sum()
        } else {
            self.raw.len()
        }
    }

    /// Processes one input character; returns a signal for the foreground
    /// group, if the character generates one.
    pub(super) fn input(&mut self, mut c: u8) -> Option<u32> {
        let t = self.termios;
        if t.iflag & ISTRIP != 0 {
            c &= 0x7f;
        }
        if c == b'\r' {
            if t.iflag & IGNCR != 0 {
                return None;
            }
            if t.iflag & ICRNL != 0 {
                c = b'\n';
            }
        } else if c == b'\n' && t.iflag & INLCR != 0 {
            c = b'\r';
        }
        let cc = |i: usize| t.cc[i] != 0 && t.cc[i] == c;
        if t.lflag & ISIG != 0 {
            let sig = if cc(VINTR) {
                Some(libc::SIGINT)
            } else if cc(VQUIT) {
                Some(libc::SIGQUIT)
            } else if cc(VSUSP) {
                Some(libc::SIGTSTP)
            } else {
                None
            };
            if let Some(s) = sig {
                if t.lflag & NOFLSH == 0 {
                    self.flush_input();
                }
                if t.lflag & ECHO != 0 {
                    self.echo(c);
                }
                return Some(s as u32);
            }
        }
        let echo = t.lflag & ECHO != 0;
        if !self.canonical() {
            if self.raw.len() < INPUT_MAX {
                self.raw.push_back(c);
            }
            if echo {
                self.echo(c);
            }
            return None;
        }
        if cc(VERASE) {
            if let Some(gone) = self.line.pop() {
                if echo && t.lflag & ECHOE != 0 {
                    self.erase_echo(gone);
                }
            }
        } else if cc(VWERASE) {
            while self.line.last().is_some_and(|&b| b == b' ' || b == b'\t') {
                let g = self.line.pop().unwrap_or(b' ');
                if echo && t.lflag & ECHOE != 0 {
                    self.erase_echo(g);
                }
            }
            while self.line.last().is_some_and(|&b| b != b' ' && b != b'\t') {
                let g = self.line.pop().unwrap_or(b' ');
                if echo && t.lflag & ECHOE != 0 {
                    self.erase_echo(g);
                }
            }
        } else if cc(VKILL) {
            if echo && t.lflag & ECHOKE != 0 {
                let line = std::mem::take(&mut self.line);
                for g in line.into_iter().rev() {
                    self.erase_echo(g);
                }
            } else {
                self.line.clear();
                if echo {
                    self.echo(c);
                    if t.lflag & ECHOK != 0 {
                        self.put_output(b'\n');
                    }
                }
            }
        } else if cc(VEOF) {
            let line = std::mem::take(&mut self.line);
            self.lines.push_back(line);
        } else if c == b'\n' || cc(VEOL) || cc(VEOL2) {
            let mut line = std::mem::take(&mut self.line);
            line.push(c);
            self.lines.push_back(line);
            if echo || (c == b'\n' && t.lflag & ECHONL != 0) {
                self.echo(c);
            }
        } else if self.line.len() < INPUT_MAX - 1 {
            self.line.push(c);
            if echo {
                self.echo(c);
            }
        }
        None
    }

    /// Switches between canonical and raw input as Linux keeps it: what was
    /// typed stays readable.
    pub(super) fn set_termios(&mut self, new: Termios) {
        let was = self.canonical();
        self.termios = new;
        if was && !self.canonical() {
            let lines = std::mem::take(&mut self.lines);
            for l in lines {
                self.raw.extend(l);
            }
            let line = std::mem::take(&mut self.line);
            self.raw.extend(line);
        } else if !was && self.canonical() {
            let raw: Vec<u8> = self.raw.drain(..).collect();
            self.line.extend(raw);
        }
    }
}
