//! The studio's files: which names it touches and how it opens them.
//!
//! A name is `^[A-Za-z0-9_-]+\.(toml|chat)$` (a bot id is the part before the
//! dot); nothing else is read, written or listed. A file is opened without
//! following a symbolic link (`O_NOFOLLOW`), and a name that is a symbolic link
//! (dangling or not) is refused before it is opened, so no write lands outside
//! the directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// `^[A-Za-z0-9_-]+$`: a bot id the studio names (the stem of its file).
pub fn is_id(id: &str) -> bool {
    crate::transcript::is_plain_id(id)
}

/// `^[A-Za-z0-9_-]+\.(toml|chat)$`: a file the studio reads or writes.
pub fn is_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((stem, "toml" | "chat")) => is_id(stem),
        _ => false,
    }
}

/// Why a name is refused, for the error the caller reports.
pub fn name_rule() -> &'static str {
    "the studio reads and writes only files named like `name.toml` or `name.chat` (letters, digits, `_` and `-`) directly inside its directory"
}

fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

fn refuse_link(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it is a symbolic link, which the studio does not follow",
        )),
        Ok(m) if !m.is_file() => Err(io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `ELOOP` from `O_NOFOLLOW`: the name became a symbolic link after it was checked.
fn link_refused(e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it is a symbolic link, which the studio does not follow",
        );
    }
    e
}

/// The path of `name` in `dir`, or `None` when the name breaks the rule.
pub fn path_in(dir: &Path, name: &str) -> Option<PathBuf> {
    is_name(name).then(|| dir.join(name))
}

/// Reads `name` in `dir` as UTF-8, never through a symbolic link.
pub fn read(dir: &Path, name: &str) -> io::Result<String> {
    let path = path_in(dir, name).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, name_rule()))?;
    refuse_link(&path)?;
    let mut file: File = no_follow(OpenOptions::new().read(true))
        .open(&path)
        .map_err(link_refused)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file"));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Writes `text` to `name` in `dir` (created or replaced), never through a symbolic link.
pub fn write(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    let path = path_in(dir, name).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, name_rule()))?;
    refuse_link(&path)?;
    // Between the check and the open a link may appear: `O_NOFOLLOW` refuses it then.
    let mut file = no_follow(OpenOptions::new().write(true).create(true).truncate(true))
        .open(&path)
        .map_err(link_refused)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// The names in `dir` that follow the rule, end in `.extension` and are regular files
/// (not symbolic links), sorted.
pub fn list(dir: &Path, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_name(n) && n.rsplit_once('.').is_some_and(|(_, x)| x == extension))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in ["demo.toml", "a-b_C9.chat", "x.toml"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in [
            ".toml",
            "demo.txt",
            "demo.toml.bak",
            "../x.toml",
            "a/b.toml",
            "a b.toml",
            "\" src=x onerror=\"alert(1)\" a=\".toml",
            "démo.toml",
            "demo.TOML",
            "demo",
            "",
            ".hidden.toml",
        ] {
            assert!(!is_name(bad), "{bad}");
        }
        assert!(is_id("demo") && !is_id("../x") && !is_id("") && !is_id("a.b"));
    }

    #[cfg(unix)]
    #[test]
    fn links_are_neither_read_nor_written() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("bots");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(root.path().join("outside.toml"), "outside").unwrap();
        std::os::unix::fs::symlink(root.path().join("outside.toml"), dir.join("link.toml")).unwrap();
        std::os::unix::fs::symlink(root.path().join("new.toml"), dir.join("dangling.toml")).unwrap();
        assert!(read(&dir, "link.toml").is_err());
        assert!(write(&dir, "link.toml", "x").is_err());
        assert!(write(&dir, "dangling.toml", "x").is_err());
        assert!(!root.path().join("new.toml").exists());
        assert_eq!(
            std::fs::read_to_string(root.path().join("outside.toml")).unwrap(),
            "outside"
        );
        write(&dir, "plain.toml", "text").unwrap();
        assert_eq!(read(&dir, "plain.toml").unwrap(), "text");
        std::fs::write(dir.join("z.chat"), "").unwrap();
        assert_eq!(list(&dir, "toml"), ["plain.toml"]);
        assert_eq!(list(&dir, "chat"), ["z.chat"]);
    }
}
