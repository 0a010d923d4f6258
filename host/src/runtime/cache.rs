//! Precompiled plugins on disk, so that a plugin is compiled once per digest.
//!
//! Compiling a component with Cranelift costs about half a second per
//! megabyte; loading the precompiled artifact costs a few milliseconds.
//! Artifacts are native code that wasmtime loads without validating it, so
//! an artifact is loaded only when the host can tell it compiled it from the
//! very component being loaded:
//!
//! - **keyed digests**: next to each artifact (`<digest>-<engine>.cwasm`) the
//!   host writes `….mac`, an HMAC-SHA256 under a random key of the cache
//!   (`key`, mode 0600) over the component's sha256, the engine's
//!   compatibility hash and the artifact's sha256. At load the artifact's
//!   bytes are read once, checked against it, and deserialised from those
//!   same bytes; a missing or wrong MAC (an artifact swapped for another
//!   plugin's, edited, or copied from elsewhere) means compiling again;
//! - **a private directory**: created 0700; one that another user owns, or
//!   that its group or others may write, is refused (the runtime then
//!   compiles every plugin and says why), since whoever can write it could
//!   replace artifacts and key alike;
//! - artifacts are written through a temporary file and a rename, so a reader
//!   never sees half of one, and are keyed by the engine's compatibility hash
//!   too, so another wasmtime or engine configuration never picks one up.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache's MAC.
type ArtifactMac = Hmac<Sha256>;

/// The name of the cache's key file.
const KEY_FILE: &str = "key";
/// The key's length in bytes.
const KEY_LEN: usize = 32;

/// Why the cache could not be used. A cache failure never fails a load: the
/// runtime logs it and compiles instead.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory or an artifact could not be read or written.
    #[error("plugin cache {path}: {error}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O failure (part of the message, so not a `source`).
        error: std::io::Error,
    },
    /// The directory is not this user's alone: whoever else can write it could
    /// replace the native code this host loads.
    #[error("plugin cache {path} is not used: {reason}")]
    NotPrivate {
        /// The directory.
        path: PathBuf,
        /// Who else can write it.
        reason: String,
    },
}

/// A directory of precompiled artifacts for one engine configuration.
#[derive(Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCache")
            .field("dir", &self.dir)
            .field("engine_key", &self.engine_key)
            .finish_non_exhaustive()
    }
}

impl ArtifactCache {
    /// Opens (creating if needed, mode 0700) the cache in `dir` for `engine`;
    /// refuses a directory that is not this user's alone.
    pub fn open(dir: &Path, engine: &Engine) -> Result<ArtifactCache, CacheError> {
        create_private_dir(dir)?;
        check_private(dir)?;
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            engine_key: engine_key(engine),
            key: cache_key(dir)?,
        })
    }

    /// The MAC of an artifact of component `digest` whose sha256 is `artifact_digest`.
    fn mac(&self, digest: &str, artifact_digest: &[u8]) -> ArtifactMac {
        // The key has the length HMAC takes any key of; this cannot fail.
        let mut mac = <ArtifactMac as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [
            b"infragen plugin artifact v1".as_slice(),
            digest.as_bytes(),
            self.engine_key.as_bytes(),
            artifact_digest,
        ] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }

    /// The directory the cache lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    fn mac_path_for(&self, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm.mac", self.engine_key))
    }

    /// The cached component for `digest`, if there is one this host compiled from that
    /// very component.
    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path_for(digest);
        if !path.is_file() {
            return None;
        }
        let artifact = std::fs::read(&path).ok()?;
        let verified = std::fs::read_to_string(self.mac_path_for(digest))
            .ok()
            .and_then(|text| hex::decode(text.trim()).ok())
            .is_some_and(|expected| {
                self.mac(digest, &Sha256::digest(&artifact))
                    .verify_slice(&expected)
                    .is_ok()
            });
        if !verified {
            tracing::warn!(path = %path.display(), "cached plugin artifact does not match the component it claims to be compiled from; compiling again");
            return None;
        }
        // SAFETY: these bytes carry this cache's keyed digest of the component being
        // loaded: this host compiled them from it (see the module doc), in a directory
        // only this user can write. wasmtime additionally checks its own version and
        // configuration in the artifact header and refuses a mismatch with an error
        // (handled below by recompiling).
        match unsafe { Component::deserialize(engine, &artifact) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring unusable cached plugin artifact");
                None
            }
        }
    }

    /// Stores the precompiled form of a component, with its keyed digest.
    pub fn put(&self, digest: &str, artifact: &[u8]) -> Result<(), CacheError> {
        let mac = self.mac(digest, &Sha256::digest(artifact)).finalize();
        // The artifact first: a reader that sees the new artifact with the old MAC
        // compiles again; never the other way round.
        self.write(&self.path_for(digest), artifact)?;
        self.write(
            &self.mac_path_for(digest),
            hex::encode(mac.into_bytes()).as_bytes(),
        )
    }

    /// Writes `bytes` to `path` through a temporary file and a rename.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
        let io = |error| CacheError::Io {
            path: path.to_owned(),
            error,
        };
        let mut temporary = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        temporary.write_all(bytes).map_err(io)?;
        temporary.as_file().sync_all().map_err(io)?;
        temporary.persist(path).map_err(|error| io(error.error))?;
        Ok(())
    }
}

/// Refuses a cache directory another user owns or its group or others may write.
fn check_private(dir: &Path) -> Result<(), CacheError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let metadata = std::fs::metadata(dir).map_err(|error| CacheError::Io {
            path: dir.to_owned(),
            error,
        })?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let refuse = |reason: String| {
            Err(CacheError::NotPrivate {
                path: dir.to_owned(),
                reason,
            })
        };
        if metadata.uid() != me {
            return refuse(format!(
                "it belongs to user {}, not to this user ({me})",
                metadata.uid()
            ));
        }
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return refuse(format!(
                "its group or others may write it (mode {mode:04o}); make it 0700"
            ));
        }
    }
    Ok(())
}

/// The cache's key: read from `dir/key`, or made (random, mode 0600) when there is none
/// or it is not a key.
fn cache_key(dir: &Path) -> Result<[u8; KEY_LEN], CacheError> {
    let path = dir.join(KEY_FILE);
    let io = |error| CacheError::Io {
        path: path.clone(),
        error,
    };
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(key) = <[u8; KEY_LEN]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::getrandom(&mut key).map_err(|error| io(std::io::Error::other(error.to_string())))?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    // NamedTempFile creates its file 0600.
    temporary.write_all(&key).map_err(io)?;
    temporary.as_file().sync_all().map_err(io)?;
    temporary.persist(&path).map_err(|error| io(error.error))?;
    Ok(key)
}

fn create_private_dir(dir: &Path) -> Result<(), CacheError> {
    let io = |error| CacheError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io)
}

/// A short stable digest of everything that makes an artifact loadable by
/// `engine` (wasmtime version, target, compiler settings).
fn engine_key(engine: &Engine) -> String {
    struct Sha256Hasher(Sha256);
    impl Hasher for Sha256Hasher {
        fn finish(&self) -> u64 {
            0 // unused: the full digest is read from the inner state
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}
