//! Messages (prost, no .proto file: the structs are the schema).

/// Operations.
pub mod op {
    /// lstat of a path.
    pub const LSTAT: u32 = 1;
    /// readlink.
    pub const READLINK: u32 = 2;
    /// Open read-only; the fd is donated.
    pub const OPEN: u32 = 3;
    /// List a directory.
    pub const LIST: u32 = 4;
    /// Create a directory (`mode`).
    pub const MKDIR: u32 = 5;
    /// Remove a name (`flags`: AT_REMOVEDIR for a directory).
    pub const UNLINK: u32 = 6;
    /// Rename `path` to `path2` (`flags`: renameat2's).
    pub const RENAME: u32 = 7;
    /// Create a symlink at `path` pointing to `data`.
    pub const SYMLINK: u32 = 8;
    /// Hard-link `path` as `path2`.
    pub const LINK: u32 = 9;
    /// Change attributes of a regular file or directory (`set` bits).
    pub const SETATTR: u32 = 10;
}

/// SETATTR: which attributes to set.
pub mod set {
    /// `mode`.
    pub const MODE: u32 = 1;
    /// `uid`/`gid` (u32::MAX leaves one unchanged).
    pub const OWNER: u32 = 2;
    /// `size`.
    pub const SIZE: u32 = 4;
    /// `times` (atime sec, nsec, mtime sec, nsec; UTIME_OMIT/UTIME_NOW).
    pub const TIMES: u32 = 8;
}

/// Message ids in the frame header.
pub mod id {
    /// A request.
    pub const REQUEST: u16 = 1;
    /// A response.
    pub const RESPONSE: u16 = 2;
}

/// A request: `op` on `path` (canonical, relative to the server's root,
/// "" for the root itself).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// Operation (see [`op`]).
    #[prost(uint32, tag = "1")]
    pub op: u32,
    /// Path.
    #[prost(string, tag = "2")]
    pub path: String,
    /// Open, unlink or rename flags.
    #[prost(uint32, tag = "3")]
    pub flags: u32,
    /// Mode for a create, MKDIR, SETATTR.
    #[prost(uint32, tag = "4")]
    pub mode: u32,
    /// Second path (RENAME, LINK).
    #[prost(string, tag = "5")]
    pub path2: String,
    /// Symlink target.
    #[prost(bytes = "vec", tag = "6")]
    pub data: Vec<u8>,
    /// SETATTR: which fields (see [`set`]).
    #[prost(uint32, tag = "7")]
    pub set: u32,
    /// SETATTR owner.
    #[prost(uint32, tag = "8")]
    pub uid: u32,
    /// SETATTR group.
    #[prost(uint32, tag = "9")]
    pub gid: u32,
    /// SETATTR size.
    #[prost(uint64, tag = "10")]
    pub size: u64,
    /// SETATTR times.
    #[prost(int64, repeated, tag = "11")]
    pub times: Vec<i64>,
}

/// A file's attributes.
#[derive(Clone, PartialEq, prost::Message)]
#[allow(missing_docs)]
pub struct Attr {
    #[prost(uint64, tag = "1")]
    pub dev: u64,
    #[prost(uint64, tag = "2")]
    pub ino: u64,
    #[prost(uint64, tag = "3")]
    pub nlink: u64,
    #[prost(uint32, tag = "4")]
    pub mode: u32,
    #[prost(uint32, tag = "5")]
    pub uid: u32,
    #[prost(uint32, tag = "6")]
    pub gid: u32,
    #[prost(uint64, tag = "7")]
    pub rdev: u64,
    #[prost(int64, tag = "8")]
    pub size: i64,
    #[prost(int64, tag = "9")]
    pub blksize: i64,
    #[prost(int64, tag = "10")]
    pub blocks: i64,
    #[prost(int64, repeated, tag = "11")]
    pub times: Vec<i64>,
}

/// A directory entry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Inode.
    #[prost(uint64, tag = "2")]
    pub ino: u64,
    /// File type bits.
    #[prost(uint32, tag = "3")]
    pub mode: u32,
}

/// A response: an errno (0 = success) and what the operation returns.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    /// 0 or a positive errno.
    #[prost(int32, tag = "1")]
    pub errno: i32,
    /// LSTAT, OPEN.
    #[prost(message, optional, tag = "2")]
    pub attr: Option<Attr>,
    /// READLINK.
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
    /// LIST.
    #[prost(message, repeated, tag = "4")]
    pub entries: Vec<Entry>,
}
