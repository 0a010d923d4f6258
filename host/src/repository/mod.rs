//! The repository: `.infrahub.yml` and the files it names (in progress).
