//! A Maildir drop folder (one per offer): the MTA or a script writes each message into
//! `tmp/` and renames it into `new/`; guichet reads `new/` and, once the message is committed,
//! moves it to `cur/` with the Seen flag. A crash between commit and move only means the
//! message is read again, and the dedupe key makes that a no-op.
//!
//! Every read, listing and rename runs on the blocking pool, as the outbox writes do: a slow
//! or network file system must not hold up the runtime threads the other offers' work runs
//! on. Knows nothing of tickets.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// Runs blocking file work on the blocking pool.
async fn blocking<T, F>(work: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(format!("maildir task failed: {e}"))))
}

impl Maildir {
    /// Opens the folder, creating `new/`, `cur/` and `tmp/` when missing.
    pub async fn open(root: &Path) -> io::Result<Self> {
        let root = root.to_owned();
        blocking(move || {
            // `new/` last: whoever waits for it to deliver (an MDA, a test) writes into
            // `tmp/` first and renames into `new/`, so both must exist once `new/` does.
            for sub in ["tmp", "cur", "new"] {
                std::fs::create_dir_all(root.join(sub))?;
            }
            Ok(Self { root })
        })
        .await
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The messages waiting in `new/`, oldest name first (Maildir names start with the
    /// delivery time). Hidden files are skipped.
    pub async fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let new = self.root.join("new");
        blocking(move || pending_in(&new)).await
    }

    /// Reads a message; `None` when it vanished meanwhile (another instance took it).
    pub async fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let path = path.to_owned();
        blocking(move || match std::fs::read(path) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    /// Moves a message from `new/` to `cur/`, flagged Seen, see `mark_done_in`.
    pub async fn mark_done(&self, path: &Path) -> io::Result<PathBuf> {
        let (path, cur) = (path.to_owned(), self.root.join("cur"));
        blocking(move || mark_done_in(&cur, &path)).await
    }

    /// Writes a message the way an MTA does (into `tmp/`, then renamed into `new/`), for
    /// tools and tests. Returns its path in `new/`. Blocking.
    pub fn deliver(&self, unique: &str, data: &[u8]) -> io::Result<PathBuf> {
        let tmp = self.root.join("tmp").join(unique);
        std::fs::write(&tmp, data)?;
        let new = self.root.join("new").join(unique);
        std::fs::rename(&tmp, &new)?;
        Ok(new)
    }
}

/// The files of `new/`, see [`Maildir::pending`].
fn pending_in(new: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(new)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type()?.is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Moves a message from `new/` to `cur/`, flagged Seen (`:2,S`), keeping the flags it
/// had. Never replaces a file: `X` and `X:2,S` in `new/` are two messages (a client or a
/// copy tool wrote both), so when the name is taken the second gets a unique one
/// (`X.1:2,S`). Linking then unlinking refuses an existing target atomically, where a
/// rename would silently overwrite it.
fn mark_done_in(cur: &Path, path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy();
    let (base, flags) = seen_name(&name);
    for n in 0u32.. {
        let target = match n {
            0 => cur.join(format!("{base}:2,{flags}")),
            n => cur.join(format!("{base}.{n}:2,{flags}")),
        };
        match std::fs::hard_link(path, &target) {
            Ok(()) => {
                std::fs::remove_file(path)?;
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // A file system without hard links: check, then rename (racy only against
            // another process writing into `cur/` at the same instant).
            Err(e) if e.kind() != io::ErrorKind::NotFound && !target.exists() => {
                std::fs::rename(path, &target)?;
                return Ok(target);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name in cur/"))
}

/// Splits a Maildir name into its unique part and its flags with Seen added, in ASCII order
/// as the Maildir specification wants (`X:2,RS`). Info other than `2,` (experimental
/// semantics, unused in practice) is dropped.
fn seen_name(name: &str) -> (&str, String) {
    let (base, info) = name.split_once(':').unwrap_or((name, ""));
    let mut flags: Vec<char> = info
        .strip_prefix("2,")
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphabetic)
        .chain(['S'])
        .collect();
    flags.sort_unstable();
    flags.dedup();
    (base, flags.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivered_messages_are_pending_until_marked_done() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(&dir.path().join("SMSU")).await.unwrap();
        md.deliver("2.b", b"second").unwrap();
        md.deliver("1.a", b"first").unwrap();
        std::fs::write(md.root().join("new/.hidden"), b"x").unwrap();
        let pending = md.pending().await.unwrap();
        let names: Vec<_> = pending
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["1.a", "2.b"]);
        assert_eq!(md.read(&pending[0]).await.unwrap().unwrap(), b"first");
        let done = md.mark_done(&pending[0]).await.unwrap();
        assert!(done.ends_with("cur/1.a:2,S"));
        assert_eq!(std::fs::read(done).unwrap(), b"first");
        assert_eq!(md.read(&pending[0]).await.unwrap(), None, "moved away");
        assert_eq!(md.pending().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn same_base_name_with_and_without_flags_are_both_kept() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(&dir.path().join("SMSU")).await.unwrap();
        md.deliver("1.x", b"plain").unwrap();
        md.deliver("1.x:2,S", b"flagged").unwrap();
        md.deliver("1.x:2,RF", b"replied").unwrap();
        let mut done = Vec::new();
        for p in md.pending().await.unwrap() {
            done.push(md.mark_done(&p).await.unwrap());
        }
        done.sort();
        let names: Vec<_> = done
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["1.x.1:2,S", "1.x:2,FRS", "1.x:2,S"]);
        let mut contents: Vec<Vec<u8>> = done.iter().map(|p| std::fs::read(p).unwrap()).collect();
        contents.sort();
        assert_eq!(
            contents,
            [b"flagged".to_vec(), b"plain".to_vec(), b"replied".to_vec()]
        );
        assert!(md.pending().await.unwrap().is_empty());
    }
}
