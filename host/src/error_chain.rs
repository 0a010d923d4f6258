//! An error's message with its causes, for the edges where an error becomes text.

/// `error`'s message followed by each of its sources' (`…: tcp connect error: Connection
/// refused`), leaving out a source whose message the text already holds. Clients' errors
/// (reqwest's, async-nats's) keep the reason in a source their `Display` leaves out.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::with_causes;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect: refused")]
    struct Repeating(#[source] std::io::Error);

    #[test]
    fn each_cause_is_added_once() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(with_causes(&Outer(refused())), "cannot connect: refused");
        assert_eq!(
            with_causes(&Repeating(refused())),
            "cannot connect: refused"
        );
    }
}
