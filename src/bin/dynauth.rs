//! `dynauth`: the operator CLI (native only, never part of the Worker). It uses the same
//! DynamoDB client, table definition and tenant code as the Worker.
//!
//! Its commands, flags and usage are the `clap` definitions below (`dynauth --help`, and
//! `--help` after any command, print them); docs/operating.md shows them in use.
//! Exit codes: 0 ok, 1 failed (or a table that does not match), 2 usage, 3 configuration or
//! credentials (missing setting, signature or key refused), 4 not found, 5 conflict. Output goes
//! to stdout (JSON), messages to stderr; a closed pipe ends the CLI quietly. Without explicit
//! keys, credentials (and the region) come from AWS's own chain in the `aws-config` crate: the
//! environment, then the shared credentials and config files (`AWS_PROFILE`,
//! `credential_process`). Key and index names come from the DYNAMODB_* variables of
//! docs/configuration.md.

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

    use std::io::Write as _;

    use dynauth::api::views::{AdminSessionView, DomainView, TenantView, UserView};
    use dynauth::app::settings::{database_from_lookup, replicas_from_lookup, schema_from_lookup};
    use dynauth::domain::sessions::{self, Revoked};
    use dynauth::domain::tenants::Tenant;
    use dynauth::domain::tenants::{self, DomainStatus, SecretKind, TenantBody, TenantError, TenantSpec};
    use dynauth::domain::{login, users};
    use dynauth::dynamo::Client;
    use dynauth::dynamo::ClientConfig;
    use dynauth::dynamo::DynamoError;
    use dynauth::platform::native::{HttpTransport, OsRuntime, block_on};
    use dynauth::platform::runtime::epoch_secs;
    use dynauth::table::schema::{self, Schema, TableReport};
    use dynauth::table::store::Store;
    use dynauth::values::email::Email;
    use dynauth::values::host::{self, Host};
    use dynauth::values::ids::{SessionId, TenantId, UserId};
    use dynauth::values::input::{Invalid, decode};
    use serde_json::{Value, json};

    use clap::{Args, Parser, Subcommand};

    /// Exit codes.
    const OK: i32 = 0;
    const FAILED: i32 = 1;
    const USAGE_ERROR: i32 = 2;
    const CONFIG: i32 = 3;
    const NOT_FOUND: i32 = 4;
    const CONFLICT: i32 = 5;

    /// After the generated usage: what it cannot say.
    const AFTER_HELP: &str = "Without keys, credentials come from the environment, then ~/.aws/credentials and
~/.aws/config with AWS_PROFILE (credential_process too); each connection flag can also be
set by the variable in brackets. Ids may start with -; after a -- every argument is a word
(for ids that start with --).
exit codes: 0 ok, 1 failed, 2 usage, 3 configuration or credentials, 4 not found, 5 conflict
Workers cache a host's tenant for up to 60 s (HOST_CACHE_TTL_SECS): tenant and domain changes
made here reach them within that time (the admin API's own writes take effect at once on its
isolate).";

    /// dynauth's operator CLI: the table, tenants and their domains, users, sessions and codes,
    /// straight in DynamoDB (the same code as the Worker).
    #[derive(Parser, Debug)]
    #[command(
        name = "dynauth",
        version,
        arg_required_else_help = true,
        help_template = "{usage-heading} {usage}\n\n{about-with-newline}\n{all-args}{after-help}",
        after_help = AFTER_HELP
    )]
    struct Command {
        #[command(flatten)]
        connection: Connection,
        /// JSON output
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        what: What,
    }

    /// Where the table is, and the keys (flags over the environment over AWS's chain).
    #[derive(Args, Debug)]
    struct Connection {
        /// DynamoDB's endpoint [DYNAMODB_ENDPOINT]
        #[arg(long, global = true, value_name = "URL")]
        endpoint: Option<String>,
        /// the home region [AWS_REGION]
        #[arg(long, global = true, value_name = "R")]
        region: Option<String>,
        /// the table [DYNAMODB_TABLE]
        #[arg(long, global = true, value_name = "T")]
        table: Option<String>,
        /// an AWS profile [AWS_PROFILE]
        #[arg(long, global = true, value_name = "P")]
        profile: Option<String>,
        /// [AWS_ACCESS_KEY_ID]
        #[arg(long, global = true, value_name = "K")]
        access_key_id: Option<String>,
        /// [AWS_SECRET_ACCESS_KEY]
        #[arg(long, global = true, value_name = "S")]
        secret_access_key: Option<String>,
        /// [AWS_SESSION_TOKEN]
        #[arg(long, global = true, value_name = "T")]
        session_token: Option<String>,
    }

    impl Connection {
        /// The configuration variables the flags set.
        fn vars(&self) -> HashMap<&'static str, String> {
            [
                ("DYNAMODB_ENDPOINT", &self.endpoint),
                ("AWS_REGION", &self.region),
                ("DYNAMODB_TABLE", &self.table),
                ("AWS_PROFILE", &self.profile),
                ("AWS_ACCESS_KEY_ID", &self.access_key_id),
                ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
                ("AWS_SESSION_TOKEN", &self.session_token),
            ]
            .into_iter()
            .filter_map(|(var, value)| value.clone().map(|v| (var, v)))
            .collect()
        }
    }

    #[derive(Subcommand, Debug)]
    enum What {
        /// The table: create it, check it, print its definition
        #[command(subcommand)]
        Table(TableAction),
        /// Tenants
        #[command(subcommand)]
        Tenant(TenantAction),
        /// A tenant's custom domains
        #[command(subcommand)]
        Domain(DomainAction),
        /// A tenant's users
        #[command(subcommand)]
        User(UserAction),
        /// A user's sessions
        #[command(subcommand)]
        Session(SessionAction),
        /// Login codes for a backend that delivers them itself
        #[command(subcommand)]
        Code(CodeAction),
        /// A tenant's OpenID Connect clients
        #[command(subcommand)]
        Client(ClientAction),
    }

    #[derive(Subcommand, Debug)]
    enum ClientAction {
        /// Register or replace a client: --body is the admin API's JSON (a new confidential
        /// client's secret is printed this once)
        Put {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            client_id: String,
            #[arg(long, value_name = "JSON")]
            body: String,
        },
        /// Show a client
        Get {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            client_id: String,
        },
        /// List a tenant's clients
        List {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
        },
        /// Delete a client
        Delete {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            client_id: String,
        },
    }

    #[derive(Subcommand, Debug)]
    enum TableAction {
        /// Create the table (PK/SK, GSI1, GSI2, on-demand, TTL on ttl)
        Create,
        /// Compare the live table (and every region's) with what dynauth expects
        Check,
        /// Print the CreateTable request as JSON (no credentials needed)
        Definition,
    }

    #[derive(Subcommand, Debug)]
    enum TenantAction {
        /// Create or replace a tenant: --body (the admin API's JSON) with the flags on top
        Put {
            #[arg(allow_hyphen_values = true)]
            id: String,
            #[arg(long, value_name = "N")]
            name: Option<String>,
            #[arg(long, value_name = "URL")]
            origin: Option<String>,
            /// repeat for each
            #[arg(long = "allowed-origin", value_name = "O")]
            allowed_origins: Vec<String>,
            #[arg(long)]
            protect: bool,
            #[arg(long, value_name = "JSON")]
            body: Option<String>,
        },
        /// Show a tenant
        Get {
            #[arg(allow_hyphen_values = true)]
            id: String,
        },
        /// List the tenants
        List,
        /// Delete a tenant with its domains
        Delete {
            #[arg(allow_hyphen_values = true)]
            id: String,
        },
    }

    #[derive(Subcommand, Debug)]
    enum DomainAction {
        /// Claim a host for a tenant (or change its status)
        Claim {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            host: String,
            #[arg(long, default_value = "ready", value_name = "ready|pending|disabled")]
            status: String,
        },
        /// Release a tenant's host
        Release {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            host: String,
        },
        /// List a tenant's hosts
        List {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
        },
    }

    #[derive(Subcommand, Debug)]
    enum UserAction {
        /// Show a user
        Get {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            user_id: String,
        },
        /// Find the user with an email
        Find {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(long, value_name = "E")]
            email: String,
        },
        /// Delete a user (and their email claim)
        Delete {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            user_id: String,
        },
        /// Change a user's profile: --body is the admin API's JSON (name, given_name,
        /// family_name, picture, locale; null removes one)
        Profile {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            user_id: String,
            #[arg(long, value_name = "JSON")]
            body: String,
        },
    }

    #[derive(Subcommand, Debug)]
    enum SessionAction {
        /// A user's live sessions
        List {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            user_id: String,
        },
        /// Revoke one session
        Revoke {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            session_id: String,
        },
        /// Revoke every session of a user
        RevokeAll {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            #[arg(allow_hyphen_values = true)]
            user_id: String,
        },
    }

    #[derive(Subcommand, Debug)]
    enum CodeAction {
        /// Issue a login code (printed with its login id and binding)
        Issue {
            #[arg(allow_hyphen_values = true)]
            tenant: String,
            email: String,
        },
    }

    /// Writes a line to stdout; a closed pipe (`dynauth tenant list | head -1`) is not an error.
    fn out(text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Writes a line to stderr, ignoring a closed stderr.
    fn note(text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// Runs the CLI; returns the exit code (see [`AFTER_HELP`]).
    pub fn run(args: Vec<String>) -> i32 {
        let command = match Command::try_parse_from(std::iter::once("dynauth".to_string()).chain(args)) {
            Ok(c) => c,
            Err(e) => {
                // Help and version go to stdout (exit 0); usage errors to stderr (exit 2).
                let text = e.render().to_string();
                return if e.use_stderr() {
                    note(text.trim_end());
                    USAGE_ERROR
                } else {
                    out(text.trim_end());
                    OK
                };
            }
        };
        let vars = command.connection.vars();
        let lookup = |name: &str| vars.get(name).cloned().or_else(|| std::env::var(name).ok());
        let json = command.json;
        match command.what {
            What::Table(TableAction::Definition) => table_definition(&lookup),
            What::Table(TableAction::Create) => with_client(&lookup, |c, s, _| table_create(c, s, json)),
            What::Table(TableAction::Check) => with_client(&lookup, |c, s, regions| table_check(c, s, regions, json)),
            What::Tenant(TenantAction::Put { id, name, origin, allowed_origins, protect, body }) => {
                let put = TenantPut { name, origin, allowed_origins, protect, body };
                with_client(&lookup, |c, s, _| exit(tenant_put(c, s, &id, &put)))
            }
            What::Tenant(TenantAction::Get { id }) => with_client(&lookup, |c, s, _| exit(tenant_get(c, s, &id))),
            What::Tenant(TenantAction::List) => with_client(&lookup, |c, s, _| exit(tenant_list(c, s))),
            What::Tenant(TenantAction::Delete { id }) => with_client(&lookup, |c, s, _| exit(tenant_delete(c, s, &id))),
            What::Domain(DomainAction::Claim { tenant, host, status }) => {
                with_client(&lookup, |c, s, _| exit(domain_claim(c, s, &tenant, &host, &status)))
            }
            What::Domain(DomainAction::Release { tenant, host }) => {
                with_client(&lookup, |c, s, _| exit(domain_release(c, s, &tenant, &host)))
            }
            What::Domain(DomainAction::List { tenant }) => {
                with_client(&lookup, |c, s, _| exit(domain_list(c, s, &tenant)))
            }
            What::User(UserAction::Get { tenant, user_id }) => {
                with_client(&lookup, |c, s, _| exit(user_get(c, s, &tenant, &user_id)))
            }
            What::User(UserAction::Find { tenant, email }) => {
                with_client(&lookup, |c, s, _| exit(user_find(c, s, &tenant, &email)))
            }
            What::User(UserAction::Delete { tenant, user_id }) => {
                with_client(&lookup, |c, s, _| exit(user_delete(c, s, &tenant, &user_id)))
            }
            What::User(UserAction::Profile { tenant, user_id, body }) => {
                with_client(&lookup, |c, s, _| exit(user_profile(c, s, &tenant, &user_id, &body)))
            }
            What::Session(SessionAction::List { tenant, user_id }) => {
                with_client(&lookup, |c, s, _| exit(session_list(c, s, &tenant, &user_id)))
            }
            What::Session(SessionAction::Revoke { tenant, session_id }) => {
                with_client(&lookup, |c, s, _| exit(session_revoke(c, s, &tenant, &session_id)))
            }
            What::Session(SessionAction::RevokeAll { tenant, user_id }) => {
                with_client(&lookup, |c, s, _| exit(session_revoke_all(c, s, &tenant, &user_id)))
            }
            What::Code(CodeAction::Issue { tenant, email }) => {
                with_client(&lookup, |c, s, _| exit(code_issue(c, s, &tenant, &email)))
            }
            What::Client(action) => with_client(&lookup, |c, s, _| exit(client_command(c, s, &action))),
        }
    }

    /// `tenant put`'s flags, layered over its `--body`.
    struct TenantPut {
        name: Option<String>,
        origin: Option<String>,
        allowed_origins: Vec<String>,
        protect: bool,
        body: Option<String>,
    }

    type Cli = Client<'static>;

    /// Builds the client from flags and environment (and, for what they leave out, AWS's own
    /// credential and region chain), then runs `action` with it.
    /// Runs `action` with a client of the home region, the schema, and the regions of
    /// `DYNAMODB_REGIONS`: home first, then the replicas (each with the home region's retries: the
    /// CLI waits, the Worker does not).
    fn with_client(
        lookup: &impl Fn(&str) -> Option<String>,
        action: impl FnOnce(&Cli, &Schema, &[ClientConfig]) -> i32,
    ) -> i32 {
        let explicit = lookup("AWS_ACCESS_KEY_ID").is_some() && lookup("AWS_SECRET_ACCESS_KEY").is_some();
        let chain = if explicit && lookup("AWS_REGION").is_some() {
            HashMap::new()
        } else {
            aws_chain(lookup("AWS_PROFILE"), !explicit, lookup("AWS_REGION").is_none())
        };
        let lookup = |name: &str| lookup(name).or_else(|| chain.get(name).cloned());
        let (mut db_config, schema) = match database_from_lookup(&lookup) {
            Ok(c) => c,
            Err(e) => {
                note(&format!("dynauth: {e} (set it with a flag or the environment)"));
                return CONFIG;
            }
        };
        // An operator waits: a slow first answer (a table being created, a cold DynamoDB Local) is
        // no failure. An attempt may take 10 s, the command 30 s.
        db_config.retry.attempt_timeout = db_config.retry.attempt_timeout.max(Duration::from_secs(10));
        db_config.retry.deadline = db_config.retry.deadline.max(Duration::from_secs(30));
        let regions = match replicas_from_lookup(&lookup, &db_config) {
            Ok(replicas) => std::iter::once(db_config.clone())
                .chain(replicas.into_iter().map(|r| ClientConfig { retry: db_config.retry, ..r }))
                .collect::<Vec<_>>(),
            Err(e) => {
                note(&format!("dynauth: {e} (set it with a flag or the environment)"));
                return CONFIG;
            }
        };
        let client = Client::new(&db_config, HttpTransport::default(), os());
        action(&client, &schema, &regions)
    }

    /// What AWS's credential chain (`aws-config`: the environment, then the shared credentials
    /// and config files, `AWS_PROFILE` or `profile`, `credential_process`) and its profile
    /// region provider give, as the variables the CLI reads. Empty when they give nothing.
    fn aws_chain(profile: Option<String>, credentials: bool, region: bool) -> HashMap<&'static str, String> {
        use aws_config::environment::EnvironmentVariableCredentialsProvider;
        use aws_config::meta::credentials::CredentialsProviderChain;
        use aws_config::meta::region::ProvideRegion;
        use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
        use aws_credential_types::provider::ProvideCredentials;

        let mut found = HashMap::new();
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return found;
        };
        runtime.block_on(async {
            let mut file_credentials = ProfileFileCredentialsProvider::builder();
            let mut file_region = ProfileFileRegionProvider::builder();
            if let Some(p) = &profile {
                file_credentials = file_credentials.profile_name(p);
                file_region = file_region.profile_name(p);
            }
            if credentials {
                let chain =
                    CredentialsProviderChain::first_try("Environment", EnvironmentVariableCredentialsProvider::new())
                        .or_else("Profile", file_credentials.build());
                match chain.provide_credentials().await {
                    Ok(c) => {
                        found.insert("AWS_ACCESS_KEY_ID", c.access_key_id().to_string());
                        found.insert("AWS_SECRET_ACCESS_KEY", c.secret_access_key().to_string());
                        if let Some(token) = c.session_token() {
                            found.insert("AWS_SESSION_TOKEN", token.to_string());
                        }
                    }
                    Err(e) => {
                        note(&format!("dynauth: no AWS credentials from the environment or the profile files: {e}"))
                    }
                }
            }
            if region && let Some(r) = file_region.build().region().await {
                found.insert("AWS_REGION", r.to_string());
            }
        });
        found
    }

    fn os() -> OsRuntime {
        OsRuntime::new(SystemTime::now)
    }

    fn now() -> i64 {
        epoch_secs(SystemTime::now())
    }

    fn print_json(value: &Value) {
        out(&serde_json::to_string_pretty(value).unwrap_or_default());
    }

    fn fail(what: &str, e: DynamoError) -> i32 {
        let Failure(code, message) = failed(what, e);
        note(&format!("dynauth: {message}"));
        code
    }

    fn table_definition(lookup: &impl Fn(&str) -> Option<String>) -> i32 {
        match schema_from_lookup(lookup) {
            Ok(schema) => {
                print_json(&serde_json::to_value(schema.create_table_input()).unwrap_or_default());
                0
            }
            Err(e) => {
                note(&format!("dynauth: {e}"));
                CONFIG
            }
        }
    }

    fn table_create(client: &Cli, schema: &Schema, json: bool) -> i32 {
        match block_on(schema::create(client, schema)) {
            Ok(true) => note(&format!(
                "created table {} ({}/{}, {}, {}, on-demand) with time to live on {}",
                schema.table, schema.pk, schema.sk, schema.gsi1.name, schema.gsi2.name, schema.ttl
            )),
            Ok(false) => note(&format!("table {} already exists; checking it", schema.table)),
            Err(e) => return fail(&format!("creating table {}", schema.table), e),
        }
        table_check(client, schema, &[], json)
    }

    /// Checks the table, and with `DYNAMODB_REGIONS` every replica of it (JSON: one report, or
    /// `{"regions": [{"region", ...report}]}`, home first).
    fn table_check(client: &Cli, schema: &Schema, regions: &[ClientConfig], json: bool) -> i32 {
        let (home, replicas) = match regions.split_first() {
            Some((home, replicas)) => (home.region.clone(), replicas),
            None => (String::new(), &[][..]),
        };
        let report = match block_on(schema::check(client, schema)) {
            Ok(r) => r,
            Err(e) => return fail(&format!("checking table {}", schema.table), e),
        };
        if replicas.is_empty() {
            if json {
                print_json(&serde_json::to_value(&report).unwrap_or_default());
            } else {
                print_report(&report);
            }
            return if report.ok() { OK } else { FAILED };
        }
        let mut reports = vec![(home, report)];
        for replica in replicas {
            let db = Client::new(replica, HttpTransport::default(), os());
            match block_on(schema::check(&db, schema)) {
                Ok(r) => reports.push((replica.region.clone(), r)),
                Err(e) => return fail(&format!("checking table {} in {}", schema.table, replica.region), e),
            }
        }
        let all_ok = reports.iter().all(|(_, r)| r.ok());
        if json {
            let regions: Vec<serde_json::Value> = reports
                .iter()
                .map(|(region, r)| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    v["region"] = json!(region);
                    v
                })
                .collect();
            print_json(&json!({ "regions": regions }));
        } else {
            for (region, r) in &reports {
                out(&format!("region:  {region}"));
                print_report(r);
            }
        }
        if all_ok { OK } else { FAILED }
    }

    fn print_report(report: &TableReport) {
        out(&format!("table:   {} ({})", report.table, report.status.as_deref().unwrap_or("missing")));
        out(&format!("indexes: {}", report.indexes.join(", ")));
        out(&format!(
            "ttl:     {} on {}",
            report.ttl_status.as_deref().unwrap_or("-"),
            report.ttl_attribute.as_deref().unwrap_or("-")
        ));
        if report.ok() {
            out("ok: the table matches what dynauth expects");
        } else {
            out(&format!("{} mismatch(es):", report.mismatches.len()));
            for m in &report.mismatches {
                out(&format!("  - {m}"));
            }
        }
    }

    /// Why a command failed, and its exit code.
    struct Failure(i32, String);

    type Exit = Result<(), Failure>;

    /// Runs a command, printing its failure; the exit code.
    fn exit(result: Exit) -> i32 {
        match result {
            Ok(()) => OK,
            Err(Failure(code, message)) => {
                note(&format!("dynauth: {message}"));
                code
            }
        }
    }

    /// A DynamoDB failure: credentials or a missing table are configuration (3), the rest 1.
    fn failed(what: &str, e: DynamoError) -> Failure {
        let config = matches!(e, DynamoError::SignatureRejected { .. })
            || matches!(e.code(), Some("ResourceNotFoundException" | "AccessDeniedException"));
        Failure(if config { CONFIG } else { FAILED }, format!("{what}: {e}"))
    }

    fn not_found(what: &str) -> Failure {
        Failure(NOT_FOUND, format!("{what}: not found"))
    }

    fn tenant_id(raw: &str) -> Result<TenantId, Failure> {
        TenantId::parse(raw).map_err(|rule| Failure(USAGE_ERROR, format!("{raw:?} is not a tenant id: {rule}")))
    }

    fn host(raw: &str) -> Result<Host, Failure> {
        host::canonical(raw).map_err(|e| Failure(USAGE_ERROR, format!("host {raw:?}: {e}")))
    }

    fn tenant_error(what: &str, e: TenantError) -> Failure {
        let (code, text) = match e {
            TenantError::NotFound(m) => (NOT_FOUND, m.to_string()),
            TenantError::HostTaken => (CONFLICT, "the host is claimed by another tenant".into()),
            TenantError::TooManyDomains => (CONFLICT, "the tenant has claimed the most hosts it may".into()),
            TenantError::Contended => (CONFLICT, "the tenant was changed concurrently; retry".into()),
            TenantError::Db(e) => return failed(what, e),
        };
        Failure(code, format!("{what}: {text}"))
    }

    /// The tenant `raw` (a consistent read), or not found.
    fn existing_tenant(store: &Store<'_>, raw: &str) -> Result<Tenant, Failure> {
        let id = tenant_id(raw)?;
        block_on(tenants::get(store, &id))
            .map_err(|e| failed(&format!("reading tenant {id}"), e))?
            .ok_or_else(|| not_found(&format!("tenant {id}")))
    }

    fn user_id(raw: &str) -> Result<UserId, Failure> {
        UserId::parse(raw).map_err(|rule| Failure(USAGE_ERROR, format!("{raw:?} is not a user id: {rule}")))
    }

    /// `tenant put`: the body is `--body` (the admin API's JSON), with `--name`, `--origin`,
    /// `--allowed-origin` and `--protect` layered on top; validated exactly as the API does.
    fn tenant_put(client: &Cli, schema: &Schema, id: &str, args: &TenantPut) -> Exit {
        let id = tenant_id(id)?;
        let mut body = match args.body.as_deref().map(serde_json::from_str::<Value>) {
            None => serde_json::Map::new(),
            Some(Ok(Value::Object(m))) => m,
            Some(_) => return Err(Failure(USAGE_ERROR, "--body must be a JSON object".into())),
        };
        if let Some(name) = &args.name {
            body.insert("name".into(), json!(name));
        }
        if let Some(origin) = &args.origin {
            body.insert("origin".into(), json!(origin));
        }
        if !args.allowed_origins.is_empty() {
            body.insert("allowed_origins".into(), json!(args.allowed_origins));
        }
        if args.protect {
            body.insert("protect".into(), json!(true));
        }
        let local_targets = std::env::var("ALLOW_LOCAL_TARGETS").is_ok_and(|v| v == "true");
        let spec = decode::<TenantBody>(&Value::Object(body))
            .and_then(|b| TenantSpec::from_body(b, local_targets, &dynauth::domain::budgets::Limits::default()))
            .map_err(|e| match e {
                Invalid::Field { message, .. } => Failure(USAGE_ERROR, format!("invalid tenant: {message}")),
                other => Failure(USAGE_ERROR, format!("invalid tenant: {other:?}")),
            })?;
        if let Some(authjs) = &spec.authjs {
            // As the admin API does: the Auth.js table checked against the setting before saving.
            block_on(sessions::authjs::check_table(client, authjs))
                .map_err(|e| failed("describing the Auth.js table", e))?
                .map_err(|message| Failure(USAGE_ERROR, format!("invalid tenant: {message}")))?;
        }
        let store = Store::new(client, schema);
        let (tenant, created) = block_on(tenants::put(&store, &os(), &id, spec, now()))
            .map_err(|e| tenant_error(&format!("putting tenant {id}"), e))?;
        note(&format!("{} tenant {id}", if created { "created" } else { "replaced" }));
        let mut view = json!(TenantView::from(&tenant));
        match std::env::var("TOKEN_SECRET").ok().filter(|s| !s.is_empty()) {
            // The tenant's secrets derive from the Worker's TOKEN_SECRET: shown once, as by the API.
            Some(token_secret) if created => {
                let shown =
                    |kind| tenant.secrets(token_secret.as_bytes(), kind).first().map(|s| s.expose().to_string());
                view["secrets"] = json!({"origin": shown(SecretKind::Origin), "webhook": shown(SecretKind::Webhook)});
            }
            None if created => note(&format!(
                "set TOKEN_SECRET (the Worker's) to see the tenant's secrets now, or rotate them later with \
                 POST /v1/admin/tenants/{id}/secrets/{{origin|webhook}}"
            )),
            _ => {}
        }
        print_json(&view);
        Ok(())
    }

    fn tenant_get(client: &Cli, schema: &Schema, id: &str) -> Exit {
        let tenant = existing_tenant(&Store::new(client, schema), id)?;
        print_json(&json!(TenantView::from(&tenant)));
        Ok(())
    }

    /// `tenant delete`: the tenant and all its domains, in one transaction. Its users, sessions
    /// and codes stop working at once (they belong to its generation) and leave with their TTL.
    fn tenant_delete(client: &Cli, schema: &Schema, id: &str) -> Exit {
        let id = tenant_id(id)?;
        block_on(tenants::delete(&Store::new(client, schema), &os(), &id))
            .map_err(|e| tenant_error(&format!("deleting tenant {id}"), e))?;
        note(&format!("deleted tenant {id} and released its domains"));
        Ok(())
    }

    fn user_get(client: &Cli, schema: &Schema, tenant: &str, user: &str) -> Exit {
        let store = Store::new(client, schema);
        let (tenant, user) = (existing_tenant(&store, tenant)?, user_id(user)?);
        let found = block_on(users::get(&store, &tenant, &user)).map_err(|e| failed("reading the user", e))?;
        print_json(&json!(UserView::from(&found.ok_or_else(|| not_found(&format!("user {user}")))?)));
        Ok(())
    }

    fn user_find(client: &Cli, schema: &Schema, tenant: &str, raw: &str) -> Exit {
        let store = Store::new(client, schema);
        let tenant = existing_tenant(&store, tenant)?;
        let email = Email::parse(raw).map_err(|e| Failure(USAGE_ERROR, format!("--email {e}")))?;
        let found =
            block_on(users::find_by_email(&store, &tenant, &email)).map_err(|e| failed("finding the user", e))?;
        print_json(&json!(UserView::from(&found.ok_or_else(|| not_found(&format!("a user with email {email}")))?)));
        Ok(())
    }

    fn user_delete(client: &Cli, schema: &Schema, tenant: &str, user: &str) -> Exit {
        let store = Store::new(client, schema);
        let (tenant, user) = (existing_tenant(&store, tenant)?, user_id(user)?);
        match block_on(users::delete(&store, &os(), &tenant, &user, now()))
            .map_err(|e| failed("deleting the user", e))?
        {
            Some(_) => {
                note(&format!("deleted user {user} (its sessions revoked, its email freed)"));
                Ok(())
            }
            None => Err(not_found(&format!("user {user}"))),
        }
    }

    /// `user profile`: the same change as `PATCH .../users/{id}`; prints the user.
    fn user_profile(client: &Cli, schema: &Schema, tenant: &str, user: &str, body: &str) -> Exit {
        let store = Store::new(client, schema);
        let (tenant, user) = (existing_tenant(&store, tenant)?, user_id(user)?);
        let body: Value =
            serde_json::from_str(body).map_err(|e| Failure(USAGE_ERROR, format!("--body is not JSON: {e}")))?;
        let change = decode::<users::ProfileChange>(&body).map_err(|e| match e {
            Invalid::Field { message, .. } => Failure(USAGE_ERROR, format!("invalid profile: {message}")),
            other => Failure(USAGE_ERROR, format!("invalid profile: {other:?}")),
        })?;
        let changed = block_on(users::change_profile(&store, &tenant, &user, change, now()))
            .map_err(|e| failed("changing the profile", e))?
            .ok_or_else(|| not_found(&format!("user {user}")))?;
        print_json(&json!(UserView::from(&changed)));
        Ok(())
    }

    /// `session list`: every live session of the user, newest first (all pages).
    fn session_list(client: &Cli, schema: &Schema, tenant: &str, user: &str) -> Exit {
        let store = Store::new(client, schema);
        let (tenant, user) = (existing_tenant(&store, tenant)?, user_id(user)?);
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = block_on(sessions::list_live(&store, &tenant, &user, 100, start, now()))
                .map_err(|e| failed("listing sessions", e))?;
            all.extend(page.iter().map(|s| json!(AdminSessionView::from(s))));
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        print_json(&json!({ "sessions": all }));
        Ok(())
    }

    fn session_revoke(client: &Cli, schema: &Schema, tenant: &str, session: &str) -> Exit {
        let store = Store::new(client, schema);
        let tenant = existing_tenant(&store, tenant)?;
        let id = SessionId::parse(session).map_err(|_| not_found(&format!("session {session}")))?;
        match block_on(sessions::revoke(&store, &tenant.id, &id, now())).map_err(|e| failed("revoking", e))? {
            Revoked::Now => note(&format!("revoked session {id}")),
            Revoked::Already => note(&format!("session {id} was already revoked")),
            Revoked::NoSuchSession => return Err(not_found(&format!("session {id}"))),
        }
        Ok(())
    }

    fn session_revoke_all(client: &Cli, schema: &Schema, tenant: &str, user: &str) -> Exit {
        let store = Store::new(client, schema);
        let (tenant, user) = (existing_tenant(&store, tenant)?, user_id(user)?);
        let revoked =
            block_on(sessions::revoke_all(&store, &tenant, &user, now())).map_err(|e| failed("revoking", e))?;
        print_json(&json!({ "revoked": revoked.len() }));
        Ok(())
    }

    /// `code issue`: a login code for a backend that delivers it itself (as the admin API's
    /// `POST /v1/admin/tenants/{id}/codes`); needs the Worker's TOKEN_SECRET, which keys the code.
    fn code_issue(client: &Cli, schema: &Schema, tenant: &str, email: &str) -> Exit {
        let store = Store::new(client, schema);
        let tenant = existing_tenant(&store, tenant)?;
        let email = Email::parse(email).map_err(|e| Failure(USAGE_ERROR, format!("email {e}")))?;
        let secret = std::env::var("TOKEN_SECRET").ok().filter(|s| s.len() >= 32).ok_or_else(|| {
            Failure(CONFIG, "TOKEN_SECRET (the Worker's, 32+ characters) is needed: codes are keyed with it".into())
        })?;
        let random = os();
        let limits = dynauth::domain::budgets::Limits::default();
        let logins = login::Logins { store: &store, random: &random, secret: secret.as_bytes(), limits: &limits };
        let caller = login::Caller { address: "cli", binding: None };
        let issued = block_on(logins.issue(caller, &tenant, &email, now())).map_err(|e| failed("issuing a code", e))?;
        print_json(&json!({
            "login_id": issued.login.login_id.as_str(),
            "code": issued.code.expose(),
            "expires_at": dynauth::platform::runtime::rfc3339_secs(issued.login.expires_at),
            "binding": issued.binding.expose(),
        }));
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
            .map_err(|_| Failure(USAGE_ERROR, "--status must be ready, pending or disabled".into()))?;
        let (domain, created) = block_on(tenants::claim(&Store::new(client, schema), &os(), &id, &host, status, now()))
            .map_err(|e| tenant_error(&format!("claiming {host}"), e))?;
        note(&format!("{} {host} for tenant {id} ({})", if created { "claimed" } else { "updated" }, status.as_str()));
        print_json(&json!(DomainView::from(&domain.entry())));
        Ok(())
    }

    fn domain_release(client: &Cli, schema: &Schema, id: &str, raw_host: &str) -> Exit {
        let (id, host) = (tenant_id(id)?, host(raw_host)?);
        block_on(tenants::release(&Store::new(client, schema), &os(), &id, &host))
            .map_err(|e| tenant_error(&format!("releasing {host}"), e))?;
        note(&format!("released {host} from tenant {id}"));
        Ok(())
    }

    fn domain_list(client: &Cli, schema: &Schema, id: &str) -> Exit {
        let id = tenant_id(id)?;
        let domains = block_on(tenants::domains(&Store::new(client, schema), &id))
            .map_err(|e| failed(&format!("listing domains of {id}"), e))?
            .ok_or_else(|| not_found(&format!("tenant {id}")))?;
        print_json(&json!({ "domains": domains.iter().map(DomainView::from).collect::<Vec<_>>() }));
        Ok(())
    }

    /// `client put|get|list|delete`, as the admin API does them.
    fn client_command(client: &Cli, schema: &Schema, action: &ClientAction) -> Exit {
        use dynauth::api::views::{ClientSaved, ClientView};
        use dynauth::domain::tenants::clients::{self, ClientBody, ClientSpec};
        use dynauth::values::ids::ClientId;
        let store = Store::new(client, schema);
        let client_id = |raw: &str| {
            ClientId::parse(raw).map_err(|rule| Failure(USAGE_ERROR, format!("{raw:?} is not a client id: {rule}")))
        };
        match action {
            ClientAction::Put { tenant, client_id: raw, body } => {
                let id = client_id(raw)?;
                let tenant = existing_tenant(&store, tenant)?;
                let body: Value =
                    serde_json::from_str(body).map_err(|e| Failure(USAGE_ERROR, format!("--body is not JSON: {e}")))?;
                let local_targets = std::env::var("ALLOW_LOCAL_TARGETS").is_ok_and(|v| v == "true");
                let spec =
                    decode::<ClientBody>(&body).and_then(|b| ClientSpec::from_body(b, local_targets)).map_err(|e| {
                        match e {
                            Invalid::Field { message, .. } => {
                                Failure(USAGE_ERROR, format!("invalid client: {message}"))
                            }
                            other => Failure(USAGE_ERROR, format!("invalid client: {other:?}")),
                        }
                    })?;
                let (saved, secret, created) = block_on(clients::put(&store, &os(), &tenant, &id, spec, now()))
                    .map_err(|e| tenant_error(&format!("putting client {id}"), e))?;
                note(&format!("{} client {id} of {}", if created { "registered" } else { "replaced" }, tenant.id));
                print_json(&json!(ClientSaved {
                    client: ClientView::from(&saved),
                    client_secret: secret.as_ref().map(clients::ClientSecret::expose)
                }));
            }
            ClientAction::Get { tenant, client_id: raw } => {
                let id = client_id(raw)?;
                let tenant = existing_tenant(&store, tenant)?;
                let found = block_on(clients::get(&store, &tenant, &id))
                    .map_err(|e| failed(&format!("reading client {id}"), e))?
                    .ok_or_else(|| not_found(&format!("client {id}")))?;
                print_json(&json!(ClientView::from(&found)));
            }
            ClientAction::List { tenant } => {
                let tenant = existing_tenant(&store, tenant)?;
                let mut all = Vec::new();
                let mut start = None;
                loop {
                    let (page, next) = block_on(clients::list(&store, &tenant, 100, start))
                        .map_err(|e| failed(&format!("listing clients of {}", tenant.id), e))?;
                    all.extend(page);
                    match next {
                        Some(k) => start = Some(k),
                        None => break,
                    }
                }
                print_json(&json!({ "clients": all.iter().map(ClientView::from).collect::<Vec<_>>() }));
            }
            ClientAction::Delete { tenant, client_id: raw } => {
                let id = client_id(raw)?;
                let tenant = existing_tenant(&store, tenant)?;
                if !block_on(clients::delete(&store, &tenant, &id))
                    .map_err(|e| failed(&format!("deleting client {id}"), e))?
                {
                    return Err(not_found(&format!("client {id}")));
                }
                let revoked = block_on(dynauth::domain::oidc::revoke_client_grants(&store, &tenant, &id, now()))
                    .map_err(|e| failed(&format!("revoking the grants of client {id}"), e))?;
                note(&format!("deleted client {id} of {} ({revoked} grants revoked)", tenant.id));
            }
        }
        Ok(())
    }
}
