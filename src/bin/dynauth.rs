//! `dynauth`: the operator CLI (native only, never part of the Worker). It uses the same
//! DynamoDB client and table definition as the Worker.
//!
//! ```text
//! dynauth table create [flags]   create the table (PK/SK, GSI1, GSI2, on-demand, TTL on ttl)
//! dynauth table check  [flags]   compare the live table with what dynauth expects
//! dynauth table definition       print the CreateTable request as JSON (for the AWS CLI's
//!                                `create-table --cli-input-json`); needs no credentials
//! ```
//! Flags (each also read from the environment variable in brackets):
//! `--endpoint URL` [DYNAMODB_ENDPOINT], `--region R` [AWS_REGION], `--table T` [DYNAMODB_TABLE],
//! `--access-key-id K` [AWS_ACCESS_KEY_ID], `--secret-access-key S` [AWS_SECRET_ACCESS_KEY],
//! `--session-token T` [AWS_SESSION_TOKEN], `--json`. Key and index names come from the
//! DYNAMODB_* variables of the README's configuration table.

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

    use dynauth::config::{database_from_lookup, schema_from_lookup};
    use dynauth::dynamo::Client;
    use dynauth::dynamo::table::{self, Schema, TableReport};
    use dynauth::native::{HttpTransport, OsRuntime, block_on};

    const USAGE: &str = "usage: dynauth table create|check|definition [--endpoint URL] [--region R] [--table T] \
[--access-key-id K] [--secret-access-key S] [--session-token T] [--json]";

    const FLAGS: &[(&str, &str)] = &[
        ("--endpoint", "DYNAMODB_ENDPOINT"),
        ("--region", "AWS_REGION"),
        ("--table", "DYNAMODB_TABLE"),
        ("--access-key-id", "AWS_ACCESS_KEY_ID"),
        ("--secret-access-key", "AWS_SECRET_ACCESS_KEY"),
        ("--session-token", "AWS_SESSION_TOKEN"),
    ];

    struct Args {
        words: Vec<String>,
        values: HashMap<&'static str, String>,
        json: bool,
    }

    fn parse(args: Vec<String>) -> Result<Args, String> {
        let mut parsed = Args {
            words: Vec::new(),
            values: HashMap::new(),
            json: false,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            if arg == "--json" {
                parsed.json = true;
            } else if arg == "--help" || arg == "-h" {
                return Err(String::new());
            } else if let Some(&(flag, var)) = FLAGS
                .iter()
                .find(|(f, _)| arg == *f || arg.starts_with(&format!("{f}=")))
            {
                let value = match arg.split_once('=') {
                    Some((_, v)) => v.to_string(),
                    None => it.next().ok_or(format!("{flag} needs a value"))?,
                };
                parsed.values.insert(var, value);
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
        let lookup = |name: &str| {
            args.values
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
        };
        let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["table", "definition"] => table_definition(&lookup),
            ["table", "create"] => with_client(&lookup, |c, s| table_create(c, s, args.json)),
            ["table", "check"] => with_client(&lookup, |c, s| table_check(c, s, args.json)),
            _ => {
                eprintln!("{USAGE}");
                2
            }
        }
    }

    /// Builds the client from flags and environment, then runs `action` with it.
    fn with_client(
        lookup: &impl Fn(&str) -> Option<String>,
        action: impl FnOnce(&Cli, &Schema) -> i32,
    ) -> i32 {
        let (mut db_config, schema) = match database_from_lookup(lookup) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("dynauth: {e} (set it with a flag or the environment)");
                return 2;
            }
        };
        db_config.retry.deadline = db_config.retry.deadline.max(Duration::from_secs(10));
        match Client::new(
            db_config,
            HttpTransport::default(),
            OsRuntime::new(SystemTime::now),
        ) {
            Ok(client) => action(&client, &schema),
            Err(e) => {
                eprintln!("dynauth: {e}");
                2
            }
        }
    }

    fn table_definition(lookup: &impl Fn(&str) -> Option<String>) -> i32 {
        match schema_from_lookup(lookup) {
            Ok(schema) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&schema.create_table_input()).unwrap_or_default()
                );
                0
            }
            Err(e) => {
                eprintln!("dynauth: {e}");
                2
            }
        }
    }

    type Cli = Client<HttpTransport, OsRuntime>;

    fn table_create(client: &Cli, schema: &Schema, json: bool) -> i32 {
        match block_on(table::create(client, schema)) {
            Ok(true) => eprintln!(
                "created table {} ({}/{}, {}, {}, on-demand) with time to live on {}",
                schema.table, schema.pk, schema.sk, schema.gsi1.name, schema.gsi2.name, schema.ttl
            ),
            Ok(false) => eprintln!("table {} already exists; checking it", schema.table),
            Err(e) => {
                eprintln!("dynauth: creating table {} failed: {e}", schema.table);
                return 1;
            }
        }
        table_check(client, schema, json)
    }

    fn table_check(client: &Cli, schema: &Schema, json: bool) -> i32 {
        let report = match block_on(table::check(client, schema)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("dynauth: checking table {} failed: {e}", schema.table);
                return 1;
            }
        };
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        } else {
            print_report(&report);
        }
        if report.ok() { 0 } else { 1 }
    }

    fn print_report(report: &TableReport) {
        println!(
            "table:   {} ({})",
            report.table,
            report.status.as_deref().unwrap_or("missing")
        );
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
}
