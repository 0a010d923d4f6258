//! The HTTP transport to an Infrahub server (in progress).
