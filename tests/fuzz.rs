//! Fuzz targets for the parsers that face the network: host canonicalisation, the
//! `Authorization` and `Cookie` headers, JSON request bodies, pagination cursors, and DynamoDB's
//! answers (error bodies and items). Each target checks properties, not only "no panic": a
//! canonical host canonicalises to itself, a cursor decodes to the key it was made from and
//! nothing else, a bad body is a 4xx naming its problem, a record read from the wire is what the
//! attribute map gives.
//!
//! Inputs come from a seeded mutator (bit flips, interesting bytes and tokens, deletions,
//! duplications, splices of the seed inputs and of `tests/fixtures/fuzz/<target>/*`), on stable
//! Rust: `cargo test` runs every saved input and a short fixed-seed run of each target; `npm run
//! fuzz` (`FUZZ_SECS` per target, default 30) runs them for a while and prints the executions.
//! An input that breaks a property is saved under `tests/fixtures/fuzz/<target>/` and fails the
//! run; fixed, it stays there as a regression test.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dynauth::api::body;
use dynauth::api::cookies::{self, CookieMode};
use dynauth::domain::sessions::SessionToken;
use dynauth::domain::tenants::{TenantBody, TenantSpec};
use dynauth::dynamo::error::{classify, parse_error};
use dynauth::dynamo::{Item, WireItem, from_item};
use dynauth::table::cursor;
use dynauth::values::host;

type Target = fn(&[u8]) -> Result<(), String>;

const TARGETS: &[(&str, Target, &[&str])] = &[
    (
        "host",
        host_target,
        &[
            "auth.acme.test",
            "Auth.ACME.test:8443",
            "bücher.example.",
            "xn--bcher-kva.example",
            "0x7f.0.0.2",
            "127.1",
            "[::1]:80",
            "a..b",
            "localhost",
            "ＡＢＣ．example",
            "https://acme.test",
        ],
    ),
    (
        "authorization",
        authorization_target,
        &[
            "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "bearer  x ",
            "Basic dXNlcjpwYXNz",
            "__Host-dynauth=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; other=1",
            "a=b; __Host-dynauth=; dynauth_local=x",
        ],
    ),
    (
        "json_input",
        json_input_target,
        &[
            r#"{"name":"Acme"}"#,
            r#"{"name":"Acme","allowed_origins":["https://app.acme.test"],"session":{"lifetime_secs":3600}}"#,
            r#"{"name":"","origin":"http://x","protect":true,"login_code":{"length":9}}"#,
            r#"{"name":"A","unknown":1}"#,
            r#"[1,2]"#,
            r#"{"name":"A","session":{"idle_lifetime_secs":-1}}"#,
        ],
    ),
    ("cursor", cursor_target, &[r#"{"PK":{"S":"TENANT#acme"},"SK":{"S":"TENANT"}}"#, r#"{"n":{"N":"1"}}"#]),
    (
        "dynamo_answer",
        dynamo_answer_target,
        &[
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow"}"#,
            r#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","Message":"x"}"#,
            "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>",
            "<html>502</html>",
            r#"{"s":{"S":"a"},"n":{"N":"-1.5e3"},"l":{"L":[{"M":{"b":{"BOOL":true}}}]},"z":{"NULL":true},"ss":{"SS":["a"]}}"#,
        ],
    ),
];

/// Every saved input of every target, and a short fixed-seed run of each.
#[test]
fn saved_inputs_and_a_short_run_hold() {
    for (name, target, seeds) in TARGETS {
        for (path, input) in saved(name) {
            if let Err(e) = check(*target, &input) {
                panic!("{name}: {} breaks a property: {e}", path.display());
            }
        }
        let execs = run(name, *target, seeds, 20_260_125, Budget::Executions(2_000));
        assert_eq!(execs, 2_000);
    }
}

/// `npm run fuzz`: each target for `FUZZ_SECS` seconds (default 30), from a seed of the clock.
#[test]
#[ignore = "long: npm run fuzz"]
fn fuzz_for_a_while() {
    let secs = std::env::var("FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("fuzz: seed {seed}, {secs} s per target");
    for (name, target, seeds) in TARGETS {
        let execs = run(name, *target, seeds, seed, Budget::Time(Duration::from_secs(secs)));
        println!("fuzz: {name}: {execs} executions, no property broken");
    }
}

// ---- the targets -------------------------------------------------------------------------------

/// A host canonicalises to a lowercase ASCII name of at most 253 characters with no port, and
/// canonicalising that again changes nothing; the same for web origins.
fn host_target(input: &[u8]) -> Result<(), String> {
    let raw = String::from_utf8_lossy(input);
    if let Ok(h) = host::canonical(&raw) {
        let h = h.as_str();
        if h.len() > 253 || h.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase() || b == b':') {
            return Err(format!("{raw:?} -> {h:?}: not a canonical host"));
        }
        match host::canonical(h) {
            Ok(again) if again.as_str() == h => {}
            other => return Err(format!("{raw:?} -> {h:?} -> {other:?}: not idempotent")),
        }
    }
    if let Ok(origin) = host::web_origin(&raw) {
        match host::web_origin(&origin) {
            Ok(again) if again == origin => {}
            other => return Err(format!("{raw:?} -> {origin:?} -> {other:?}: origin not idempotent")),
        }
    }
    Ok(())
}

/// The presented token: a bearer credential is trimmed and came with a `bearer` scheme in any
/// case; a token that parses is 43 characters; the cookie is only read without a bearer.
fn authorization_target(input: &[u8]) -> Result<(), String> {
    let Ok(value) = http::HeaderValue::from_bytes(input) else {
        return Ok(());
    };
    for header in ["authorization", "cookie"] {
        let request = http::Request::builder()
            .uri("https://auth.acme.test/v1/session")
            .header(header, value.clone())
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let bearer = cookies::bearer(&request);
        if let Some(token) = bearer {
            let text = value.to_str().unwrap_or_default().trim_start();
            if token != token.trim() || !text.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("bearer")) {
                return Err(format!("{value:?} -> bearer {token:?}"));
            }
        }
        for mode in [CookieMode::Secure, CookieMode::Local] {
            if let Some(presented) = cookies::presented(&request, mode) {
                if presented.bearer != bearer.is_some() {
                    return Err(format!("{value:?}: presented {presented:?} but bearer {bearer:?}"));
                }
                if let Some(token) = presented.token()
                    && token.expose().len() != 43
                {
                    return Err(format!("{value:?}: a token of {} characters", token.expose().len()));
                }
            }
        }
    }
    if let Some(token) = SessionToken::parse(&String::from_utf8_lossy(input))
        && SessionToken::parse(token.expose()).map(|t| t.id()) != Some(token.id())
    {
        return Err("a parsed token does not parse to itself".into());
    }
    Ok(())
}

/// A tenant body: a typed value, or a 4xx error whose code says which kind and whose message
/// names the problem; never a 5xx, never a panic.
fn json_input_target(input: &[u8]) -> Result<(), String> {
    let request = http::Request::builder()
        .method("PUT")
        .uri("https://admin.dynauth.test/v1/admin/tenants/acme")
        .header("content-type", "application/json")
        .body(input.to_vec())
        .map_err(|e| e.to_string())?;
    match body::json::<TenantBody>(&request) {
        Ok(body) => {
            if let Err(e) = TenantSpec::from_body(body, false, &dynauth::domain::budgets::Limits::default()) {
                let e = dynauth::api::ApiError::from(e);
                if e.status() != 400 || e.message().is_empty() {
                    return Err(format!("a spec error {} {:?}", e.status(), e.message()));
                }
            }
        }
        Err(e) => {
            let known =
                ["invalid_json", "invalid_request", "unknown_fields", "payload_too_large", "unsupported_media_type"];
            if !(400..500).contains(&e.status()) || !known.contains(&e.code()) || e.message().is_empty() {
                return Err(format!("{} {} {:?}", e.status(), e.code(), e.message()));
            }
        }
    }
    Ok(())
}

/// A cursor made from a key decodes to that key, and to nothing when any one byte of it changes
/// (or when it is read for another list); arbitrary text decodes to nothing.
fn cursor_target(input: &[u8]) -> Result<(), String> {
    const SECRET: &[u8] = b"fuzz-secret-0123456789-0123456789";
    let text = String::from_utf8_lossy(input);
    if cursor::decode(SECRET, "list", &text).is_some() {
        return Err(format!("{text:?} decoded without being made by encode"));
    }
    let Ok(key) = serde_json::from_slice::<Item>(input) else {
        return Ok(());
    };
    let made = cursor::encode(SECRET, "list", &key);
    if cursor::decode(SECRET, "list", &made).as_ref() != Some(&key) {
        return Err(format!("{made:?} does not decode to its key"));
    }
    if cursor::decode(SECRET, "other", &made).is_some() {
        return Err("a cursor decoded for another list".into());
    }
    let bytes = made.as_bytes();
    let at = input.len() % bytes.len().max(1);
    let mut changed = bytes.to_vec();
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8_lossy(&changed).into_owned();
    if changed != made && cursor::decode(SECRET, "list", &changed).is_some() {
        return Err(format!("{changed:?} (one byte changed) still decodes"));
    }
    Ok(())
}

/// An error answer: a typed error whose code has no namespace, whatever the body; an item: read
/// straight from the wire it is what the attribute map gives.
fn dynamo_answer_target(input: &[u8]) -> Result<(), String> {
    let status = 400 + u16::from(input.first().copied().unwrap_or(0)) % 200;
    let header = (input.get(1).copied().unwrap_or(0) % 3 == 0)
        .then(|| String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned());
    let e = parse_error(status, header.as_deref(), input);
    if let Some(code) = e.code()
        && (code.contains('#') || code.contains(':') || code.is_empty())
    {
        return Err(format!("code {code:?}"));
    }
    if e.to_string().is_empty() {
        return Err("an error without a message".into());
    }
    let _ = (classify(&e, true), classify(&e, false), e.is_unavailable());
    let item = serde_json::from_slice::<Item>(input).ok();
    let wire = serde_json::from_slice::<WireItem>(input).ok();
    match (item, wire) {
        (Some(item), Some(wire)) => {
            let via_map: serde_json::Value = from_item(item).map_err(|e| e.to_string())?;
            if serde_json::Value::Object(wire.0) != via_map {
                return Err("the wire reading differs from the attribute map's".into());
            }
        }
        (Some(_), None) => return Err("an item the attribute map reads but the wire reader refuses".into()),
        (None, Some(_)) => return Err("an item the wire reader takes but the attribute map refuses".into()),
        (None, None) => {}
    }
    Ok(())
}

// ---- the engine --------------------------------------------------------------------------------

enum Budget {
    Executions(u64),
    Time(Duration),
}

/// Runs `target` on mutations of its seeds and saved inputs; panics (after saving the input)
/// on the first broken property or panic. The number of executions.
fn run(name: &str, target: Target, seeds: &[&str], seed: u64, budget: Budget) -> u64 {
    let mut corpus: Vec<Vec<u8>> = seeds.iter().map(|s| s.as_bytes().to_vec()).collect();
    corpus.extend(saved(name).into_iter().map(|(_, input)| input));
    let mut rng =
        Rng(seed ^ name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)));
    let started = Instant::now();
    let mut execs = 0u64;
    loop {
        match budget {
            Budget::Executions(n) if execs >= n => break,
            Budget::Time(d) if execs.is_multiple_of(256) && started.elapsed() >= d => break,
            _ => {}
        }
        let input = mutate(&mut rng, &corpus);
        execs += 1;
        if let Err(problem) = check(target, &input) {
            let path = save(name, &input);
            panic!("{name}: a property broke after {execs} executions: {problem}\n  input saved to {}", path.display());
        }
    }
    execs
}

fn check(target: Target, input: &[u8]) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| target(input))) {
        Ok(result) => result,
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

const TOKENS: &[&str] = &[
    "%",
    "%2",
    "%ZZ",
    "%00",
    "%e9",
    ".",
    "..",
    ":",
    ":0",
    ":65536",
    "[",
    "]",
    "0x",
    "0X",
    "xn--",
    "-",
    "@",
    "/",
    "?",
    "#",
    " ",
    "  ",
    "\t",
    ";",
    "=",
    ",",
    "\"",
    "\\",
    "{",
    "}",
    "[]",
    "{}",
    "null",
    "true",
    "-0",
    "1e999",
    "9999999999999999999",
    "ß",
    "．",
    "。",
    "\u{200b}",
    "\u{fffd}",
    "İ",
    "Ⅻ",
    "\u{0}",
    "bearer ",
    "BEARER ",
    "__Host-dynauth=",
    r#"{"S":"x"}"#,
    r#"{"N":"1"}"#,
    r#"{"M":{}}"#,
    r#"{"L":[]}"#,
    r#"{"NULL":true}"#,
    r#""__type":"a#b""#,
    "\"Message\":",
];

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = corpus[rng.below(corpus.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, [0u8, 0x7f, 0xff, b'0', b'9', b'a', b'Z', 0xc3][rng.below(8)]),
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            3 if !data.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(data.len());
                data.drain(at.min(data.len() - 1)..end);
            }
            4 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(16)).min(data.len());
                let part = data[start..end].to_vec();
                data.splice(at..at, part);
            }
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let i = rng.below(data.len() + 1);
                data.truncate(i);
            }
        }
        data.truncate(2048);
    }
    data
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name)
}

/// The saved inputs of target `name`, sorted by file name.
fn saved(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir(name))
        .map(|entries| {
            entries.flatten().filter_map(|e| std::fs::read(e.path()).ok().map(|bytes| (e.path(), bytes))).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn save(name: &str, input: &[u8]) -> PathBuf {
    let path = dir(name).join(format!("found-{}", dynauth::platform::crypto::hash_b64(input)));
    let _ = std::fs::create_dir_all(dir(name));
    let _ = std::fs::write(&path, input);
    path
}
