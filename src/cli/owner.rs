//! Files left to root: a command run as root in a data directory that belongs to the service
//! user gives back what it created. Touches only the files guichet manages, by fixed name.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// The effective uid, from the owner of `/proc/self` (proc(5): the process's effective user),
/// which needs neither `unsafe` nor a libc binding.
fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// An administrator who runs `guichet migrate` (or any command) as root on a data directory
/// that belongs to the service user would leave root's files in it: a new SQLite database,
/// its `-wal`/`-shm`, the outbox and Maildir folders, which the daemon and the MTA's pipe (user
/// `guichet`) then cannot write, so every delivery fails. Give what root owns among the files
/// guichet manages back to the directory's owner, and say so. Nothing else is touched: not
/// the templates, not what the administrator put there; nothing at all when the data
/// directory itself is root's (guichet then runs as root, or the directory is not set up
/// yet: deploy/postfix.md says to create it first).
pub(super) fn give_back_to_data_dir_owner(config: &Config) {
    use std::os::unix::fs::MetadataExt as _;
    if effective_uid() != Some(0) {
        return;
    }
    let data_dir = &config.daemon.data_dir;
    let Ok(meta) = std::fs::metadata(data_dir) else {
        return;
    };
    let (uid, gid) = (meta.uid(), meta.gid());
    if uid == 0 {
        return;
    }
    let mut managed: Vec<PathBuf> = Vec::new();
    // A path inside the data directory, and the folders between them.
    let with_parents = |path: &Path| -> Vec<PathBuf> {
        let Ok(inside) = path.strip_prefix(data_dir) else {
            return Vec::new();
        };
        let mut p = data_dir.clone();
        inside
            .components()
            .map(|part| {
                p.push(part);
                p.clone()
            })
            .collect()
    };
    if let Some(db) = config.sqlite_path() {
        managed.extend(with_parents(&db));
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            managed.push(PathBuf::from(name));
        }
    }
    // The outbox folder, not the files in it: listing a folder the service user controls
    // could follow a link it planted there (`outbox -> /etc`), and root would then give away
    // what the link points to. The daemon only needs to write new files in it.
    managed.extend(with_parents(&config.mail.outbox_dir));
    for offer in config
        .offers
        .iter()
        .filter(|o| o.maildir.starts_with(data_dir))
    {
        managed.extend(with_parents(&offer.maildir));
        for sub in ["new", "cur", "tmp"] {
            managed.push(offer.maildir.join(sub));
        }
    }
    managed.sort();
    managed.dedup();
    let mut given = Vec::new();
    // Every name is fixed (no listing), and none is reached through a symbolic link: a link
    // the service user put in place of a folder could otherwise make root's chown land
    // outside the data directory.
    let through_link = |path: &Path| {
        path.strip_prefix(data_dir).is_ok_and(|inside| {
            let mut p = data_dir.clone();
            let parts: Vec<_> = inside.components().collect();
            parts[..parts.len().saturating_sub(1)].iter().any(|part| {
                p.push(part);
                std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink())
            })
        })
    };
    for path in managed {
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.uid() == 0);
        if !ours || through_link(&path) {
            continue;
        }
        match std::os::unix::fs::lchown(&path, Some(uid), Some(gid)) {
            Ok(()) => given.push(path),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "guichet: warning: ran as root, cannot give {} to uid {uid}: {e}",
                    path.display()
                );
            }
        }
    }
    if given.is_empty() {
        return;
    }
    let names: Vec<String> = given
        .iter()
        .take(5)
        .map(|p| p.strip_prefix(data_dir).unwrap_or(p).display().to_string())
        .collect();
    let more = given.len().saturating_sub(names.len());
    let _ = writeln!(
        std::io::stderr(),
        "guichet: ran as root: gave {}{} in {} to its owner (uid {uid}, gid {gid}) so that \
         guichet can write them",
        names.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        data_dir.display()
    );
}
