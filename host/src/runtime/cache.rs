//! Precompiled plugins on disk, so that a plugin is compiled once per digest.
//!
//! Compiling a component with Cranelift costs about half a second per
//! megabyte; loading the precompiled artifact costs a few milliseconds.
//! Artifacts are native code and are loaded without validation, so the cache
//! directory is owned by the host: created with mode 0700, written only by
//! this process (through a temporary file and a rename, so a reader never
//! sees half an artifact), and keyed by the sha256 of the component *and* a
//! digest of the engine's compatibility hash, so that an artifact built by a
//! different wasmtime or a different engine configuration is never picked up.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

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
}

/// A directory of precompiled artifacts for one engine configuration.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    /// Opens (creating if needed, mode 0700) the cache in `dir` for `engine`.
    pub fn open(dir: &Path, engine: &Engine) -> Result<ArtifactCache, CacheError> {
        create_private_dir(dir)?;
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            engine_key: engine_key(engine),
        })
    }

    /// The directory the cache lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The cached component for `digest`, if there is a usable one.
    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path_for(digest);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the artifact was written by `put` of this host into a
        // directory only this user can write, under a name that includes the
        // engine's compatibility hash; wasmtime additionally checks its own
        // version and configuration in the artifact header and refuses a
        // mismatch with an error (handled below by recompiling).
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring unusable cached plugin artifact");
                None
            }
        }
    }

    /// Stores the precompiled form of a component.
    pub fn put(&self, digest: &str, artifact: &[u8]) -> Result<(), CacheError> {
        let path = self.path_for(digest);
        let io = |error| CacheError::Io {
            path: path.clone(),
            error,
        };
        let mut temporary = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        temporary.write_all(artifact).map_err(io)?;
        temporary.as_file().sync_all().map_err(io)?;
        temporary.persist(&path).map_err(|error| io(error.error))?;
        Ok(())
    }
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
