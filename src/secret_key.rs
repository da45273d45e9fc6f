//! Finds the key that encrypts subscription secrets at rest: given in the
//! settings, read from a key file, or (for the embedded SQLite default)
//! generated once into a 0600 file beside the database.

use crate::domain::SecretCipher;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("secret key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret key in {origin}: {reason}")]
    Malformed { origin: String, reason: String },
    #[error(
        "no secret key: PostgreSQL deployments must set HOOKRELAY_SECRET_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or secret_key_file, shared by all replicas"
    )]
    Missing,
}

pub fn decode_key(text: &str) -> Result<[u8; 32], String> {
    SecretCipher::key_from_base64(text).map_err(|_| {
        "must be standard base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)".to_owned()
    })
}

/// What the settings say about the key (`config` fills it in).
#[derive(Clone, Copy, Debug)]
pub struct KeySource<'a> {
    /// The key itself, base64 (`HOOKRELAY_SECRET_KEY`).
    pub key: Option<&'a str>,
    /// A file holding it, created on first start if missing.
    pub key_file: Option<&'a Path>,
    /// The database's URL: an embedded SQLite file keeps its key beside it.
    pub database_url: &'a str,
}

/// Resolves the cipher for these settings, creating the default key file on
/// first start of an embedded database.
pub fn load_cipher(settings: KeySource<'_>) -> Result<SecretCipher, SecretKeyError> {
    if let Some(key) = settings.key {
        let key = decode_key(key).map_err(|reason| SecretKeyError::Malformed {
            origin: "HOOKRELAY_SECRET_KEY".to_owned(),
            reason,
        })?;
        return Ok(SecretCipher::new(&key));
    }
    let path = match (settings.key_file, sqlite_file(settings.database_url)) {
        (Some(path), _) => path.to_owned(),
        (None, Some(db_path)) => key_path_beside(&db_path),
        (None, None) if settings.database_url.starts_with("sqlite:") => {
            // An in-memory database lives and dies with the process; so can its key.
            return Ok(SecretCipher::new(&SecretCipher::generate_key()));
        }
        (None, None) => return Err(SecretKeyError::Missing),
    };
    read_or_create(&path)
}

fn read_or_create(path: &Path) -> Result<SecretCipher, SecretKeyError> {
    let io = |source| SecretKeyError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = decode_key(&text).map_err(|reason| SecretKeyError::Malformed {
                origin: path.display().to_string(),
                reason,
            })?;
            Ok(SecretCipher::new(&key))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretCipher::generate_key();
            write_private(path, STANDARD.encode(key).as_bytes()).map_err(io)?;
            tracing::info!(path = %path.display(), "generated a new secret-encryption key");
            Ok(SecretCipher::new(&key))
        }
        Err(err) => Err(io(err)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The file path of a `sqlite://` URL, or `None` for in-memory databases.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

fn key_path_beside(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_map_to_files() {
        assert_eq!(
            sqlite_file("sqlite://hookrelay.db"),
            Some(PathBuf::from("hookrelay.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let first = read_or_create(&path).unwrap();
        let sealed = first.encrypt("whsec_abc");
        let second = read_or_create(&path).unwrap();
        assert_eq!(second.decrypt(&sealed).unwrap(), "whsec_abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
