//! Which server paths a web user may name (Maildir, CA file): only below a root the operator set.
//! The answer for a path outside the root is the same whether it exists or not, so the form cannot
//! be used to probe the server's file system.

use std::path::{Component, Path, PathBuf};

use postkorb_core::mailbox::{PathRule, Problem};

/// Why a path was refused (the words: `postkorb_core::mailbox::SettingsError`).
#[derive(Debug, PartialEq, Eq)]
pub enum PathRefusal {
    /// No root is configured: the web may name no path at all.
    NoRoot,
    /// Outside the root (or with `..`), whether it exists or not.
    Outside,
    /// Below the root, but missing or of the wrong kind.
    Missing,
}

/// `input` as a canonical path below `root`, which must be a directory (`want_dir`) or a file.
pub fn below(root: Option<&Path>, input: &str, want_dir: bool) -> Result<PathBuf, PathRefusal> {
    let root = root.ok_or(PathRefusal::NoRoot)?;
    let root = std::fs::canonicalize(root).map_err(|_| PathRefusal::NoRoot)?;
    let given = Path::new(input.trim());
    if given.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(PathRefusal::Outside);
    }
    let joined = if given.is_absolute() { given.to_path_buf() } else { root.join(given) };
    // Lexically first, so nothing outside the root is ever looked at.
    if !joined.starts_with(&root) {
        return Err(PathRefusal::Outside);
    }
    let real = std::fs::canonicalize(&joined).map_err(|_| PathRefusal::Missing)?;
    if !real.starts_with(&root) {
        // A link inside the root that points out of it.
        return Err(PathRefusal::Outside);
    }
    let kind_ok = if want_dir { real.is_dir() } else { real.is_file() };
    if kind_ok { Ok(real) } else { Err(PathRefusal::Missing) }
}

/// The form's [`PathRule`]: a path below its root, or the one already stored, unchanged.
pub struct FormPaths<'a> {
    pub rules: &'a crate::PathRules,
    pub stored_maildir: Option<&'a str>,
    pub stored_ca_file: Option<&'a str>,
}

impl PathRule for FormPaths<'_> {
    fn maildir(&self, given: &str) -> Result<String, Problem> {
        allowed(self.rules.maildir_root.as_deref(), given, self.stored_maildir, true)
    }

    fn ca_file(&self, given: &str) -> Result<String, Problem> {
        allowed(self.rules.ca_dir.as_deref(), given, self.stored_ca_file, false)
    }
}

fn allowed(root: Option<&Path>, given: &str, stored: Option<&str>, want_dir: bool) -> Result<String, Problem> {
    if stored == Some(given) {
        return Ok(given.to_string());
    }
    let shown_root = root.map(|r| r.display().to_string()).unwrap_or_default();
    match below(root, given, want_dir) {
        Ok(p) => Ok(p.display().to_string()),
        Err(PathRefusal::NoRoot) => Err(Problem::PathNoRoot),
        Err(PathRefusal::Outside) => Err(Problem::PathOutside { root: shown_root }),
        Err(PathRefusal::Missing) => Err(Problem::PathMissing { root: Some(shown_root) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_root_are_refused_alike_whether_they_exist_or_not() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("box")).unwrap();
        let r = Some(root.path());
        assert_eq!(below(r, "/etc", true), Err(PathRefusal::Outside));
        assert_eq!(below(r, "/no/such/dir", true), Err(PathRefusal::Outside));
        assert_eq!(below(r, "box/../../etc", true), Err(PathRefusal::Outside));
        assert_eq!(below(None, "box", true), Err(PathRefusal::NoRoot));
        assert_eq!(below(r, "fehlt", true), Err(PathRefusal::Missing));
        let real = std::fs::canonicalize(root.path().join("box")).unwrap();
        assert_eq!(below(r, "box", true), Ok(real.clone()));
        assert_eq!(below(r, real.to_str().unwrap(), true), Ok(real));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.path().join("link")).unwrap();
            assert_eq!(below(r, "link", true), Err(PathRefusal::Outside));
        }
    }
}
