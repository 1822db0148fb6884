//! A Maildir drop folder (one per offer): the MTA or a script writes each message into
//! `tmp/` and renames it into `new/`; guichet reads `new/` and, once the message is committed,
//! moves it to `cur/` with the Seen flag. A crash between commit and move only means the
//! message is read again, and the dedupe key makes that a no-op.

use std::io;
use std::path::{Path, PathBuf};

pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Opens the folder, creating `new/`, `cur/` and `tmp/` when missing.
    pub fn open(root: &Path) -> io::Result<Self> {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The messages waiting in `new/`, oldest name first (Maildir names start with the
    /// delivery time). Hidden files are skipped.
    pub fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("new"))? {
            let entry = entry?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type()?.is_file() {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Moves a message from `new/` to `cur/`, flagged Seen (`:2,S`).
    pub fn mark_done(&self, path: &Path) -> io::Result<PathBuf> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
            .to_string_lossy();
        let base = name.split_once(":2,").map_or(name.as_ref(), |(b, _)| b);
        let target = self.root.join("cur").join(format!("{base}:2,S"));
        std::fs::rename(path, &target)?;
        Ok(target)
    }

    /// Writes a message the way an MTA does (into `tmp/`, then renamed into `new/`), for
    /// tools and tests. Returns its path in `new/`.
    pub fn deliver(&self, unique: &str, data: &[u8]) -> io::Result<PathBuf> {
        let tmp = self.root.join("tmp").join(unique);
        std::fs::write(&tmp, data)?;
        let new = self.root.join("new").join(unique);
        std::fs::rename(&tmp, &new)?;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_messages_are_pending_until_marked_done() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(&dir.path().join("SMSU")).unwrap();
        md.deliver("2.b", b"second").unwrap();
        md.deliver("1.a", b"first").unwrap();
        std::fs::write(md.root().join("new/.hidden"), b"x").unwrap();
        let pending = md.pending().unwrap();
        let names: Vec<_> = pending
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["1.a", "2.b"]);
        let done = md.mark_done(&pending[0]).unwrap();
        assert!(done.ends_with("cur/1.a:2,S"));
        assert_eq!(std::fs::read(done).unwrap(), b"first");
        assert_eq!(md.pending().unwrap().len(), 1);
    }
}
