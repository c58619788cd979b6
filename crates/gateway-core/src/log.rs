//! Problems a request met after its outcome was decided (a cleanup that failed, a row that
//! names a missing object): collected while the request runs and handed to the edge with the
//! reply ([`crate::gateway::Handled::problems`]), which logs them. They never change the reply.
//! One request runs at a time per thread (the Workers isolate, a native test), so the buffer is
//! per thread.

use std::cell::RefCell;

thread_local! {
    static PROBLEMS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records a problem for the log.
pub fn error(message: &str) {
    PROBLEMS.with(|p| p.borrow_mut().push(message.to_owned()));
}

/// The problems recorded since the last call, oldest first.
pub fn take() -> Vec<String> {
    PROBLEMS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}
