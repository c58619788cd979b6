//! Property tests for every parser and rule set that sees client input: keys, ranges,
//! conditional headers, content types, `Content-Length`, JWTs, gateway-URL canonical forms,
//! S3 XML, the multipart part rules, and form POST bodies and policies. Each asserts a round
//! trip where one exists, and otherwise that arbitrary input never panics and is refused with
//! a documented 4xx (never a 5xx). `npm test` runs each property with 2,048 cases
//! (`PROPTEST_CASES`, set by `scripts/test.sh`; proptest's own default is 256); a long session
//! is `PROPTEST_CASES=100000 cargo test -p gateway-core --release --test properties`
//! (`npm run soak`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::auth::verify;
use gateway_core::conditional::{EntityTag, EtagCondition};
use gateway_core::content_type::essence;
use gateway_core::error::ErrorKind;
use gateway_core::http::parse_length;
use gateway_core::key::{ObjectKey, StoredName, MAX_KEY_BYTES};
use gateway_core::multipart::{check_complete, check_part, Part, MIN_PART_BYTES};
use gateway_core::presign::capability::{self, Capability};
use gateway_core::range::{self, ByteRangeSpec};
use gateway_core::s3;
use gateway_core::secret::Secret;
use gateway_core::upload::location;
use proptest::prelude::*;

/// Unicode text biased towards the characters parsers treat specially.
fn tricky_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("/".to_owned()),
        Just("%".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2F".to_owned()),
        Just("%ZZ".to_owned()),
        Just("\u{212A}".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\0".to_owned()),
        "[a-zA-Z0-9 ~+_-]{1,4}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    // ------------------------------------------------------------ keys

    #[test]
    fn any_path_is_a_valid_key_or_a_400_invalid_key(path in tricky_text()) {
        match ObjectKey::from_path(&path) {
            Ok(key) => {
                prop_assert!(!key.as_str().is_empty() && key.as_str().len() <= MAX_KEY_BYTES);
                prop_assert!(gateway_core::key::is_nfc(key.as_str()));
                // The Location path decodes back to the same key.
                let back = ObjectKey::from_path(location(&key).strip_prefix("/files/").unwrap()).unwrap();
                prop_assert_eq!(back, key);
            }
            Err(e) => {
                prop_assert_eq!(e.kind, ErrorKind::InvalidKey);
                prop_assert_eq!(e.status(), 400);
            }
        }
    }

    #[test]
    fn stored_names_of_distinct_writes_never_collide(a in "[a-z]{1,3}(/[a-z~]{1,3}){0,2}", b in "[a-z]{1,3}(/[a-z~]{1,3}){0,2}", ia in "[a-z0-9-]{1,8}", ib in "[a-z0-9-]{1,8}") {
        let (ka, kb) = (ObjectKey::new(a).unwrap(), ObjectKey::new(b).unwrap());
        let (na, nb) = (StoredName::version(&ka, &ia), StoredName::version(&kb, &ib));
        prop_assert_eq!(na == nb, ka == kb && ia == ib);
        prop_assert!(na.as_str().starts_with(ka.as_str()));
    }

    // ------------------------------------------------------------ ranges and conditions

    #[test]
    fn a_range_header_parses_or_is_ignored_and_resolves_within_the_object(header in "(bytes=)?[0-9-, ]{0,24}|.{0,24}", size in 0u64..1_000_000) {
        if let Some(spec) = range::parse(&header) {
            if let Some(r) = spec.resolve(size) {
                prop_assert!(r.start <= r.end && r.end < size && r.size == size);
                prop_assert_eq!(r.len(), r.end - r.start + 1);
            }
        }
    }

    #[test]
    fn a_from_to_range_resolves_to_its_bounds_clamped_to_the_object(a in 0u64..10_000, len in 0u64..10_000, size in 1u64..10_000) {
        let header = format!("bytes={a}-{}", a + len);
        prop_assert_eq!(range::parse(&header), Some(ByteRangeSpec::FromTo(a, a + len)));
        match ByteRangeSpec::FromTo(a, a + len).resolve(size) {
            Some(r) => prop_assert_eq!((r.start, r.end), (a, (a + len).min(size - 1))),
            None => prop_assert!(a >= size),
        }
    }

    // The empty tag `""` is refused on purpose: a store answer without an ETag must not match it.
    #[test]
    fn entity_tags_round_trip_through_their_header_form(opaque in "[!#-~]{1,20}", weak in any::<bool>()) {
        let tag = EntityTag { weak, opaque: opaque.clone() };
        prop_assert_eq!(EntityTag::parse(&tag.to_header()), Some(tag.clone()));
        let cond = EtagCondition::Tags(vec![tag]);
        prop_assert_eq!(EtagCondition::parse(&cond.to_header()), Some(cond));
    }

    #[test]
    fn any_conditional_header_parses_or_is_ignored(header in ".{0,40}") {
        // Parsed or ignored, never a panic; a parsed list is never empty and round-trips.
        if let Some(cond) = EtagCondition::parse(&header) {
            if let EtagCondition::Tags(tags) = &cond {
                prop_assert!(!tags.is_empty());
            }
            prop_assert_eq!(EtagCondition::parse(&cond.to_header()), Some(cond));
        }
        if let Some(tag) = EntityTag::parse(&header) {
            prop_assert!(!tag.opaque.is_empty());
        }
    }

    // ------------------------------------------------------------ types and lengths

    #[test]
    fn a_content_type_essence_is_lowercase_type_slash_subtype(value in "[a-zA-Z0-9!#$&^_.+-]{1,10}/[a-zA-Z0-9!#$&^_.+-]{1,10}(; ?[a-z]{1,5}=[a-z0-9\"]{0,6}){0,2}") {
        let e = essence(&value).unwrap();
        prop_assert_eq!(e.clone(), e.to_ascii_lowercase());
        prop_assert_eq!(e.matches('/').count(), 1);
        prop_assert_eq!(essence(&e), Some(e.clone()));
    }

    #[test]
    fn any_content_type_header_parses_or_is_refused(value in ".{0,40}") {
        // Refused (a 415 upstream) or reduced to a lowercase `type/subtype` that parses again.
        if let Some(e) = essence(&value) {
            prop_assert_eq!(e.matches('/').count(), 1);
            prop_assert_eq!(e.clone(), e.to_ascii_lowercase());
            prop_assert_eq!(essence(&e), Some(e));
        }
    }

    #[test]
    fn content_length_is_exactly_the_decimal_digits(n in any::<u64>(), junk in "[ +\\-a-z.]{1,3}") {
        prop_assert_eq!(parse_length(&n.to_string()), Some(n));
        prop_assert_eq!(parse_length(&format!("{junk}{n}")).is_some(), junk.trim().is_empty());
        prop_assert_eq!(parse_length(&format!("{n}{junk}")).is_some(), junk.trim().is_empty());
    }

    // ------------------------------------------------------------ tokens

    #[test]
    fn any_bearer_string_is_a_grant_or_a_401(token in "[A-Za-z0-9_.=-]{0,120}|.{0,60}") {
        match futures_executor::block_on(verify(&config().jwt, &token, NOW_MS, &gateway_core::testing::idp::NativeVerifier)) {
            Ok(_) => prop_assert!(false, "an arbitrary string verified: {token}"),
            Err(e) => prop_assert_eq!(e.status(), 401),
        }
    }

    #[test]
    fn any_jwt_header_other_than_an_hs256_one_signed_with_the_secret_is_a_401(alg in prop_oneof![Just("HS256".to_owned()), Just("none".to_owned()), Just("HS512".to_owned()), Just("RS256".to_owned()), Just("EdDSA".to_owned()), Just("ES256".to_owned()), "[A-Za-z0-9]{0,8}"], kid in proptest::option::of("[a-z0-9-]{0,8}"), typ in proptest::option::of("[A-Za-z]{0,5}"), sig in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut header = serde_json::json!({"alg": alg});
        if let Some(k) = kid { header["kid"] = k.into(); }
        if let Some(t) = typ { header["typ"] = t.into(); }
        let claims = serde_json::json!({"sub": "alice", "exp": NOW_S + 600});
        // Any header, with a signature that is not the secret's: never accepted, always a 401.
        let token = handmade(&header, &claims, |_| sig.clone());
        match futures_executor::block_on(verify(&config().jwt, &token, NOW_MS, &gateway_core::testing::idp::NativeVerifier)) {
            Ok(g) => prop_assert!(false, "accepted {header} as {g:?}"),
            Err(e) => prop_assert_eq!(e.status(), 401),
        }
    }

    #[test]
    fn any_claims_object_is_a_grant_or_a_401(sub in proptest::option::of(tricky_text()), prefix in proptest::option::of(tricky_text()), key in proptest::option::of(tricky_text()), scope in proptest::option::of("[a-z ]{0,20}"), max_size in proptest::option::of(any::<u64>())) {
        let mut claims = serde_json::json!({"exp": NOW_S + 600});
        for (name, value) in [("sub", sub.map(serde_json::Value::from)), ("prefix", prefix.map(Into::into)), ("key", key.map(Into::into)), ("scope", scope.map(Into::into)), ("max_size", max_size.map(Into::into))] {
            if let Some(v) = value {
                claims[name] = v;
            }
        }
        match futures_executor::block_on(verify(&config().jwt, &hs256(&claims), NOW_MS, &gateway_core::testing::idp::NativeVerifier)) {
            Ok(g) => {
                prop_assert!(!g.sub.is_empty());
                prop_assert!(gateway_core::key::is_nfc(&g.prefix));
            }
            Err(e) => prop_assert_eq!(e.status(), 401),
        }
    }

    // ------------------------------------------------------------ gateway URLs

    #[test]
    fn a_signed_gateway_url_verifies_and_any_change_to_its_query_does_not(owner in "[a-z]{1,8}", nonce in "[a-z0-9-]{1,12}", max in proptest::option::of(0u64..1u64 << 40), ct in proptest::option::of("[a-z]{1,5}/[a-z]{1,5}"), download in proptest::option::of(".{0,12}"), at in any::<prop::sample::Index>(), with in any::<char>()) {
        let secret = Secret::new("url-signing-secret-0123456789-abcdefgh");
        let cap = Capability { method: "GET".into(), key: "alice/a.txt".into(), expires: NOW_S + 60, owner, max_size: max, content_type: ct, nonce, download: download.clone(), part: None, upload: None, s3: false, direct: false, scan: download.clone().map(|d| format!("\"{d}\"")), metadata: download.clone().map(|d| format!("{{\"m\":\"{d}\"}}")), quota: max.map(|b| format!("{{\"bytes\":{b}}}")) };
        let query = capability::sign(&secret, &cap).unwrap();
        let key = ObjectKey::new("alice/a.txt".into()).unwrap();
        let req = |q: &str| Req::new(http::Method::GET, &format!("/files/alice/a.txt?{q}"));
        prop_assert_eq!(capability::verify(&secret, &req(&query).head, &key, NOW_MS).unwrap(), cap);
        // Replace one character of the query (outside the signature) with another.
        let sig_at = query.rfind("signature=").unwrap();
        let i = at.index(sig_at.max(1));
        let mut chars: Vec<char> = query.chars().collect();
        if i < chars.len() && chars[i] != with && with != '&' && with != '#' {
            chars[i] = with;
            let changed: String = chars.into_iter().collect();
            if let Ok(got) = capability::verify(&secret, &req(&changed).head, &key, NOW_MS) {
                // Only a change that decodes to the same parameters may verify.
                prop_assert_eq!(got, capability::verify(&secret, &req(&query).head, &key, NOW_MS).unwrap());
            }
        }
    }

    /// A part URL signs its upload and part number: with either changed, dropped, or added to
    /// a URL that had none, it no longer verifies.
    #[test]
    fn a_part_urls_upload_and_part_number_are_signed(upload in "[a-z0-9-]{1,36}", other in "[a-z0-9-]{1,36}", number in 1u16..=10_000, shift in 1u16..100) {
        prop_assume!(upload != other);
        let secret = Secret::new("url-signing-secret-0123456789-abcdefgh");
        let base = Capability { method: "PUT".into(), key: "alice/a.bin".into(), expires: NOW_S + 60, owner: "alice".into(), max_size: None, content_type: None, nonce: "n".into(), download: None, part: None, upload: None, s3: false, direct: false, scan: None, metadata: None, quota: None };
        let part = Capability { part: Some((upload.clone(), number)), ..base.clone() };
        let key = ObjectKey::new("alice/a.bin".into()).unwrap();
        let verify = |q: &str| capability::verify(&secret, &Req::new(http::Method::PUT, &format!("/files/alice/a.bin?{q}")).head, &key, NOW_MS);
        let query = capability::sign(&secret, &part).unwrap();
        prop_assert_eq!(verify(&query).unwrap(), part.clone());
        let other_number = number.checked_add(shift).filter(|n| *n <= 10_000).unwrap_or(number - 1).max(1);
        prop_assume!(other_number != number);
        let tampered = [
            query.replace(&format!("uploadId={upload}"), &format!("uploadId={other}")),
            query.replace(&format!("partNumber={number}"), &format!("partNumber={other_number}")),
            query.replace(&format!("&uploadId={upload}&partNumber={number}"), ""),
            format!("uploadId={upload}&partNumber={number}&{}", capability::sign(&secret, &base).unwrap()),
        ];
        for q in tampered {
            prop_assert_eq!(verify(&q).map_err(|e| e.kind), Err(ErrorKind::InvalidSignature), "{}", q);
        }
    }

    /// A URL in S3's dialect signs its upload and its dialect: with the upload changed,
    /// dropped or turned into a part, or the dialect dropped or added, it no longer verifies.
    #[test]
    fn an_s3_urls_upload_and_dialect_are_signed(upload in "[a-z0-9-]{1,36}", other in "[a-z0-9-]{1,36}", method in prop_oneof![Just("GET"), Just("POST"), Just("DELETE")]) {
        prop_assume!(upload != other);
        let secret = Secret::new("url-signing-secret-0123456789-abcdefgh");
        let base = Capability { method: method.into(), key: "alice/a.bin".into(), expires: NOW_S + 60, owner: "alice".into(), max_size: None, content_type: None, nonce: "n".into(), download: None, part: None, upload: None, s3: false, direct: false, scan: None, metadata: None, quota: None };
        let signed = Capability { upload: Some(upload.clone()), s3: true, ..base.clone() };
        let key = ObjectKey::new("alice/a.bin".into()).unwrap();
        let http_method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let verify = |q: &str| capability::verify(&secret, &Req::new(http_method.clone(), &format!("/files/alice/a.bin?{q}")).head, &key, NOW_MS);
        let query = capability::sign(&secret, &signed).unwrap();
        prop_assert_eq!(verify(&query).unwrap(), signed.clone());
        let tampered = [
            query.replace(&format!("uploadId={upload}"), &format!("uploadId={other}")),
            query.replace(&format!("uploadId={upload}&"), ""),
            query.replace(&format!("uploadId={upload}"), &format!("uploadId={upload}&partNumber=1")),
            query.replace("dialect=s3&", ""),
            format!("dialect=s3&{}", capability::sign(&secret, &Capability { upload: Some(upload.clone()), ..base.clone() }).unwrap()),
        ];
        for q in tampered {
            prop_assert_eq!(verify(&q).map_err(|e| e.kind), Err(ErrorKind::InvalidSignature), "{}", q);
        }
    }

    // ------------------------------------------------------------ S3 answers

    #[test]
    fn any_s3_error_answer_maps_to_a_gateway_error_that_hides_the_store(status in 300u16..600, text in ".{0,200}", code in proptest::option::of("[A-Za-z]{1,20}")) {
        // The store's own words (here marked) must never reach the client.
        let message = format!("store-secret-{text}");
        let body = match code { Some(c) => format!("<Error><Code>{c}</Code><Message>{message}</Message></Error>"), None => message.clone() };
        // The parsers read only what is there: a code found is the one in the body.
        if let Some(found) = s3::error_code(&body) {
            let tagged = format!("<Code>{}</Code>", found);
            prop_assert!(body.contains(&tagged));
        }
        prop_assert_eq!(s3::xml_value(&body, "UploadId"), None);
        let err = s3::map_error("put", status, &body);
        prop_assert!((400..600).contains(&err.status()));
        prop_assert!(!err.detail.contains("store-secret-"), "{}", err.detail);
    }

    // ------------------------------------------------------------ multipart rules

    #[test]
    fn parts_in_any_order_of_a_valid_plan_pass_and_complete(size_mib in 5u64..7, count in 1u16..6, last in 1u64..(5 << 20), order in any::<prop::sample::Index>(), declared in any::<bool>()) {
        let size = size_mib * 1024 * 1024;
        let sizes: Vec<u64> = (1..=count).map(|n| if n == count { last.min(size) } else { size }).collect();
        let total: u64 = sizes.iter().sum();
        let declared = declared.then_some(total);
        let mut numbers: Vec<u16> = (1..=count).collect();
        let shift = order.index(numbers.len());
        numbers.rotate_left(shift);
        let mut parts = Vec::new();
        for n in numbers {
            let length = sizes[usize::from(n) - 1];
            let checked = check_part(&parts, declared, n, length);
            // Sent first, a short last part can be checked only against a declared total.
            if checked.is_err() && n == count && parts.is_empty() && declared.is_none() {
                continue;
            }
            prop_assert!(checked.is_ok(), "part {n} of {length}: {:?}", checked);
            parts.push(Part { number: n, size: length, etag: format!("e{n}") });
        }
        if parts.len() == usize::from(count) {
            let done = check_complete(&parts, declared, None, None).unwrap();
            prop_assert_eq!(done.iter().map(|p| p.size).sum::<u64>(), total);
        }
    }

    #[test]
    fn any_part_is_accepted_or_refused_with_a_4xx(recorded in prop::collection::vec((1u16..20, 0u64..(12 << 20)), 0..6), declared in proptest::option::of(0u64..(100 << 20)), number in 0u16..30, length in 0u64..(12 << 20)) {
        let parts: Vec<Part> = recorded.iter().map(|&(n, s)| Part { number: n, size: s, etag: String::new() }).collect();
        if let Err(e) = check_part(&parts, declared, number.max(1), length) {
            prop_assert!((400..500).contains(&e.status()), "{e}");
        }
        if let Err(e) = check_complete(&parts, declared, None, None) {
            prop_assert!((400..500).contains(&e.status()), "{e}");
        }
    }
}

proptest! {
    /// The per-part check reads a summary of the other parts (counters and two index lookups)
    /// instead of all of them; on any set of parts that obeys the rules it decides exactly as
    /// the check over the full list does.
    #[test]
    fn the_summary_check_decides_as_the_full_list_check_on_recorded_parts(size_mib in 5u64..7, count in 1u16..8, last in 1u64..(5 << 20), keep in prop::collection::vec(any::<bool>(), 8), declared in any::<bool>(), number in 1u16..10, length_pick in 0usize..4) {
        use gateway_core::multipart::{check_part_against, OtherParts};
        let size = size_mib * 1024 * 1024;
        let sizes: Vec<u64> = (1..=count).map(|n| if n == count { last.min(size) } else { size }).collect();
        let total: u64 = sizes.iter().sum();
        let declared = declared.then_some(total);
        // Any subset of a valid plan is a set of parts the rules could have recorded.
        let recorded: Vec<Part> = (1..=count).filter(|n| keep[usize::from(*n) - 1]).map(|n| Part { number: n, size: sizes[usize::from(n) - 1], etag: String::new() }).collect();
        if declared.is_none() && recorded.len() == 1 && recorded[0].number == count && count > 1 && recorded[0].size < MIN_PART_BYTES {
            // Without a declared total a short last part alone is accepted only as the only part.
            return Ok(());
        }
        let length = [size, last.min(size), size + 1, 1][length_pick];
        let full = check_part(&recorded, declared, number, length).map_err(|e| e.detail);
        let summary = check_part_against(&OtherParts::of(&recorded, number), declared, number, length).map_err(|e| e.detail);
        prop_assert_eq!(full.is_ok(), summary.is_ok(), "full: {:?} summary: {:?}", full, summary);
    }
}

/// A form body as a browser builds it: `fields`, then the file, then the closing delimiter.
fn form_body(boundary: &str, fields: &[(String, String)], file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").into_bytes(),
        );
    }
    out.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .into_bytes(),
    );
    out.extend_from_slice(file);
    out.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    out
}

proptest! {
    /// Any fields (distinct names; values with line breaks and dashes) and any file bytes come
    /// back exactly, however the body is cut into chunks.
    #[test]
    fn a_form_reads_back_its_fields_and_its_file_in_any_chunking(
        boundary in "[A-Za-z0-9'()+_,.:=?-]{10,40}",
        values in prop::collection::vec("[ -~\r\n]{0,30}", 0..6),
        file in prop::collection::vec(any::<u8>(), 0..3000),
        chunk in 1usize..700,
    ) {
        use gateway_core::form::parse::{read_head, FileScan};
        let fields: Vec<(String, String)> = values.into_iter().enumerate().map(|(i, v)| (format!("field-{i}"), v)).collect();
        let delimiter = format!("\r\n--{boundary}");
        prop_assume!(fields.iter().all(|(_, v)| !format!("\r\n{v}\r\n").contains(&delimiter[2..])));
        prop_assume!(!format!("\r\n{}\r\n", String::from_utf8_lossy(&file)).contains(&delimiter[2..]));
        let body = form_body(&boundary, &fields, &file);
        let head = read_head(&body, &boundary).unwrap().unwrap();
        prop_assert_eq!(&head.fields, &fields);
        let mut scan = FileScan::new(&head, &boundary, body.len() as u64).unwrap();
        let mut got = Vec::new();
        let mut last = None;
        for (i, piece) in body.chunks(chunk).enumerate() {
            let fed = scan.feed((i * chunk) as u64, piece).unwrap();
            got.extend_from_slice(&piece[fed.now]);
            last = last.or(fed.last.map(|at| piece[at]));
        }
        prop_assert_eq!(got.len() + usize::from(last.is_some()), file.len(), "all but the last byte come at once");
        scan.finish().unwrap();
        got.extend(last);
        prop_assert_eq!(got, file);
    }

    /// Arbitrary bytes as a form body never panic: the head is read, asks for more, or is a 4xx.
    #[test]
    fn any_bytes_as_a_form_are_read_or_refused_with_a_4xx(body in prop::collection::vec(any::<u8>(), 0..400), tail in "(--b(--)?\r\n)?") {
        use gateway_core::form::parse::{read_head, FileScan};
        let mut body = body;
        body.extend_from_slice(tail.as_bytes());
        match read_head(&body, "b") {
            Ok(Some(head)) => {
                if let Ok(mut scan) = FileScan::new(&head, "b", body.len() as u64) {
                    let fed = scan.feed(0, &body).and_then(|_| scan.finish());
                    if let Err(e) = fed { prop_assert!((400..500).contains(&e.status()), "{e}"); }
                }
            }
            Ok(None) => {}
            Err(e) => prop_assert!((400..500).contains(&e.status()), "{e}"),
        }
    }

    /// A policy the gateway writes reads back the same; any JSON is read or refused with a 400.
    #[test]
    fn form_policies_round_trip_and_any_document_is_read_or_a_400(
        expiration_s in 0i64..4_000_000_000,
        fields in prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}", any::<bool>()), 0..5),
        range in prop::option::of((0u64..1000, 0u64..1000)),
        junk in ".{0,60}",
    ) {
        use gateway_core::form::policy::{Condition, FormPolicy};
        let mut conditions: Vec<Condition> = fields.into_iter().map(|(field, value, eq)| if eq { Condition::Eq { field, value } } else { Condition::StartsWith { field, prefix: value } }).collect();
        if let Some((a, b)) = range { conditions.push(Condition::LengthRange { min: a.min(b), max: a.max(b) }); }
        let policy = FormPolicy { expiration_ms: expiration_s * 1000, conditions };
        prop_assert_eq!(FormPolicy::from_json(&policy.to_json()).unwrap(), policy);
        if let Err(e) = FormPolicy::from_json(&junk) { prop_assert_eq!(e.status(), 400); }
    }
}
