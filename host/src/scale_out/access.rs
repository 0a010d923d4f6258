//! How the server and its workers reach the NATS server and prove who they are to it:
//! the queue's URL (whose user and password, or token, never reach a log or an error
//! message), an NKey, and TLS (a private CA to trust, a client certificate for servers that
//! verify clients).
//!
//! The queue carries what workers run, so a NATS server reachable by anyone else must
//! authenticate its clients: with anonymous access, whoever can publish to it has the
//! workers run a component of their choosing against the server's store.

use std::fmt;
use std::path::{Path, PathBuf};

use async_nats::ConnectOptions;

/// Why the queue's URL or one of its access files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The URL does not parse, or names no NATS scheme.
    #[error(
        "`{url}` is not a NATS server's URL (`nats://HOST:PORT` or `tls://HOST:PORT`): {reason}"
    )]
    Url {
        /// The URL, credentials hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file named by an option cannot be read or holds no usable content.
    #[error("{what} {}: {reason}", path.display())]
    File {
        /// Which option's file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The queue's URL as given: `nats://` or `tls://` (TLS required), optionally with
/// `user:password@` or `token@` before the host. Displayed with the password or token
/// replaced by `***`.
#[derive(Clone)]
pub struct QueueUrl {
    /// The URL without its credentials (what the client connects to).
    bare: url::Url,
    credentials: Option<Credentials>,
}

#[derive(Clone)]
enum Credentials {
    UserPassword { user: String, password: String },
    Token(String),
}

impl QueueUrl {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<QueueUrl, AccessError> {
        let mut url = url::Url::parse(text).map_err(|error| AccessError::Url {
            url: redact(text),
            reason: error.to_string(),
        })?;
        let invalid = |reason: &str| AccessError::Url {
            url: redact(text),
            reason: reason.to_owned(),
        };
        if !matches!(url.scheme(), "nats" | "tls") {
            return Err(invalid(&format!(
                "scheme `{}` (the queue speaks NATS: `nats` or `tls`)",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| invalid("its user or password is not UTF-8 once decoded"))
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (token, None) => Some(Credentials::Token(decode(token)?)),
            (user, Some(password)) => Some(Credentials::UserPassword {
                user: decode(user)?,
                password: decode(password)?,
            }),
        };
        // `set_username`/`set_password` fail only for URLs that cannot have them, and a
        // URL with a host always can.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(QueueUrl {
            bare: url,
            credentials,
        })
    }

    /// Whether the URL asks for TLS (`tls://`).
    pub fn requires_tls(&self) -> bool {
        self.bare.scheme() == "tls"
    }

    /// What the client connects to: the URL without credentials.
    pub(crate) fn address(&self) -> &str {
        self.bare.as_str()
    }
}

impl fmt::Display for QueueUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(credentials) = &self.credentials else {
            return f.write_str(self.bare.as_str().trim_end_matches('/'));
        };
        let mut shown = self.bare.clone();
        let _ = match credentials {
            Credentials::UserPassword { user, .. } => shown
                .set_username(user)
                .and_then(|()| shown.set_password(Some("***"))),
            Credentials::Token(_) => shown.set_username("***"),
        };
        f.write_str(shown.as_str().trim_end_matches('/'))
    }
}

impl fmt::Debug for QueueUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QueueUrl({self})")
    }
}

/// `text` with whatever lies between `://` and the last `@` before the host hidden: for
/// messages about a URL that did not parse.
fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => text.to_owned(),
    }
}

/// Files that prove who this process is to the NATS server, and whom to trust as it.
#[derive(Debug, Clone, Default)]
pub struct QueueAccess {
    /// A file holding the seed (`SU…`) of an NKey the server knows this user by.
    pub nkey_seed: Option<PathBuf>,
    /// PEM certificates of the CA that signed the server's TLS certificate (trusted besides
    /// the system's).
    pub tls_ca: Option<PathBuf>,
    /// A PEM client certificate and its key, for a server that verifies its clients.
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

/// What a connection is made with: the URL, its credentials and the access files, read and
/// checked once, before the first attempt.
pub(crate) struct Connection {
    url: QueueUrl,
    nkey_seed: Option<String>,
    access: QueueAccess,
}

impl Connection {
    pub(crate) fn prepare(url: &QueueUrl, access: &QueueAccess) -> Result<Self, AccessError> {
        let nkey_seed = match &access.nkey_seed {
            Some(path) => Some(read_seed(path)?),
            None => None,
        };
        if let Some(path) = &access.tls_ca {
            check_pem(path, "--queue-ca: the CA certificates file", "CERTIFICATE")?;
        }
        if let Some((cert, key)) = &access.tls_client {
            check_pem(
                cert,
                "--queue-cert: the client certificate file",
                "CERTIFICATE",
            )?;
            check_pem(key, "--queue-key: the client key file", "PRIVATE KEY")?;
        }
        Ok(Connection {
            url: url.clone(),
            nkey_seed,
            access: access.clone(),
        })
    }

    pub(crate) fn url(&self) -> &QueueUrl {
        &self.url
    }

    /// The options for one attempt (they cannot be cloned: each attempt builds its own).
    pub(crate) fn options(&self) -> ConnectOptions {
        let mut options = match (&self.url.credentials, &self.nkey_seed) {
            (_, Some(seed)) => ConnectOptions::with_nkey(seed.clone()),
            (Some(Credentials::UserPassword { user, password }), None) => {
                ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            (Some(Credentials::Token(token)), None) => ConnectOptions::with_token(token.clone()),
            (None, None) => ConnectOptions::new(),
        };
        if self.url.requires_tls() {
            options = options.require_tls(true);
        }
        if let Some(path) = &self.access.tls_ca {
            options = options.add_root_certificates(path.clone());
        }
        if let Some((cert, key)) = &self.access.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        options
    }
}

fn read_seed(path: &Path) -> Result<String, AccessError> {
    let error = |reason: String| AccessError::File {
        what: "--queue-nkey: the NKey seed file",
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    // A seed file may hold comments and blank lines (as `nk -gen user` writes none, but
    // operators add them); the seed is the line starting with `SU`.
    let seed = text
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("SU"))
        .ok_or_else(|| error("holds no user NKey seed (a line starting with `SU`)".to_owned()))?;
    nkeys::KeyPair::from_seed(seed)
        .map_err(|e| error(format!("its seed is not a valid NKey seed: {e}")))?;
    Ok(seed.to_owned())
}

/// Checks that `path` is readable and holds at least one PEM block whose label ends with
/// `label`, so that a wrong file is named here rather than failing deep in the TLS setup.
fn check_pem(path: &Path, what: &'static str, label: &str) -> Result<(), AccessError> {
    let error = |reason: String| AccessError::File {
        what,
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let found = text.lines().any(|line| {
        line.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|name| name.ends_with(label))
    });
    if found {
        Ok(())
    } else {
        Err(error(format!("holds no PEM `{label}` block")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_sent_but_never_shown() {
        let url = QueueUrl::parse("nats://infragen:s3cr%40t@10.0.0.5:4222").unwrap();
        assert_eq!(url.to_string(), "nats://infragen:***@10.0.0.5:4222");
        assert_eq!(
            format!("{url:?}"),
            "QueueUrl(nats://infragen:***@10.0.0.5:4222)"
        );
        assert_eq!(url.address(), "nats://10.0.0.5:4222");
        assert!(matches!(
            &url.credentials,
            Some(Credentials::UserPassword { user, password })
                if user == "infragen" && password == "s3cr@t"
        ));
        assert!(!url.requires_tls());
    }

    #[test]
    fn a_token_in_the_url_is_sent_but_never_shown() {
        let url = QueueUrl::parse("tls://t0ken@nats.example:4222").unwrap();
        assert_eq!(url.to_string(), "tls://***@nats.example:4222");
        assert_eq!(url.address(), "tls://nats.example:4222");
        assert!(matches!(&url.credentials, Some(Credentials::Token(t)) if t == "t0ken"));
        assert!(url.requires_tls());
    }

    #[test]
    fn a_url_without_credentials_shows_as_given() {
        let url = QueueUrl::parse("nats://127.0.0.1:4222").unwrap();
        assert_eq!(url.to_string(), "nats://127.0.0.1:4222");
        assert!(url.credentials.is_none());
    }

    #[test]
    fn urls_that_are_not_a_nats_servers_are_refused_without_their_secrets() {
        let error = QueueUrl::parse("http://user:pw@host:4222").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`http://***@host:4222` is not a NATS server's URL (`nats://HOST:PORT` or \
             `tls://HOST:PORT`): scheme `http` (the queue speaks NATS: `nats` or `tls`)"
        );
        let error = QueueUrl::parse("nats://user:pw@host:notaport").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`nats://***@host:notaport` is not a NATS server's URL (`nats://HOST:PORT` or \
             `tls://HOST:PORT`): invalid port number"
        );
        assert!(QueueUrl::parse("127.0.0.1:4222").is_err());
    }

    #[test]
    fn a_seed_file_must_hold_a_valid_user_seed() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.nk");
        let seed = nkeys::KeyPair::new_user().seed().unwrap();
        std::fs::write(&good, format!("# the worker's key\n\n{seed}\n")).unwrap();
        assert_eq!(read_seed(&good).unwrap(), seed);

        let empty = dir.path().join("empty.nk");
        std::fs::write(&empty, "# nothing\n").unwrap();
        assert_eq!(
            read_seed(&empty).unwrap_err().to_string(),
            format!(
                "--queue-nkey: the NKey seed file {}: holds no user NKey seed (a line \
                 starting with `SU`)",
                empty.display()
            )
        );
        let broken = dir.path().join("broken.nk");
        std::fs::write(&broken, "SUNOTASEED\n").unwrap();
        assert!(
            read_seed(&broken)
                .unwrap_err()
                .to_string()
                .contains("its seed is not a valid NKey seed")
        );
        let missing = dir.path().join("missing.nk");
        assert!(read_seed(&missing).is_err());
    }

    #[test]
    fn a_tls_file_must_hold_the_pem_block_it_is_named_for() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let access = QueueAccess {
            tls_ca: Some(key.clone()),
            ..QueueAccess::default()
        };
        let url = QueueUrl::parse("tls://127.0.0.1:4222").unwrap();
        let error = Connection::prepare(&url, &access).err().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "--queue-ca: the CA certificates file {}: holds no PEM `CERTIFICATE` block",
                key.display()
            )
        );
        let ec = dir.path().join("ec.pem");
        std::fs::write(
            &ec,
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        )
        .unwrap();
        check_pem(&ec, "--queue-key: the client key file", "PRIVATE KEY").unwrap();
    }
}
