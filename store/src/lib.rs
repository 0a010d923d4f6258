//! The embedded Infrahub-compatible store (in progress).
