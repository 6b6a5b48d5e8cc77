//! The stored session: `session.json` in the user's config directory (`~/.config/todo-chat/` on
//! Linux), readable by the user only (mode 0600), holding the api URL and the access token.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::CliError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub api: String,
    pub user_id: Uuid,
    pub email: String,
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl Session {
    pub fn is_expired(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.expires_at <= now
    }
}

pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir`, or in the user's config directory.
    pub fn new(dir: Option<PathBuf>) -> Result<Self, CliError> {
        let dir = match dir {
            Some(d) => d,
            None => dirs::config_dir()
                .ok_or_else(|| CliError::Usage("no config directory (set TODO_CONFIG_DIR)".into()))?
                .join("todo-chat"),
        };
        Ok(Self { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    /// The live session, if any (an expired one counts as none).
    pub fn load(&self) -> Result<Option<Session>, CliError> {
        let text = match std::fs::read_to_string(self.path()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let session: Session = serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!(
                "{} is damaged ({e}): log in again",
                self.path().display()
            ))
        })?;
        Ok(Some(session).filter(|s| !s.is_expired()))
    }

    /// Writes the session, readable by the user only.
    pub fn save(&self, session: &Session) -> Result<PathBuf, CliError> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            // An older file keeps its mode on open: tighten it first.
            if path.exists() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        let mut file = options.open(&path)?;
        file.write_all(
            serde_json::to_string_pretty(session)
                .map_err(|e| CliError::Usage(e.to_string()))?
                .as_bytes(),
        )?;
        Ok(path)
    }

    pub fn forget(&self) -> Result<(), CliError> {
        match std::fs::remove_file(self.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
