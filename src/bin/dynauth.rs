//! `dynauth`: the operator CLI (native only, never part of the Worker). It uses the same
//! DynamoDB client, table definition and tenant code as the Worker.
//!
//! ```text
//! dynauth table create                 create the table (PK/SK, GSI1, GSI2, on-demand, TTL on ttl)
//! dynauth table check                  compare the live table with what dynauth expects
//! dynauth table definition             print the CreateTable request as JSON (no credentials needed)
//! dynauth tenant put <id> [--name N] [--origin URL] [--allowed-origin O]... [--protect] [--body JSON]
//! dynauth tenant get <id>
//! dynauth tenant list
//! dynauth domain claim <tenant> <host> [--status ready|pending|disabled]
//! dynauth domain release <tenant> <host>
//! dynauth domain list <tenant>
//! ```
//! Connection flags (each also read from the environment variable in brackets):
//! `--endpoint URL` [DYNAMODB_ENDPOINT], `--region R` [AWS_REGION], `--table T` [DYNAMODB_TABLE],
//! `--access-key-id K` [AWS_ACCESS_KEY_ID], `--secret-access-key S` [AWS_SECRET_ACCESS_KEY],
//! `--session-token T` [AWS_SESSION_TOKEN]; `--json` for JSON output. Key and index names come
//! from the DYNAMODB_* variables of the README's configuration table.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::collections::HashMap;
    use std::time::{Duration, SystemTime};

    use dynauth::api::views::{DomainView, TenantView};
    use dynauth::config::{database_from_lookup, schema_from_lookup};
    use dynauth::dynamo::Client;
    use dynauth::dynamo::table::{self, Schema, TableReport};
    use dynauth::host::{self, Host};
    use dynauth::ids::TenantId;
    use dynauth::input::{Invalid, decode};
    use dynauth::native::{HttpTransport, OsRuntime, block_on};
    use dynauth::runtime::epoch_secs;
    use dynauth::store::Store;
    use dynauth::tenants::{self, DomainStatus, SecretKind, TenantBody, TenantError, TenantSpec};
    use serde_json::{Value, json};

    const USAGE: &str = "usage:
  dynauth table create|check|definition
  dynauth tenant put <id> [--name N] [--origin URL] [--allowed-origin O]... [--protect] [--body JSON]
  dynauth tenant get <id> | tenant list
  dynauth domain claim <tenant> <host> [--status ready|pending|disabled]
  dynauth domain release <tenant> <host> | domain list <tenant>
connection: [--endpoint URL] [--region R] [--table T] [--access-key-id K] [--secret-access-key S] [--session-token T]
output: [--json]";

    /// Flags that stand for configuration variables.
    const VAR_FLAGS: &[(&str, &str)] = &[
        ("--endpoint", "DYNAMODB_ENDPOINT"),
        ("--region", "AWS_REGION"),
        ("--table", "DYNAMODB_TABLE"),
        ("--access-key-id", "AWS_ACCESS_KEY_ID"),
        ("--secret-access-key", "AWS_SECRET_ACCESS_KEY"),
        ("--session-token", "AWS_SESSION_TOKEN"),
    ];
    /// Flags that take a value (repeatable where it makes sense).
    const VALUE_FLAGS: &[&str] = &["--name", "--origin", "--allowed-origin", "--body", "--status"];
    /// Flags without a value.
    const SWITCHES: &[&str] = &["--json", "--protect"];

    #[derive(Default)]
    struct Args {
        words: Vec<String>,
        vars: HashMap<&'static str, String>,
        values: HashMap<&'static str, Vec<String>>,
        switches: Vec<&'static str>,
    }

    impl Args {
        fn value(&self, flag: &str) -> Option<&str> {
            self.values.get(flag).and_then(|v| v.last()).map(String::as_str)
        }

        fn switch(&self, flag: &str) -> bool {
            self.switches.contains(&flag)
        }
    }

    fn parse(args: Vec<String>) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            if arg == "--help" || arg == "-h" {
                return Err(String::new());
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut take = |flag: &str| inline.clone().or_else(|| it.next()).ok_or(format!("{flag} needs a value"));
            if let Some(&(f, var)) = VAR_FLAGS.iter().find(|(f, _)| *f == flag) {
                parsed.vars.insert(var, take(f)?);
            } else if let Some(&f) = VALUE_FLAGS.iter().find(|f| **f == flag) {
                let value = take(f)?;
                parsed.values.entry(f).or_default().push(value);
            } else if let Some(&f) = SWITCHES.iter().find(|f| **f == flag) {
                parsed.switches.push(f);
            } else if arg.starts_with('-') {
                return Err(format!("unknown flag {arg}"));
            } else {
                parsed.words.push(arg);
            }
        }
        Ok(parsed)
    }

    /// Runs the CLI; returns the exit code (0 ok, 1 failed or mismatched, 2 usage).
    pub fn run(args: Vec<String>) -> i32 {
        let args = match parse(args) {
            Ok(a) => a,
            Err(problem) => {
                if !problem.is_empty() {
                    eprintln!("dynauth: {problem}");
                }
                eprintln!("{USAGE}");
                return 2;
            }
        };
        let lookup = |name: &str| args.vars.get(name).cloned().or_else(|| std::env::var(name).ok());
        let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
        let json = args.switch("--json");
        match words.as_slice() {
            ["table", "definition"] => table_definition(&lookup),
            ["table", "create"] => with_client(&lookup, |c, s| table_create(c, s, json)),
            ["table", "check"] => with_client(&lookup, |c, s| table_check(c, s, json)),
            ["tenant", "put", id] => with_client(&lookup, |c, s| exit(tenant_put(c, s, id, &args))),
            ["tenant", "get", id] => with_client(&lookup, |c, s| exit(tenant_get(c, s, id))),
            ["tenant", "list"] => with_client(&lookup, |c, s| exit(tenant_list(c, s))),
            ["domain", "claim", id, host] => with_client(&lookup, |c, s| {
                exit(domain_claim(c, s, id, host, args.value("--status").unwrap_or("ready")))
            }),
            ["domain", "release", id, host] => with_client(&lookup, |c, s| exit(domain_release(c, s, id, host))),
            ["domain", "list", id] => with_client(&lookup, |c, s| exit(domain_list(c, s, id))),
            _ => {
                eprintln!("{USAGE}");
                2
            }
        }
    }

    type Cli = Client<'static>;

    /// Builds the client from flags and environment, then runs `action` with it.
    fn with_client(lookup: &impl Fn(&str) -> Option<String>, action: impl FnOnce(&Cli, &Schema) -> i32) -> i32 {
        let (mut db_config, schema) = match database_from_lookup(lookup) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("dynauth: {e} (set it with a flag or the environment)");
                return 2;
            }
        };
        db_config.retry.deadline = db_config.retry.deadline.max(Duration::from_secs(10));
        let client = Client::new(&db_config, HttpTransport::default(), os());
        action(&client, &schema)
    }

    fn os() -> OsRuntime {
        OsRuntime::new(SystemTime::now)
    }

    fn now() -> i64 {
        epoch_secs(SystemTime::now())
    }

    fn print_json(value: &Value) {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    }

    fn fail(what: &str, e: impl std::fmt::Display) -> i32 {
        eprintln!("dynauth: {what}: {e}");
        1
    }

    fn table_definition(lookup: &impl Fn(&str) -> Option<String>) -> i32 {
        match schema_from_lookup(lookup) {
            Ok(schema) => {
                print_json(&serde_json::to_value(schema.create_table_input()).unwrap_or_default());
                0
            }
            Err(e) => {
                eprintln!("dynauth: {e}");
                2
            }
        }
    }

    fn table_create(client: &Cli, schema: &Schema, json: bool) -> i32 {
        match block_on(table::create(client, schema)) {
            Ok(true) => eprintln!(
                "created table {} ({}/{}, {}, {}, on-demand) with time to live on {}",
                schema.table, schema.pk, schema.sk, schema.gsi1.name, schema.gsi2.name, schema.ttl
            ),
            Ok(false) => eprintln!("table {} already exists; checking it", schema.table),
            Err(e) => return fail(&format!("creating table {}", schema.table), e),
        }
        table_check(client, schema, json)
    }

    fn table_check(client: &Cli, schema: &Schema, json: bool) -> i32 {
        let report = match block_on(table::check(client, schema)) {
            Ok(r) => r,
            Err(e) => return fail(&format!("checking table {}", schema.table), e),
        };
        if json {
            print_json(&serde_json::to_value(&report).unwrap_or_default());
        } else {
            print_report(&report);
        }
        if report.ok() { 0 } else { 1 }
    }

    fn print_report(report: &TableReport) {
        println!("table:   {} ({})", report.table, report.status.as_deref().unwrap_or("missing"));
        println!("indexes: {}", report.indexes.join(", "));
        println!(
            "ttl:     {} on {}",
            report.ttl_status.as_deref().unwrap_or("-"),
            report.ttl_attribute.as_deref().unwrap_or("-")
        );
        if report.ok() {
            println!("ok: the table matches what dynauth expects");
        } else {
            println!("{} mismatch(es):", report.mismatches.len());
            for m in &report.mismatches {
                println!("  - {m}");
            }
        }
    }

    /// Why a command failed, and its exit code (1 failed, 2 usage).
    struct Failure(i32, String);

    type Exit = Result<(), Failure>;

    /// Runs a command, printing its failure; the exit code.
    fn exit(result: Exit) -> i32 {
        match result {
            Ok(()) => 0,
            Err(Failure(code, message)) => {
                eprintln!("dynauth: {message}");
                code
            }
        }
    }

    fn failed(what: &str, e: impl std::fmt::Display) -> Failure {
        Failure(1, format!("{what}: {e}"))
    }

    fn tenant_id(raw: &str) -> Result<TenantId, Failure> {
        TenantId::parse(raw).map_err(|rule| Failure(2, format!("{raw:?} is not a tenant id: {rule}")))
    }

    fn host(raw: &str) -> Result<Host, Failure> {
        host::canonical(raw).map_err(|e| Failure(2, format!("host {raw:?}: {e}")))
    }

    fn tenant_error(what: &str, e: TenantError) -> Failure {
        let text = match e {
            TenantError::NotFound(m) => m.to_string(),
            TenantError::HostTaken => "the host is claimed by another tenant".into(),
            TenantError::TooManyDomains => "the tenant has claimed the most hosts it may".into(),
            TenantError::Contended => "the tenant was changed concurrently; retry".into(),
            TenantError::Db(e) => e.to_string(),
        };
        failed(what, text)
    }

    /// `tenant put`: the body is `--body` (the admin API's JSON), with `--name`, `--origin`,
    /// `--allowed-origin` and `--protect` layered on top; validated exactly as the API does.
    fn tenant_put(client: &Cli, schema: &Schema, id: &str, args: &Args) -> Exit {
        let id = tenant_id(id)?;
        let mut body = match args.value("--body").map(serde_json::from_str::<Value>) {
            None => serde_json::Map::new(),
            Some(Ok(Value::Object(m))) => m,
            Some(_) => return Err(Failure(2, "--body must be a JSON object".into())),
        };
        if let Some(name) = args.value("--name") {
            body.insert("name".into(), json!(name));
        }
        if let Some(origin) = args.value("--origin") {
            body.insert("origin".into(), json!(origin));
        }
        if let Some(origins) = args.values.get("--allowed-origin") {
            body.insert("allowed_origins".into(), json!(origins));
        }
        if args.switch("--protect") {
            body.insert("protect".into(), json!(true));
        }
        let local_targets = std::env::var("ALLOW_LOCAL_TARGETS").is_ok_and(|v| v == "true");
        let spec = decode::<TenantBody>(&Value::Object(body))
            .and_then(|b| TenantSpec::from_body(b, local_targets, &dynauth::budgets::Limits::default()))
            .map_err(|e| match e {
                Invalid::Field { message, .. } => failed("invalid tenant", message),
                other => failed("invalid tenant", format!("{other:?}")),
            })?;
        let store = Store::new(client, schema);
        let (tenant, created) = block_on(tenants::put(&store, &os(), &id, spec, now()))
            .map_err(|e| tenant_error(&format!("putting tenant {id}"), e))?;
        eprintln!("{} tenant {id}", if created { "created" } else { "replaced" });
        let mut view = json!(TenantView::from(&tenant));
        match std::env::var("TOKEN_SECRET").ok().filter(|s| !s.is_empty()) {
            // The tenant's secrets derive from the Worker's TOKEN_SECRET: shown once, as by the API.
            Some(token_secret) if created => {
                let shown =
                    |kind| tenant.secrets(token_secret.as_bytes(), kind).first().map(|s| s.expose().to_string());
                view["secrets"] = json!({"origin": shown(SecretKind::Origin), "webhook": shown(SecretKind::Webhook)});
            }
            None if created => eprintln!(
                "set TOKEN_SECRET (the Worker's) to see the tenant's secrets now, or rotate them later with \
                 POST /v1/admin/tenants/{id}/secrets/{{origin|webhook}}"
            ),
            _ => {}
        }
        print_json(&view);
        Ok(())
    }

    fn tenant_get(client: &Cli, schema: &Schema, id: &str) -> Exit {
        let id = tenant_id(id)?;
        let tenant = block_on(tenants::get(&Store::new(client, schema), &id))
            .map_err(|e| failed(&format!("reading tenant {id}"), e))?;
        print_json(&json!(TenantView::from(&tenant.ok_or_else(|| failed(&format!("tenant {id}"), "not found"))?)));
        Ok(())
    }

    fn tenant_list(client: &Cli, schema: &Schema) -> Exit {
        let store = Store::new(client, schema);
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let (tenants, next) =
                block_on(tenants::list(&store, 100, start)).map_err(|e| failed("listing tenants", e))?;
            all.extend(tenants.iter().map(|t| json!(TenantView::from(t))));
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        print_json(&json!({ "tenants": all }));
        Ok(())
    }

    fn domain_claim(client: &Cli, schema: &Schema, id: &str, raw_host: &str, status: &str) -> Exit {
        let (id, host) = (tenant_id(id)?, host(raw_host)?);
        let status = DomainStatus::parse(status)
            .map_err(|_| Failure(2, "--status must be ready, pending or disabled".into()))?;
        let (domain, created) = block_on(tenants::claim(&Store::new(client, schema), &os(), &id, &host, status, now()))
            .map_err(|e| tenant_error(&format!("claiming {host}"), e))?;
        eprintln!("{} {host} for tenant {id} ({})", if created { "claimed" } else { "updated" }, status.as_str());
        print_json(&json!(DomainView::from(&domain.entry())));
        Ok(())
    }

    fn domain_release(client: &Cli, schema: &Schema, id: &str, raw_host: &str) -> Exit {
        let (id, host) = (tenant_id(id)?, host(raw_host)?);
        block_on(tenants::release(&Store::new(client, schema), &os(), &id, &host))
            .map_err(|e| tenant_error(&format!("releasing {host}"), e))?;
        eprintln!("released {host} from tenant {id}");
        Ok(())
    }

    fn domain_list(client: &Cli, schema: &Schema, id: &str) -> Exit {
        let id = tenant_id(id)?;
        let domains = block_on(tenants::domains(&Store::new(client, schema), &id))
            .map_err(|e| failed(&format!("listing domains of {id}"), e))?
            .ok_or_else(|| failed(&format!("tenant {id}"), "not found"))?;
        print_json(&json!({ "domains": domains.iter().map(DomainView::from).collect::<Vec<_>>() }));
        Ok(())
    }
}
