//! Two handles on one store file, as two processes hold it, and a run transaction on the
//! first (`Store::begin_run`, the path a generator's writes take): what the model tests
//! send their steps through.

use infragen_store::{GraphqlRequest, RunTransaction, Store};
use serde_json::{Value, json};

pub struct Session {
    /// The handle the runs are opened on.
    pub own: Store,
    /// Another handle on the same file: another process.
    pub other: Store,
    /// The open run and its branch.
    run: Option<(String, RunTransaction)>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Session {
    /// A fresh store file with `schema` loaded, and its two handles.
    pub fn new(schema: &[(String, String)]) -> Session {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let own = Store::open(&path).expect("store");
        own.load_schema(schema).expect("schema");
        let other = Store::open(&path).expect("second handle");
        Session {
            own,
            other,
            run: None,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            _dir: dir,
        }
    }

    /// Whether `s` is the own handle.
    pub fn is_own(&self, s: &Store) -> bool {
        std::ptr::eq(s, &self.own)
    }

    /// The branch of the open run, if one is open.
    pub fn run_branch(&self) -> Option<&str> {
        self.run.as_ref().map(|(branch, _)| branch.as_str())
    }

    /// Runs `document` on `view` through `s`, or through the open run when `s` is the own
    /// handle and `view` the run's branch; the whole response.
    pub fn send(&self, s: &Store, view: &str, document: &str, variables: Value) -> Value {
        let request = GraphqlRequest::new(document).with_variables(variables);
        match &self.run {
            Some((branch, run)) if branch == view && self.is_own(s) => run.execute(&request, None),
            _ => s.execute_blocking(view, &request),
        }
    }

    /// [`Session::send`] for a document that must succeed; its `data`.
    pub fn ok(&self, s: &Store, view: &str, document: &str) -> Value {
        let response = self.send(s, view, document, json!({}));
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// Opens a run on `branch` on the own handle.
    pub fn begin_run(&mut self, branch: &str) {
        assert!(self.run.is_none(), "one run at a time");
        let run = self
            .runtime
            .block_on(self.own.begin_run(branch))
            .expect("a run");
        self.run = Some((branch.to_owned(), run));
    }

    /// Ends the open run, committed or abandoned; whether one was open.
    pub fn end_run(&mut self, commit: bool) -> bool {
        let Some((_, run)) = self.run.take() else {
            return false;
        };
        if commit {
            run.commit().expect("the run commits");
        } else {
            run.abandon();
        }
        true
    }
}
