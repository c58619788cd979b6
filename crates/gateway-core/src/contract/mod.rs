//! One contract for every implementation of the storage and metadata interfaces. The same
//! cases run natively against the in-memory fakes (`tests/contract.rs`) and, inside the built
//! Worker, against the R2 binding, the S3 store over `fetch` and D1 (`tests/contract.test.mjs`),
//! so a fake cannot drift from the backends it stands in for. Each case names the behaviour it
//! pins; a failure says what differed.

mod metadata;
mod store;

pub use metadata::run as metadata;
pub use store::{run as store, ContractStore};

/// One case's result: `Err` says what differed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub case: &'static str,
    pub failure: Option<String>,
}

/// What a case returns.
pub(crate) type Checked = std::result::Result<(), String>;

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

/// Runs each case in turn and collects the outcomes under the cases' own names.
macro_rules! cases {
    ($($case:ident($($arg:expr),*)),+ $(,)?) => {{
        let mut outcomes = Vec::new();
        $(
            outcomes.push(crate::contract::Outcome {
                case: stringify!($case),
                failure: $case($($arg),*).await.err(),
            });
        )+
        outcomes
    }};
}
pub(crate) use cases;

/// A store or database answer, or the case's failure naming the call.
pub(crate) fn ok<T>(result: crate::error::Result<T>, call: &str) -> std::result::Result<T, String> {
    result.map_err(|e| format!("{call} failed: {} ({})", e, e.internal.as_deref().unwrap_or("")))
}
