//! The options `serve --queue` and `worker` share: how to reach the NATS server holding
//! the work queue and prove who this process is to it.

use std::path::PathBuf;

use clap::Args;

use crate::scale_out::QueueAccess;

/// The queue's URL itself is an option of each command (optional for `serve`, required for
/// `worker`), a `String` parsed by [`crate::scale_out::QueueUrl::parse`] once clap is done:
/// clap's message for a value its parser refuses repeats the value whole, password
/// included. These come with it.
#[derive(Debug, Args)]
pub(crate) struct QueueAccessArgs {
    /// A file holding the seed (`SU…`) of the NKey the NATS server knows this process by
    /// (`authorization { users = [{ nkey: U… }] }` on the server).
    #[arg(long, value_name = "FILE", requires = "queue")]
    queue_nkey: Option<PathBuf>,
    /// PEM certificates of the CA that signed the NATS server's TLS certificate, trusted
    /// besides the system's (`tls://HOST:PORT` requires TLS; a server that requires it is
    /// spoken TLS to either way).
    #[arg(long, value_name = "FILE", requires = "queue")]
    queue_ca: Option<PathBuf>,
    /// A PEM client certificate, for a NATS server that verifies its clients' (with
    /// `--queue-key`).
    #[arg(long, value_name = "FILE", requires_all = ["queue", "queue_key"])]
    queue_cert: Option<PathBuf>,
    /// The key of `--queue-cert` (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["queue", "queue_cert"])]
    queue_key: Option<PathBuf>,
}

impl QueueAccessArgs {
    pub(crate) fn access(&self) -> QueueAccess {
        QueueAccess {
            nkey_seed: self.queue_nkey.clone(),
            tls_ca: self.queue_ca.clone(),
            tls_client: self.queue_cert.clone().zip(self.queue_key.clone()),
        }
    }
}
