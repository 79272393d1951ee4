//! `dynauth`: the operator CLI (native only, never part of the Worker). It runs on the native
//! host (`dynauth::host::native`: the settings read once into the Worker's `Config`), and each
//! command that changes or reads tenants, domains, users, sessions, codes or clients calls the
//! admin API's own use case in `dynauth::app`; only the table commands talk to the schema
//! directly.
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
    use std::io::Write as _;
    use std::time::SystemTime;

    use clap::{Args, Parser, Subcommand};
    use serde_json::{Value, json};

    use dynauth::api::views::{AdminSessionView, ClientSaved, ClientView, DomainView, TenantView, UserView};
    use dynauth::app::pages::Page;
    use dynauth::app::sessions::Ended;
    use dynauth::app::settings::schema_from_lookup;
    use dynauth::app::{ApiError, Ctx, clients, codes, domains, sessions, tenants, users};
    use dynauth::domain::tenants::clients::ClientBody;
    use dynauth::domain::tenants::{DomainStatus, TenantBody};
    use dynauth::domain::users::ProfileChange;
    use dynauth::dynamo::{Client, DynamoError};
    use dynauth::host::native::Native;
    use dynauth::platform::native::block_on;
    use dynauth::table::schema::{self, TableReport};
    use dynauth::values::email::Email;
    use dynauth::values::host::{self, Host};
    use dynauth::values::ids::{ClientId, TenantId, UserId};
    use dynauth::values::input::{Invalid, decode};

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
        if let What::Table(TableAction::Definition) = command.what {
            return table_definition(&lookup);
        }
        // Every other command runs on the native host: the settings read once, as the Worker's.
        let host = match Native::from_lookup(lookup, SystemTime::now) {
            Ok(host) => host,
            Err(e) => {
                note(&format!("dynauth: {e} (set it with a flag or the environment)"));
                return CONFIG;
            }
        };
        let json = command.json;
        match command.what {
            What::Table(TableAction::Definition) => table_definition(&lookup),
            What::Table(TableAction::Create) => table_create(&host, json),
            What::Table(TableAction::Check) => table_check(&host, json),
            what => exit(host.run(|ctx| act(ctx, &host, what))),
        }
    }

    /// Runs a command that is one of the app's use cases (the admin API's own), on `ctx`.
    fn act(ctx: &Ctx<'_>, host: &Native, what: What) -> Exit {
        match what {
            What::Table(_) => Ok(()),
            What::Tenant(TenantAction::Put { id, name, origin, allowed_origins, protect, body }) => {
                let put = TenantPut { name, origin, allowed_origins, protect, body };
                tenant_put(ctx, host, &id, &put)
            }
            What::Tenant(TenantAction::Get { id }) => tenant_get(ctx, &id),
            What::Tenant(TenantAction::List) => tenant_list(ctx),
            What::Tenant(TenantAction::Delete { id }) => tenant_delete(ctx, &id),
            What::Domain(DomainAction::Claim { tenant, host, status }) => domain_claim(ctx, &tenant, &host, &status),
            What::Domain(DomainAction::Release { tenant, host }) => domain_release(ctx, &tenant, &host),
            What::Domain(DomainAction::List { tenant }) => domain_list(ctx, &tenant),
            What::User(UserAction::Get { tenant, user_id }) => user_get(ctx, &tenant, &user_id),
            What::User(UserAction::Find { tenant, email }) => user_find(ctx, &tenant, &email),
            What::User(UserAction::Delete { tenant, user_id }) => user_delete(ctx, &tenant, &user_id),
            What::User(UserAction::Profile { tenant, user_id, body }) => user_profile(ctx, &tenant, &user_id, &body),
            What::Session(SessionAction::List { tenant, user_id }) => session_list(ctx, &tenant, &user_id),
            What::Session(SessionAction::Revoke { tenant, session_id }) => session_revoke(ctx, &tenant, &session_id),
            What::Session(SessionAction::RevokeAll { tenant, user_id }) => session_revoke_all(ctx, &tenant, &user_id),
            What::Code(CodeAction::Issue { tenant, email }) => code_issue(ctx, host, &tenant, &email),
            What::Client(action) => client_command(ctx, &action),
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

    fn table_create(host: &Native, json: bool) -> i32 {
        let schema = &host.config.schema;
        match block_on(schema::create(&host.home(), schema)) {
            Ok(true) => note(&format!(
                "created table {} ({}/{}, {}, {}, on-demand) with time to live on {}",
                schema.table, schema.pk, schema.sk, schema.gsi1.name, schema.gsi2.name, schema.ttl
            )),
            Ok(false) => note(&format!("table {} already exists; checking it", schema.table)),
            Err(e) => return fail(&format!("creating table {}", schema.table), e),
        }
        check_tables(host, &[], json)
    }

    /// Checks the table, and with `DYNAMODB_REGIONS` every replica of it (JSON: one report, or
    /// `{"regions": [{"region", ...report}]}`, home first).
    fn table_check(host: &Native, json: bool) -> i32 {
        check_tables(host, &host.config.replicas, json)
    }

    fn check_tables(host: &Native, replicas: &[dynauth::dynamo::ClientConfig], json: bool) -> i32 {
        use dynauth::app::Connect as _;
        let schema = &host.config.schema;
        let report = match block_on(schema::check(&host.home(), schema)) {
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
        let mut reports = vec![(host.config.dynamo.region.clone(), report)];
        for replica in replicas {
            let db: Client<'_> = host.client(replica);
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

    /// A use case's failure, as the CLI says it: `what` was being done in tenant `tenant`;
    /// `missing`, when given, names what a 404 did not find (else the use case's message says it).
    /// A tenant that is not there is `tenant {id}: not found` (4); a conflict 5; refused input 2;
    /// DynamoDB refusing the credentials or not having the table 3 (`ApiError::Refused`);
    /// anything else 1.
    fn failure(e: ApiError, what: &str, tenant: &dyn std::fmt::Display, missing: Option<&str>) -> Failure {
        match e {
            e if e == tenants::no_tenant() => not_found(&format!("tenant {tenant}")),
            ApiError::NotFound { message, .. } => match missing {
                Some(missing) => not_found(missing),
                None => Failure(NOT_FOUND, format!("{what}: {message}")),
            },
            ApiError::Conflict { message, .. } => Failure(CONFLICT, format!("{what}: {message}")),
            ApiError::BadRequest { message, .. } => Failure(USAGE_ERROR, format!("{what}: {message}")),
            ApiError::Config(e) => Failure(CONFIG, e.to_string()),
            ApiError::Refused { detail } => Failure(CONFIG, format!("{what}: {detail}")),
            other => Failure(
                FAILED,
                format!("{what}: {}", other.log_detail().map_or_else(|| other.message(), str::to_string)),
            ),
        }
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

    fn user_id(raw: &str) -> Result<UserId, Failure> {
        UserId::parse(raw).map_err(|rule| Failure(USAGE_ERROR, format!("{raw:?} is not a user id: {rule}")))
    }

    /// `--body`'s JSON as `T`, refused (2) as `invalid {what}: ...` naming the field.
    fn body_of<T: serde::de::DeserializeOwned>(body: &Value, what: &str) -> Result<T, Failure> {
        decode::<T>(body).map_err(|e| match e {
            Invalid::Field { message, .. } => Failure(USAGE_ERROR, format!("invalid {what}: {message}")),
            other => Failure(USAGE_ERROR, format!("invalid {what}: {other:?}")),
        })
    }

    fn json_arg(body: &str) -> Result<Value, Failure> {
        serde_json::from_str(body).map_err(|e| Failure(USAGE_ERROR, format!("--body is not JSON: {e}")))
    }

    /// `tenant put`: the body is `--body` (the admin API's JSON), with `--name`, `--origin`,
    /// `--allowed-origin` and `--protect` layered on top; put by the admin API's own use case
    /// ([`tenants::put`]), so validated with this deployment's settings as the API does.
    fn tenant_put(ctx: &Ctx<'_>, host: &Native, id: &str, args: &TenantPut) -> Exit {
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
        let body: TenantBody = body_of(&Value::Object(body), "tenant")?;
        let saved = block_on(tenants::put(ctx, &id, body)).map_err(|e| match e {
            ApiError::BadRequest { message, .. } => Failure(USAGE_ERROR, format!("invalid tenant: {message}")),
            e => failure(e, &format!("putting tenant {id}"), &id, None),
        })?;
        note(&format!("{} tenant {id}", if saved.created { "created" } else { "replaced" }));
        let mut view = json!(TenantView::from(&saved.tenant));
        match &saved.secrets {
            // The tenant's secrets derive from the Worker's TOKEN_SECRET: shown once, as by the API.
            Some(secrets) if host.token_secret() => {
                view["secrets"] = json!({"origin": secrets.origin.expose(), "webhook": secrets.webhook.expose()});
            }
            _ if saved.created && !host.token_secret() => note(&format!(
                "set TOKEN_SECRET (the Worker's) to see the tenant's secrets now, or rotate them later with \
                 POST /v1/admin/tenants/{id}/secrets/{{origin|webhook}}"
            )),
            _ => {}
        }
        print_json(&view);
        Ok(())
    }

    fn tenant_get(ctx: &Ctx<'_>, id: &str) -> Exit {
        let id = tenant_id(id)?;
        let tenant =
            block_on(tenants::get(ctx, &id)).map_err(|e| failure(e, &format!("reading tenant {id}"), &id, None))?;
        print_json(&json!(TenantView::from(&tenant)));
        Ok(())
    }

    /// `tenant delete`: the tenant and all its domains, in one transaction. Its users, sessions
    /// and codes stop working at once (they belong to its generation) and leave with their TTL.
    fn tenant_delete(ctx: &Ctx<'_>, id: &str) -> Exit {
        let id = tenant_id(id)?;
        block_on(tenants::delete(ctx, &id)).map_err(|e| failure(e, &format!("deleting tenant {id}"), &id, None))?;
        note(&format!("deleted tenant {id} and released its domains"));
        Ok(())
    }

    fn tenant_list(ctx: &Ctx<'_>) -> Exit {
        let mut all = Vec::new();
        let mut page = Page::first(100);
        loop {
            let listed = block_on(tenants::list(ctx, &page)).map_err(|e| failure(e, "listing tenants", &"-", None))?;
            all.extend(listed.items.iter().map(|t| json!(TenantView::from(t))));
            match listed.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        print_json(&json!({ "tenants": all }));
        Ok(())
    }

    fn user_get(ctx: &Ctx<'_>, tenant: &str, user: &str) -> Exit {
        let (tenant, user) = (tenant_id(tenant)?, user_id(user)?);
        let found = block_on(users::get(ctx, &tenant, &user))
            .map_err(|e| failure(e, "reading the user", &tenant, Some(&format!("user {user}"))))?;
        print_json(&json!(UserView::from(&found)));
        Ok(())
    }

    fn user_find(ctx: &Ctx<'_>, tenant: &str, raw: &str) -> Exit {
        let tenant = tenant_id(tenant)?;
        let email = Email::parse(raw).map_err(|e| Failure(USAGE_ERROR, format!("--email {e}")))?;
        let found =
            block_on(users::find(ctx, &tenant, &email)).map_err(|e| failure(e, "finding the user", &tenant, None))?;
        print_json(&json!(UserView::from(&found.ok_or_else(|| not_found(&format!("a user with email {email}")))?)));
        Ok(())
    }

    /// `user delete`: as the admin API's (its sessions ended, every client they signed in to
    /// told over the back channel, then the user and its email claim deleted).
    fn user_delete(ctx: &Ctx<'_>, tenant: &str, user: &str) -> Exit {
        let (tenant, user) = (tenant_id(tenant)?, user_id(user)?);
        block_on(users::delete(ctx, &tenant, &user))
            .map_err(|e| failure(e, "deleting the user", &tenant, Some(&format!("user {user}"))))?;
        note(&format!("deleted user {user} (its sessions revoked, its email freed)"));
        Ok(())
    }

    /// `user profile`: the same change as `PATCH .../users/{id}`; prints the user.
    fn user_profile(ctx: &Ctx<'_>, tenant: &str, user: &str, body: &str) -> Exit {
        let (tenant, user) = (tenant_id(tenant)?, user_id(user)?);
        let change: ProfileChange = body_of(&json_arg(body)?, "profile")?;
        let changed = block_on(users::change_profile(ctx, &tenant, &user, change))
            .map_err(|e| failure(e, "changing the profile", &tenant, Some(&format!("user {user}"))))?;
        print_json(&json!(UserView::from(&changed)));
        Ok(())
    }

    /// `session list`: every live session of the user, newest first (all pages).
    fn session_list(ctx: &Ctx<'_>, tenant: &str, user: &str) -> Exit {
        let (tenant, user) = (tenant_id(tenant)?, user_id(user)?);
        let mut all = Vec::new();
        let mut page = Page::first(100);
        loop {
            let listed = block_on(sessions::list(ctx, &tenant, &user, &page))
                .map_err(|e| failure(e, "listing sessions", &tenant, None))?;
            all.extend(listed.items.iter().map(|s| json!(AdminSessionView::from(s))));
            match listed.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        print_json(&json!({ "sessions": all }));
        Ok(())
    }

    /// `session revoke`: as the admin API's: the session ended, every client it signed in to
    /// told over the back channel (again, when it had ended before).
    fn session_revoke(ctx: &Ctx<'_>, tenant: &str, session: &str) -> Exit {
        let tenant = tenant_id(tenant)?;
        let ended = block_on(sessions::revoke(ctx, &tenant, session))
            .map_err(|e| failure(e, "revoking", &tenant, Some(&format!("session {session}"))))?;
        match ended {
            Ended::Already => note(&format!("session {session} was already revoked")),
            Ended::Now(_) | Ended::Nothing => note(&format!("revoked session {session}")),
        }
        Ok(())
    }

    /// `session revoke-all`: as the admin API's, notices included.
    fn session_revoke_all(ctx: &Ctx<'_>, tenant: &str, user: &str) -> Exit {
        let (tenant, user) = (tenant_id(tenant)?, user_id(user)?);
        let revoked =
            block_on(sessions::revoke_all(ctx, &tenant, &user)).map_err(|e| failure(e, "revoking", &tenant, None))?;
        print_json(&json!({ "revoked": revoked }));
        Ok(())
    }

    /// `code issue`: a login code for a backend that delivers it itself (the admin API's
    /// `POST /v1/admin/tenants/{id}/codes`); needs the Worker's TOKEN_SECRET, which keys the code.
    fn code_issue(ctx: &Ctx<'_>, host: &Native, tenant: &str, email: &str) -> Exit {
        let tenant = tenant_id(tenant)?;
        let email = Email::parse(email).map_err(|e| Failure(USAGE_ERROR, format!("email {e}")))?;
        if !host.token_secret() {
            return Err(Failure(
                CONFIG,
                "TOKEN_SECRET (the Worker's, 32+ characters) is needed: codes are keyed with it".into(),
            ));
        }
        let issued = block_on(codes::issue(ctx, &tenant, &email, None, codes::Asker::Operator))
            .map_err(|e| failure(e, "issuing a code", &tenant, None))?;
        print_json(&json!({
            "login_id": issued.login.login_id.as_str(),
            "code": issued.code.expose(),
            "expires_at": dynauth::platform::runtime::rfc3339_secs(issued.login.expires_at),
            "binding": issued.binding.expose(),
        }));
        Ok(())
    }

    fn domain_claim(ctx: &Ctx<'_>, id: &str, raw_host: &str, status: &str) -> Exit {
        let (id, host) = (tenant_id(id)?, host(raw_host)?);
        let status = DomainStatus::parse(status)
            .map_err(|_| Failure(USAGE_ERROR, "--status must be ready, pending or disabled".into()))?;
        let (domain, created) = block_on(domains::claim(ctx, &id, &host, status))
            .map_err(|e| failure(e, &format!("claiming {host}"), &id, None))?;
        note(&format!("{} {host} for tenant {id} ({})", if created { "claimed" } else { "updated" }, status.as_str()));
        print_json(&json!(DomainView::from(&domain.entry())));
        Ok(())
    }

    fn domain_release(ctx: &Ctx<'_>, id: &str, raw_host: &str) -> Exit {
        let (id, host) = (tenant_id(id)?, host(raw_host)?);
        block_on(domains::release(ctx, &id, &host)).map_err(|e| failure(e, &format!("releasing {host}"), &id, None))?;
        note(&format!("released {host} from tenant {id}"));
        Ok(())
    }

    fn domain_list(ctx: &Ctx<'_>, id: &str) -> Exit {
        let id = tenant_id(id)?;
        let domains = block_on(domains::list(ctx, &id))
            .map_err(|e| failure(e, &format!("listing domains of {id}"), &id, None))?;
        print_json(&json!({ "domains": domains.iter().map(DomainView::from).collect::<Vec<_>>() }));
        Ok(())
    }

    /// `client put|get|list|delete`, as the admin API does them.
    fn client_command(ctx: &Ctx<'_>, action: &ClientAction) -> Exit {
        let client_id = |raw: &str| {
            ClientId::parse(raw).map_err(|rule| Failure(USAGE_ERROR, format!("{raw:?} is not a client id: {rule}")))
        };
        match action {
            ClientAction::Put { tenant, client_id: raw, body } => {
                let (tenant, id) = (tenant_id(tenant)?, client_id(raw)?);
                let body: ClientBody = body_of(&json_arg(body)?, "client")?;
                let saved = block_on(clients::put(ctx, &tenant, &id, body)).map_err(|e| match e {
                    ApiError::BadRequest { message, .. } => Failure(USAGE_ERROR, format!("invalid client: {message}")),
                    e => failure(e, &format!("putting client {id}"), &tenant, None),
                })?;
                note(&format!("{} client {id} of {tenant}", if saved.created { "registered" } else { "replaced" }));
                print_json(&json!(ClientSaved {
                    client: ClientView::from(&saved.client),
                    client_secret: saved.secret.as_ref().map(dynauth::domain::tenants::clients::ClientSecret::expose)
                }));
            }
            ClientAction::Get { tenant, client_id: raw } => {
                let (tenant, id) = (tenant_id(tenant)?, client_id(raw)?);
                let found = block_on(clients::get(ctx, &tenant, &id))
                    .map_err(|e| failure(e, &format!("reading client {id}"), &tenant, Some(&format!("client {id}"))))?;
                print_json(&json!(ClientView::from(&found)));
            }
            ClientAction::List { tenant } => {
                let tenant = tenant_id(tenant)?;
                let mut all = Vec::new();
                let mut page = Page::first(100);
                loop {
                    let listed = block_on(clients::list(ctx, &tenant, &page))
                        .map_err(|e| failure(e, &format!("listing clients of {tenant}"), &tenant, None))?;
                    all.extend(listed.items);
                    match listed.next_cursor {
                        Some(c) => page.cursor = Some(c),
                        None => break,
                    }
                }
                print_json(&json!({ "clients": all.iter().map(ClientView::from).collect::<Vec<_>>() }));
            }
            ClientAction::Delete { tenant, client_id: raw } => {
                let (tenant, id) = (tenant_id(tenant)?, client_id(raw)?);
                let revoked = block_on(clients::delete(ctx, &tenant, &id)).map_err(|e| {
                    failure(e, &format!("deleting client {id}"), &tenant, Some(&format!("client {id}")))
                })?;
                note(&format!("deleted client {id} of {tenant} ({revoked} grants revoked)"));
            }
        }
        Ok(())
    }
}
