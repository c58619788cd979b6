//! Native cost of the work every upload request does in the core: JWT verification, SigV4
//! signing of the store PUT, rendering a problem, and a whole 4 KiB PUT through the gateway on
//! the in-memory fakes. Run with `cargo bench -p gateway-core`; writes bench/native.md. The
//! Worker runs the same code compiled to Wasm, which is slower by a factor this does not
//! measure (see bench/results.md for the Worker's CPU per upload).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use common::*;
use gateway_core::auth::verify;
use gateway_core::config::Storage;
use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::http::Reply;
use gateway_core::s3::sign_request;
use serde_json::json;

/// Microseconds per call of `f`, the median of 7 batches of `n`.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let mut batches: Vec<f64> = (0..7)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..n {
                f();
            }
            t0.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[3]
}

fn main() {
    let cfg = config_with(&[
        ("STORAGE", "s3"),
        ("S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("S3_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("S3_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    ]);
    let Storage::S3(s3) = &cfg.storage else { panic!("an S3 configuration") };
    let jwt = token("alice", json!({}));
    let verify_us = per_call(20_000, || {
        black_box(
            futures_executor::block_on(verify(
                &cfg.jwt,
                black_box(&jwt),
                NOW_MS,
                &gateway_core::testing::idp::NativeVerifier,
            ))
            .unwrap(),
        );
    });
    let url = "http://127.0.0.1:9000/uploads/alice/a.txt~0123456789abcdef0123456789abcdef".to_owned();
    let headers =
        vec![("content-type".to_owned(), "text/plain".to_owned()), ("content-length".to_owned(), "4096".to_owned())];
    let sign_us = per_call(20_000, || {
        black_box(sign_request(s3, "PUT", url.clone(), headers.clone(), "UNSIGNED-PAYLOAD", NOW_MS).unwrap());
    });
    let err = GatewayError::new(ErrorKind::PayloadTooLarge, "the body is larger than this token allows");
    let problem_us = per_call(50_000, || {
        black_box(Reply::<Vec<u8>>::problem_for(&err, "0f9d7c3e-5d1a-4c8e-9b7a-2f4e6d8c1a3b"));
    });
    let body = vec![b'a'; 4096];
    // A whole 4 KiB PUT through `world`'s gateway, each to a key of its own.
    let mut i = 0u64;
    let mut put_us = |world: &World| {
        per_call(2_000, || {
            i += 1;
            let req = Req::put(&format!("/files/alice/bench/{i}.txt"), &body)
                .bearer(&jwt)
                .header("content-type", "text/plain");
            assert_eq!(world.send(req).reply.status, 201);
        })
    };
    let journaled_us = put_us(&World::new(cfg.clone()));
    let announced_us = put_us(&World::with_queue(cfg.clone()));
    let rows = [
        ("verify an HS256 token", verify_us),
        ("sign the store PUT (SigV4)", sign_us),
        ("render a problem reply", problem_us),
        ("a whole 4 KiB PUT through the gateway on the in-memory fakes (MD5 of the body included)", journaled_us),
        ("the same PUT announced on an event queue (body sniffed, no journal entry)", announced_us),
    ];
    let mut md = String::from(
        "# Native cost per request\n\n`cargo bench -p gateway-core` (crates/gateway-core/benches/request.rs): the core's work \
         per upload, natively on this machine, median of 7 batches. The Worker runs the same code as Wasm.\n\n\
         | work | µs per request |\n|---|---|\n",
    );
    for (what, us) in rows {
        md.push_str(&format!("| {what} | {us:.1} |\n"));
    }
    md.push_str(&format!("\nAuth and signing together: {:.1} µs per upload.\n", verify_us + sign_us));
    print!("{md}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/native.md");
    std::fs::write(out, md).unwrap();
}
