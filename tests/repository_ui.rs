//! UI tests of `.infrahub.yml`: each bad repository under
//! `tests/ui/repository/<case>/` sits next to the exact error it must produce
//! (`<case>.stderr`), so the wording of repository errors is reviewed like
//! code. `INFRAGEN_BLESS=1` rewrites the expected files after an intended
//! change.

use infragen::repository::Repository;
use infragen_tests::{assert_matches_expected, workspace_root};

#[test]
fn every_repository_case_produces_its_expected_error() {
    let root = workspace_root();
    let dir = root.join("tests/ui/repository");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui/repository exists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 16,
        "expected the repository cases, found {}",
        cases.len()
    );
    // Messages that name the repository directory show it relative to the
    // workspace, so the expected files do not depend on the checkout.
    let prefix = format!("{}/", root.display());
    for case in cases {
        let error = match Repository::open(&case) {
            Ok(_) => panic!("{} opened, but every case is an error", case.display()),
            Err(error) => format!("{error}\n").replace(&prefix, ""),
        };
        assert_matches_expected(&error, &case.with_extension("stderr"));
    }
}
