//! Where a new plugin finds the SDK (crate `infragen-sdk`).
//!
//! In order: `--sdk PATH`, then `INFRAGEN_SDK` (both handled by the CLI and
//! passed as `explicit`), then the `sdk-guest` directory of the infragen
//! source tree this binary was built from, when it is still there. The SDK
//! is a path dependency rather than a registry one because it is not
//! published; it must stay inside its infragen checkout, whose workspace it
//! takes its dependency versions from.

use std::path::{Component, Path, PathBuf};

use super::ScaffoldError;

/// The SDK directory of the source tree that built this binary.
pub fn built_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .join("sdk-guest")
}

/// The SDK directory to use: `explicit`, else [`built_in`]; refused unless
/// it holds the `infragen-sdk` crate.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, ScaffoldError> {
    let candidate = explicit.map_or_else(built_in, Path::to_owned);
    let manifest = std::fs::read_to_string(candidate.join("Cargo.toml")).unwrap_or_default();
    let is_sdk = manifest
        .lines()
        .any(|line| line.replace(' ', "") == "name=\"infragen-sdk\"");
    if !is_sdk {
        let how = match explicit {
            Some(_) => "the directory given with --sdk or INFRAGEN_SDK".to_owned(),
            None => format!(
                "the infragen source tree this binary was built from ({})",
                candidate.display()
            ),
        };
        return Err(ScaffoldError::Sdk(format!(
            "no infragen SDK (crate infragen-sdk) in {how}; pass --sdk PATH or set INFRAGEN_SDK \
             to the sdk-guest directory of an infragen checkout"
        )));
    }
    std::fs::canonicalize(&candidate).map_err(|source| ScaffoldError::Io {
        path: candidate,
        source,
    })
}

/// How `plugins/NAME/Cargo.toml` names the SDK: relative when the SDK is
/// inside the repository (the repository can move), absolute otherwise.
pub(crate) fn dependency_path(
    sdk: &Path,
    root: &Path,
    crate_dir: &str,
) -> Result<String, ScaffoldError> {
    let root = std::fs::canonicalize(root).map_err(|source| ScaffoldError::Io {
        path: root.to_owned(),
        source,
    })?;
    let Ok(inside) = sdk.strip_prefix(&root) else {
        return Ok(sdk.to_string_lossy().into_owned());
    };
    let up = Path::new(crate_dir)
        .components()
        .filter(|component| matches!(component, Component::Normal(_)))
        .count();
    let mut relative = PathBuf::new();
    for _ in 0..up {
        relative.push("..");
    }
    relative.push(inside);
    Ok(relative.to_string_lossy().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_tree_sdk_is_found_by_default() {
        let sdk = find(None).expect("this checkout has sdk-guest");
        assert!(sdk.ends_with("sdk-guest"), "{}", sdk.display());
    }

    #[test]
    fn a_directory_without_the_sdk_is_refused_with_the_way_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = find(Some(dir.path())).expect_err("no SDK there");
        assert!(error.to_string().contains("--sdk PATH"), "{error}");
    }

    #[test]
    fn an_sdk_inside_the_repository_is_named_relatively() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let sdk = root.join("vendor/sdk-guest");
        assert_eq!(
            dependency_path(&sdk, &root, "plugins/notes").expect("path"),
            "../../vendor/sdk-guest"
        );
        assert_eq!(
            dependency_path(Path::new("/opt/infragen/sdk-guest"), &root, "plugins/notes")
                .expect("path"),
            "/opt/infragen/sdk-guest"
        );
    }
}
