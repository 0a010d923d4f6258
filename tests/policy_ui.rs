//! UI tests of `infragen.toml`: each case under `tests/ui/policy/` sits next
//! to the exact error it must produce (`<case>.stderr`), so the wording of
//! configuration errors is reviewed like code. `INFRAGEN_BLESS=1` rewrites
//! the expected files after an intended change.

use std::path::Path;

use infragen::policy::RuntimePolicy;
use infragen_tests::{assert_matches_expected, workspace_root};

#[test]
fn every_policy_case_produces_its_expected_error() {
    let dir = workspace_root().join("tests/ui/policy");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui/policy exists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 6,
        "expected the policy cases, found {}",
        cases.len()
    );
    for case in cases {
        let text = std::fs::read_to_string(&case).expect("read case");
        let error = match RuntimePolicy::parse(Path::new("infragen.toml"), &text) {
            Ok(_) => panic!("{} parsed, but every case is an error", case.display()),
            Err(error) => format!("{error}\n"),
        };
        assert_matches_expected(&error, &case.with_extension("stderr"));
    }
}
