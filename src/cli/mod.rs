//! The command line (SPEC §8): parse → one store call → print a table or `--json`.
//! Errors print one sentence on stderr and map to the exit codes of `error::Error`.

mod packages;
mod policy;
mod print;
mod resources;
pub mod streams;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::{Value, json};

use crate::domain::user::Profile;
use crate::error::{Error, Result};
use crate::store::{self, Access, NewUser, RoleRef, Store, UserChange, UserRef};
use crate::text::{display_safe, json_terminal_safe};

/// A terminal console for an application's users, roles and permissions.
///
/// Without a command, opens the console. The database is one SQLite file (--db PATH,
/// else $ROLECALL_DB, else ~/.local/share/rolecall/rolecall.db) or a PostgreSQL
/// database (--db postgres://user@host/dbname).
#[derive(Debug, Parser)]
#[command(name = "rolecall", version, about, long_about = None)]
pub struct Cli {
    /// The database: a SQLite file, or a postgres:// URL (created and seeded when missing).
    #[arg(long, global = true, env = "ROLECALL_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Browse only: every change is refused and the file is opened read-only.
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Print JSON instead of text (listings, show, check, diff).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A group of subcommands (`users`, `roles`, ...) whose arguments clap builds only
/// when the group is the one asked for: building every group's arguments on every
/// start costs `check`, which an application may run per request, a third of a
/// millisecond. Help, completions and the manual page build everything
/// ([`command`]).
#[derive(Debug)]
pub struct Deferred<T>(pub T);

/// Whether [`Deferred`] groups wait to be used; [`command`] turns it off, for clap
/// copies the tree of its `help` subcommand (which completions list) from the
/// groups as they stand when their parent is built.
static DEFER_GROUPS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl<T: Subcommand> Subcommand for Deferred<T> {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        match DEFER_GROUPS.load(std::sync::atomic::Ordering::Relaxed) {
            true => cmd.defer(T::augment_subcommands),
            false => T::augment_subcommands(cmd),
        }
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        match DEFER_GROUPS.load(std::sync::atomic::Ordering::Relaxed) {
            true => cmd.defer(T::augment_subcommands_for_update),
            false => T::augment_subcommands_for_update(cmd),
        }
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sample data, then the console: a temporary database unless --db names one.
    Demo {
        /// How many sample users.
        #[arg(long, default_value_t = 250)]
        users: usize,
        /// Fill the database and exit instead of opening the console.
        #[arg(long)]
        no_tui: bool,
    },
    /// List, show, add and change users.
    #[command(subcommand)]
    Users(Deferred<UsersCommand>),
    /// List, show, create and change roles and their permissions.
    #[command(subcommand)]
    Roles(Deferred<RolesCommand>),
    /// Packages (also called groups or teams): they include roles, users are their
    /// members, and a member holds every permission of every role they include.
    #[command(subcommand)]
    Packages(Deferred<packages::PackagesCommand>),
    /// Every active user allowed PERMISSION, with how: a direct role or a package.
    WhoCan {
        /// A permission key, or a category key (users allowed any permission under it).
        permission: String,
        /// On one resource (TYPE:KEY): exceptions and team ownership count.
        #[arg(long, value_name = "TYPE:KEY")]
        on: Option<String>,
    },
    /// Resources the application registers (databases, lists, journeys): their
    /// packages, and roles' exceptions for them (`roles exception`).
    #[command(subcommand)]
    Resources(Deferred<resources::ResourcesCommand>),
    /// Show the permission catalog.
    #[command(subcommand)]
    Catalog(Deferred<CatalogCommand>),
    /// May USERNAME do PERMISSION? Prints allowed or denied; exit 0 or 1.
    Check {
        /// The user, matched exactly (as the user_permissions view matches).
        username: String,
        /// A permission key, or a category key (allowed when any permission under it is).
        permission: String,
        /// Say why: which role grants it, or what is missing.
        #[arg(long)]
        explain: bool,
        /// Decide for one resource (TYPE:KEY): a role's exception for it replaces its
        /// general grants of the permissions the type scopes.
        #[arg(long, value_name = "TYPE:KEY")]
        on: Option<String>,
    },
    /// The audit log, newest first.
    Audit {
        /// How many rows to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only changes made by this actor (the name before " from ADDRESS" or " via ...").
        #[arg(long, value_name = "NAME")]
        actor: Option<String>,
        /// Only these actions: a whole action (role.update) or its first part (role).
        #[arg(long, value_name = "ACTION")]
        action: Option<String>,
        /// Only changes of this user, role or other target, by its exact name.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// Only changes at or after this UTC time (2026-11-30 or 2026-11-30T08:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Write the catalog, roles, packages and users as JSON (rolecall/2; rolecall/3 with
    /// resource types, resources, exceptions and fixed roles when there are any), the users as
    /// CSV, or the grants as a Casbin model and policy.
    Export {
        /// What to write.
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// Write to this file (json, csv) or folder (casbin) instead of standard output.
        /// Only a regular file or a new path is written (and in a casbin folder, model.conf
        /// and policy.csv likewise): a symbolic link, FIFO, device or folder is refused, never
        /// replaced. A new file is created private (0600); an existing file is replaced whole,
        /// except one with other hard links, which is rewritten in place so every name sees
        /// the export and it keeps its mode.
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Copy this whole database (users with their password hashes, roles, packages,
    /// resources, the audit log) to another backend: a PostgreSQL database that has no
    /// tables yet, or a SQLite file that does not exist yet.
    Copy {
        /// postgres://USER@HOST/DBNAME?sslmode=... naming an empty database, or the
        /// path of a new file.
        #[arg(long, value_name = "URL|PATH")]
        to: PathBuf,
    },
    /// Apply a rolecall/3, rolecall/2 or rolecall/1 JSON file: roles and packages matched by name,
    /// users by username, all in one transaction. Roles, packages and users the file does
    /// not list are left alone; a user's packages list, when present, is their whole
    /// membership.
    Import {
        /// The file, or - for standard input.
        file: PathBuf,
        /// Print what would be added, changed and left unchanged; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output.
    Man,
    /// Serve the console, and one command per `ssh HOST -- COMMAND`, over SSH to
    /// operators identified by their keys (`users keys add`), each acting with their
    /// own Administration permissions.
    Serve {
        /// The address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:2222", value_name = "ADDR:PORT")]
        listen: String,
        /// The server's host key, created (mode 0600) when missing
        /// [default: ssh_host_ed25519_key beside the default database].
        #[arg(long, value_name = "PATH")]
        host_key: Option<PathBuf>,
        /// End a session after this many seconds without input from its client.
        #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
        idle_timeout: u64,
    },
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Catalog, roles, packages, users and the default role (format rolecall/2, or
    /// rolecall/3 with resources).
    Json,
    /// One row per user, with a header row.
    Csv,
    /// model.conf and policy.csv for a Casbin RBAC enforcer (needs -o FOLDER).
    Casbin,
}

/// The profile flags shared by `users add` and `users set`.
#[derive(Debug, Args, Default)]
pub struct ProfileFlags {
    /// Email address (unique, ignoring case).
    #[arg(long)]
    pub email: Option<String>,
    /// First name.
    #[arg(long)]
    pub first_name: Option<String>,
    /// Last name.
    #[arg(long)]
    pub last_name: Option<String>,
    /// Job title.
    #[arg(long)]
    pub position: Option<String>,
    /// Multi-line signature (use real line breaks).
    #[arg(long)]
    pub signature: Option<String>,
    /// The direct role: a name (ignoring case) or a numeric id; `none` for no
    /// direct role (access through packages only).
    #[arg(long)]
    pub role: Option<String>,
    /// An IANA time zone, such as Europe/Rome.
    #[arg(long)]
    pub timezone: Option<String>,
    /// A language tag, such as en or pt-BR.
    #[arg(long)]
    pub language: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users, optionally only those holding one role.
    List {
        /// Only users holding this role directly (a name or an id); `none` for users
        /// with no direct role.
        #[arg(long)]
        role: Option<String>,
    },
    /// Show one user.
    Show {
        /// The user (ignoring case).
        username: String,
    },
    /// Add a user; the first user becomes the owner, on Administrator.
    Add {
        /// 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit.
        username: String,
        #[command(flatten)]
        fields: ProfileFlags,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's fields, role or active flag.
    Set {
        /// The user (ignoring case).
        username: String,
        #[command(flatten)]
        fields: ProfileFlags,
        /// Enable or disable the user.
        #[arg(long, value_name = "true|false")]
        active: Option<bool>,
        /// Refuse (exit 3) unless the user is still at this version (from `users show --json`).
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Set a user's password, read from standard input.
    Passwd {
        /// The user (ignoring case).
        username: String,
        /// Read the password from the first line of standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Remove a user (never the owner).
    Remove {
        /// The user (ignoring case).
        username: String,
    },
    /// Make USERNAME the owner; they are given Administrator.
    TransferOwnership {
        /// The active user who becomes the owner.
        username: String,
    },
    /// The SSH public keys that let USERNAME reach `rolecall serve`.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add one OpenSSH public key line (the .pub file) to USERNAME.
    Add {
        /// The user the key identifies.
        username: String,
        /// The .pub file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// List USERNAME's keys: fingerprint (as OpenSSH shows it), comment, when added.
    List {
        /// Whose keys.
        username: String,
    },
    /// Remove the key with FINGERPRINT (SHA256:..., as `keys list` shows it).
    Remove {
        /// Whose key.
        username: String,
        /// The key's fingerprint, `SHA256:` and all.
        fingerprint: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// List roles with their user and permission counts.
    List,
    /// Show a role and its permission tree with [x] [-] [ ] marks.
    Show {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
    },
    /// Create a role, empty or as a copy of another.
    Create {
        /// 1 to 64 characters, unique ignoring case.
        name: String,
        /// What the role is for (up to 500 characters).
        #[arg(long, default_value = "")]
        description: String,
        /// Start with the permissions of this role.
        #[arg(long, value_name = "ROLE")]
        from: Option<String>,
    },
    /// Rename a role.
    Rename {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// The new name.
        new_name: String,
        /// Refuse (exit 3) unless the role is still at this version (from `roles show --json`).
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Set a role's description.
    Describe {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// The new description (up to 500 characters).
        description: String,
        /// Refuse (exit 3) unless the role is still at this version.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Grant permissions: leaf keys, category keys (all their leaves) or `all`.
    Grant {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// Leaf keys, category keys or `all`.
        #[arg(required = true)]
        permissions: Vec<String>,
        /// Refuse (exit 3) unless the role is still at this version.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Revoke permissions: leaf keys, category keys (all their leaves) or `all`.
    Revoke {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// Leaf keys, category keys or `all`.
        #[arg(required = true)]
        permissions: Vec<String>,
        /// Refuse (exit 3) unless the role is still at this version.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Delete a role nobody holds; --reassign-to moves its users first, in one step.
    Delete {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// Move the role's users to this role, then delete, in one transaction.
        #[arg(long, value_name = "ROLE")]
        reassign_to: Option<String>,
    },
    /// What each of two roles can and cannot do, side by side.
    Diff {
        /// The first role.
        role_a: String,
        /// The second role.
        role_b: String,
    },
    /// Make ROLE the role new users get.
    SetDefault {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
    },
    /// A role's exception for one resource: a different set of the permissions the
    /// resource's type scopes, replacing its general grants of them there.
    #[command(subcommand)]
    Exception(resources::ExceptionCommand),
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// The permission tree: labels, keys and descriptions.
    Show,
    /// Replace the catalog with a file of [[permission]] tables: new permissions are
    /// added (Administrator gains them) and labels updated; permissions the file
    /// drops are removed only with --prune.
    Load {
        /// A TOML file of [[permission]] tables.
        file: PathBuf,
        /// Print what would be added, changed and pruned; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove the permissions the file no longer has, and their grants.
        #[arg(long)]
        prune: bool,
    },
}

/// Parses the process arguments and runs; returns the exit code.
pub fn main() -> i32 {
    // `ROLECALL_DB=` (set but empty) means "not set": clap would refuse it as an
    // empty --db.
    if std::env::var_os("ROLECALL_DB").is_some_and(|v| v.is_empty()) {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::remove_var("ROLECALL_DB") };
    }
    // A file-size limit (`ulimit -f`) must fail a write, not kill the process half
    // way and leave temporary files behind: the write then reports exit 4.
    // SAFETY: setting a signal's disposition to "ignore" before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // The closing help (the database's default path, the exit codes) is added to
    // every command only when help may be printed: building it costs a second pass
    // over every command, on every start of every command, `check` included.
    let wants_help = std::env::args_os()
        .skip(1)
        .any(|a| a == "-h" || a == "--help" || a == "help");
    let parser = if wants_help {
        command()
    } else {
        Cli::command()
    };
    let matches = parser.get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // An empty `ROLECALL_DB=` (or `--db ""`) means "not set", not a file named "".
    let db = cli.db.filter(|p| !p.as_os_str().is_empty());
    let outcome = match cli.command {
        _ if cli.json && !cli.command.as_ref().is_some_and(Command::prints_json) => {
            Err(Error::invalid(
                "json",
                "--json applies to listings, show, check, audit, diff, import, catalog and changes; this command prints no JSON",
            ))
        }
        Some(Command::Completions { shell }) => policy::completions(shell),
        Some(Command::Man) => policy::man_page(),
        Some(Command::Serve {
            listen,
            host_key,
            idle_timeout,
        }) => crate::serve::run(crate::serve::Options {
            db,
            read_only: cli.read_only,
            listen,
            host_key,
            idle_timeout: std::time::Duration::from_secs(idle_timeout),
        })
        .map(|()| 0),
        Some(Command::Demo { users, no_tui }) => demo(db, cli.read_only, users, no_tui).map(|()| 0),
        Some(Command::Check {
            username,
            permission,
            explain,
            on: None,
        }) if let Some(url) = db
            .as_deref()
            .and_then(Path::to_str)
            .filter(|t| store::is_postgres_url(t)) =>
        {
            check_on_server(url, cli.read_only, username, permission, explain, cli.json)
        }
        // A target that is not a URL rolecall reads is refused before the source
        // is opened: it may be the one mistake in the command.
        Some(Command::Copy { to }) if let Err(e) = store::refuse_lookalike(&to, "to") => Err(e),
        Some(command) => open(db.as_deref(), cli.read_only, command.writes())
            .and_then(|mut store| run(&mut store, command, cli.json)),
        None => open(db.as_deref(), cli.read_only, true)
            .and_then(crate::tui::run)
            .map(|()| 0),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    }
}

/// The exit codes of SPEC §8, as `--help` and the manual page list them.
pub const EXIT_CODES: &[(i32, &str)] = &[
    (0, "success"),
    (1, "denied (check only)"),
    (2, "bad usage or invalid input"),
    (
        3,
        "refused by a rule: role in use, owner protection, edit conflict, built-in role, read-only",
    ),
    (
        4,
        "storage error: no database (for a reading command), unreadable, corrupt or newer database, disk full",
    ),
];

/// Where the database is when neither --db nor ROLECALL_DB names one.
fn default_path_text() -> String {
    store::default_path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "~/.local/share/rolecall/rolecall.db".into())
}

/// The parser with its closing help: the database's default path and the exit codes,
/// on every command's `--help`.
pub fn command() -> clap::Command {
    let mut text = format!(
        "Database: --db PATH or postgres://URL, else $ROLECALL_DB, else {}\n\nExit status:\n",
        display_safe(&default_path_text())
    );
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code}  {meaning}\n"));
    }
    fn with_help(cmd: clap::Command, text: &str) -> clap::Command {
        cmd.after_help(text.to_string())
            .mut_subcommands(|sub| with_help(sub, text))
    }
    // Every group's arguments, which a plain start defers ([`Deferred`]).
    DEFER_GROUPS.store(false, std::sync::atomic::Ordering::Relaxed);
    with_help(Cli::command(), text.trim_end())
}

impl Command {
    /// The files on this machine the command reads or writes, each with whether `-`
    /// (standard input) may stand for it.
    pub(crate) fn files(&self) -> Vec<(&Path, bool)> {
        match self {
            Command::Import { file, .. }
            | Command::Catalog(Deferred(CatalogCommand::Load { file, .. }))
            | Command::Resources(Deferred(resources::ResourcesCommand::Load { file, .. })) => {
                vec![(file.as_path(), true)]
            }
            Command::Users(Deferred(UsersCommand::Keys(KeysCommand::Add {
                file: Some(file),
                ..
            }))) => vec![(file.as_path(), true)],
            Command::Export {
                output: Some(path), ..
            } => vec![(path.as_path(), false)],
            _ => Vec::new(),
        }
    }

    /// The rights a command that reads a whole file of changes needs, checked before
    /// the file is read (a dry run changes nothing and needs none).
    pub(crate) fn whole_model_need(&self) -> Option<crate::domain::authz::Need> {
        use crate::domain::authz::{Need, Right};
        match self {
            Command::Import { dry_run: false, .. }
            | Command::Catalog(Deferred(CatalogCommand::Load { dry_run: false, .. })) => {
                Some(Need::All)
            }
            Command::Resources(Deferred(resources::ResourcesCommand::Load {
                dry_run: false,
                ..
            })) => Some(Need::One(Right::Roles)),
            _ => None,
        }
    }

    /// True for commands that print JSON with `--json`.
    pub(crate) fn prints_json(&self) -> bool {
        match self {
            Command::Demo { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Serve { .. } => false,
            Command::Export { format, .. } => *format == ExportFormat::Json,
            _ => true,
        }
    }

    /// True for commands that may change the database: only they (and the console)
    /// create a missing one, so a mistyped `--db` on a reading command is noticed
    /// instead of answered from a new, empty database.
    fn writes(&self) -> bool {
        match self {
            Command::Users(Deferred(
                UsersCommand::List { .. }
                | UsersCommand::Show { .. }
                | UsersCommand::Keys(KeysCommand::List { .. }),
            ))
            | Command::Roles(Deferred(
                RolesCommand::List
                | RolesCommand::Show { .. }
                | RolesCommand::Diff { .. }
                | RolesCommand::Exception(resources::ExceptionCommand::Show { .. }),
            ))
            | Command::Packages(Deferred(
                packages::PackagesCommand::List | packages::PackagesCommand::Show { .. },
            ))
            | Command::WhoCan { .. }
            | Command::Resources(Deferred(resources::ResourcesCommand::List { .. }))
            | Command::Catalog(Deferred(CatalogCommand::Show))
            | Command::Check { .. }
            | Command::Audit { .. }
            | Command::Export { .. }
            | Command::Copy { .. }
            | Command::Completions { .. }
            | Command::Man => false,
            Command::Catalog(Deferred(CatalogCommand::Load { dry_run, .. }))
            | Command::Resources(Deferred(resources::ResourcesCommand::Load { dry_run, .. }))
            | Command::Import { dry_run, .. } => !dry_run,
            _ => true,
        }
    }
}

/// The most sample users `demo` makes: it builds them in memory first.
const MAX_DEMO_USERS: usize = 1_000_000;

/// `rolecall demo`: fills an empty database (a temporary one unless `--db`) with
/// sample users, then opens the console on it.
fn demo(db: Option<PathBuf>, read_only: bool, count: usize, no_tui: bool) -> Result<()> {
    if read_only {
        return Err(Error::Refused(
            "read-only: demo writes sample data, so it cannot run with --read-only".into(),
        ));
    }
    if count > MAX_DEMO_USERS {
        return Err(Error::invalid(
            "users",
            format!("demo makes at most {MAX_DEMO_USERS} sample users (got {count})"),
        ));
    }
    let temporary = db.is_none();
    let path = db.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rolecall-demo-{}.db", std::process::id()))
    });
    let mut store = Store::open(&path, Access::ReadWrite)?;
    if store.user_count()? > 0 {
        return Err(Error::Refused(format!(
            "{} already has users; demo only fills an empty database",
            display_safe(&path.display().to_string())
        )));
    }
    store.use_large_cache()?;
    let mut users = crate::demo::users(count);
    let disabled = crate::demo::disabled(&users);
    let memberships = crate::demo::memberships(&users);
    // Roles and packages of the same names that are already there are used as
    // they are.
    for (name, description, grants) in crate::demo::ROLES_ADDED {
        if store.role(*name).is_err() {
            store.create_role(name, description, None)?;
            let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
            store.set_permissions(*name, &grants, true, None)?;
        }
    }
    for (name, description, roles) in crate::demo::PACKAGES {
        if store.package(*name).is_err() {
            store.create_package(name, description, None)?;
            let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
            store.set_package_roles(*name, &roles, true)?;
        }
    }
    // Each user joins their packages as they are added: one write, and no second
    // version and audit row per member.
    let mut package_ids = std::collections::HashMap::new();
    for (name, ..) in crate::demo::PACKAGES {
        package_ids.insert(*name, store.package(*name)?.id);
    }
    let position: std::collections::HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.username.clone(), i))
        .collect();
    for (username, packages) in &memberships {
        let user = &mut users[position[username]];
        user.packages = packages.iter().map(|p| package_ids[p.as_str()]).collect();
    }
    store.add_users(users)?;
    store.set_active_for(&UserRef::typed_all(&disabled), false)?;
    if no_tui {
        let _ = writeln!(
            io::stdout(),
            "{}",
            display_safe(&format!("added {count} sample users to {}", path.display()))
        );
        return Ok(());
    }
    let outcome = crate::tui::run(store);
    if temporary {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
    outcome
}

/// Prints an error as one line on stderr.
pub fn report(err: &Error) {
    let mut message = display_safe(&err.to_string()).into_owned();
    if !message.ends_with('.') {
        message.push('.');
    }
    let _ = streams::write_err(format!("rolecall: {message}\n").as_bytes());
}

/// Opens the store the flags and environment name. A missing file is created only
/// when `create` (the console and writing commands); a reading command on a missing
/// file is refused with its path.
pub fn open(db: Option<&Path>, read_only: bool, create: bool) -> Result<Store> {
    let path = match db {
        Some(p) => p.to_path_buf(),
        None => store::default_path()?,
    };
    store::refuse_lookalike(&path, "db")?;
    let text = path.to_string_lossy();
    let access = access(read_only);
    if store::is_postgres_url(&text) {
        // A server's database is set up on first use like a file; a reading
        // command on an empty one is refused by the store, naming the URL.
        return match create {
            true => Store::open(&path, access),
            false => Store::open_existing_db(&path, access),
        };
    }
    let missing = matches!(std::fs::metadata(&path), Err(e) if e.kind() == io::ErrorKind::NotFound);
    if !create && missing {
        return Err(Error::Storage(format!(
            "no database at {} (it is created when you first open the console or add something)",
            display_safe(&text)
        )));
    }
    Store::open(&path, access)
}

/// The access `--read-only` asks for.
fn access(read_only: bool) -> Access {
    if read_only {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    }
}

fn out(text: &str) -> Result<i32> {
    out_bytes(text.as_bytes())
}

/// Writes to standard output and flushes. A closed pipe (`| head`) is not an error
/// worth a message; any other failure (a full disk, `> /dev/full`) is exit 4, so a
/// script never takes a truncated file for a finished one.
pub(crate) fn out_bytes(bytes: &[u8]) -> Result<i32> {
    match streams::write_out(bytes) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::Storage(format!(
            "cannot write to standard output: {}; the output is incomplete",
            io_reason(&e)
        ))),
    }
}

/// An I/O error in words, naming a full disk as such.
pub(crate) fn io_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(28) => "the disk is full".into(),
        Some(27) => "the file is larger than this process may write".into(),
        _ => e.to_string(),
    }
}

fn out_json(value: &impl serde::Serialize) -> Result<i32> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Storage(e.to_string()))?;
    out(&(json_terminal_safe(text) + "\n"))
}

fn say(line: String) -> Result<i32> {
    out(&(display_safe(&line).into_owned() + "\n"))
}

/// Reads the password from the first line of standard input, reading no more than
/// the longest password allows: an endless stream without a line break is refused,
/// not held in memory.
fn read_password() -> Result<String> {
    let limit = crate::domain::validate::MAX_PASSWORD * 4 + 2;
    let mut line = Vec::new();
    streams::read_line(limit as u64 + 1, &mut line).map_err(|e| {
        Error::invalid(
            "password",
            format!("could not be read from standard input: {e}"),
        )
    })?;
    if line.len() > limit {
        return Err(Error::invalid(
            "password",
            format!(
                "must be at most {} characters on the first line of standard input",
                crate::domain::validate::MAX_PASSWORD
            ),
        ));
    }
    let line =
        String::from_utf8(line).map_err(|_| Error::invalid("password", "must be UTF-8 text"))?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_string())
}

/// Runs one command against an open store; returns the exit code.
pub fn run(store: &mut Store, command: Command, json: bool) -> Result<i32> {
    match command {
        Command::Demo { .. } => Err(Error::Refused(
            "demo is handled before a store is opened".into(),
        )),
        Command::Users(Deferred(cmd)) => users(store, cmd, json),
        Command::Roles(Deferred(cmd)) => roles(store, cmd, json),
        Command::Packages(Deferred(cmd)) => packages::run(store, cmd, json),
        Command::WhoCan { permission, on } => match on {
            Some(spec) => resources::who_can_on(store, &permission, &spec, json),
            None => packages::who_can(store, &permission, json),
        },
        Command::Resources(Deferred(cmd)) => resources::run(store, cmd, json),
        Command::Completions { .. } | Command::Man | Command::Serve { .. } => Err(Error::Refused(
            "completions, man and serve are handled before a store is opened".into(),
        )),
        Command::Export { format, output } => policy::export(store, format, output),
        Command::Copy { to } => {
            let copied = store.copy_to(&to)?;
            let shown = match to.to_str().filter(|t| store::is_postgres_url(t)) {
                Some(url) => store::redact_url(url),
                None => display_safe(&to.display().to_string()).into_owned(),
            };
            if json {
                out_json(&serde_json::json!({
                    "to": shown,
                    "users": copied.users,
                    "roles": copied.roles,
                    "audit_rows": copied.audit_rows,
                }))
            } else {
                out(&format!(
                    "copied {} users, {} roles and {} audit rows to {shown}\n",
                    copied.users, copied.roles, copied.audit_rows
                ))
            }
        }
        Command::Import { file, dry_run } => policy::import(store, &file, dry_run, json),
        Command::Catalog(Deferred(CatalogCommand::Load {
            file,
            dry_run,
            prune,
        })) => policy::catalog_load(store, &file, dry_run, prune, json),
        Command::Catalog(Deferred(CatalogCommand::Show)) => {
            if json {
                out_json(&catalog_json(store))
            } else {
                out(&print::catalog_tree(store.catalog()))
            }
        }
        Command::Check {
            username,
            permission,
            explain,
            on: Some(spec),
        } => resources::check_on(store, &username, &permission, &spec, explain, json),
        Command::Check {
            username,
            permission,
            explain,
            on: None,
        } => check(store, &username, &permission, explain, json),
        Command::Audit {
            limit,
            actor,
            action,
            target,
            since,
        } => audit(
            store,
            limit,
            store::AuditFilter {
                actor,
                action,
                target,
                since: since
                    .as_deref()
                    .map(crate::domain::validate::since)
                    .transpose()?,
            },
            json,
        ),
    }
}

/// `check`: exit 0 when allowed, 1 when denied; with `--explain`, every reason.
fn check(
    store: &Store,
    username: &str,
    permission: &str,
    explain: bool,
    json: bool,
) -> Result<i32> {
    let decision = match explain || json {
        true => store.check(username, permission)?,
        false => store.decide(username, permission)?,
    };
    print_decision(&decision, explain, json)
}

/// `check` (without `--on`) on a PostgreSQL server: one statement when the server's
/// policy snapshot is current, else the store opened on the same connection.
fn check_on_server(
    url: &str,
    read_only: bool,
    username: String,
    permission: String,
    explain: bool,
    json: bool,
) -> Result<i32> {
    match Store::check_on_server(url, access(read_only), &username, &permission)? {
        store::Checked::Decided(decision) => print_decision(&decision, explain, json),
        store::Checked::Open(mut store) => {
            let command = Command::Check {
                username,
                permission,
                explain,
                on: None,
            };
            run(&mut store, command, json)
        }
    }
}

/// Prints a decision and gives `check`'s exit code.
fn print_decision(
    decision: &crate::domain::access::Decision,
    explain: bool,
    json: bool,
) -> Result<i32> {
    if json {
        out_json(decision)?;
    } else {
        out(&decision_text(decision, explain))?;
    }
    Ok(if decision.allowed { 0 } else { 1 })
}

/// `allowed` or `denied`, and with `--explain` every reason, one a line.
fn decision_text(decision: &crate::domain::access::Decision, explain: bool) -> String {
    let mut text = String::from(if decision.allowed {
        "allowed\n"
    } else {
        "denied\n"
    });
    if explain {
        for reason in &decision.reasons {
            text.push_str("  ");
            text.push_str(&display_safe(reason));
            text.push('\n');
        }
    }
    text
}

/// `audit`: the newest rows that match the filter.
fn audit(store: &Store, limit: usize, filter: store::AuditFilter, json: bool) -> Result<i32> {
    let entries = store.audit_matching(&filter, limit)?;
    if json {
        return out_json(&entries);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                change_summary(e),
            ]
        })
        .collect();
    out(&print::table(
        &["AT", "ACTOR", "ACTION", "TARGET", "CHANGE"],
        &rows,
    ))
}

/// `field: before → after, ...` for the audit listing.
fn change_summary(entry: &store::AuditEntry) -> String {
    let show = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => format!("{} items", items.len()),
        Some(other) => other.to_string(),
    };
    match (&entry.before, &entry.after) {
        (None, Some(Value::Object(after))) => {
            return after
                .iter()
                .map(|(k, v)| format!("{k}: {}", show(Some(v))))
                .collect::<Vec<_>>()
                .join(", ");
        }
        (Some(_), None) => return "removed".into(),
        _ => {}
    }
    let empty = serde_json::Map::new();
    let before = entry
        .before
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let after = entry
        .after
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = after.keys().chain(before.keys()).collect();
    keys.dedup();
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(*k))
        .map(|k| format!("{k}: {} → {}", show(before.get(k)), show(after.get(k))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn catalog_json(store: &Store) -> Value {
    let catalog = store.catalog();
    fn node_json(catalog: &crate::domain::catalog::Catalog, idx: usize) -> Value {
        let n = catalog.node(idx);
        let mut v = json!({"key": n.key, "label": n.label, "description": n.description});
        if !n.is_leaf() {
            v["children"] =
                Value::Array(n.children.iter().map(|&c| node_json(catalog, c)).collect());
        }
        v
    }
    Value::Array(
        catalog
            .roots()
            .iter()
            .map(|&r| node_json(catalog, r))
            .collect(),
    )
}

fn profile_change(fields: ProfileFlags, active: Option<bool>) -> UserChange {
    UserChange {
        email: fields.email,
        first_name: fields.first_name,
        last_name: fields.last_name,
        position: fields.position,
        signature: fields.signature,
        timezone: fields.timezone,
        language: fields.language,
        role: fields.role.map(RoleRef::typed_for_user),
        active,
        packages: None,
    }
}

fn user_status(u: &crate::domain::user::User) -> String {
    match (u.active, u.owner) {
        (true, true) => "active, owner".into(),
        (true, false) => "active".into(),
        (false, _) => "disabled".into(),
    }
}

fn users(store: &mut Store, cmd: UsersCommand, json: bool) -> Result<i32> {
    match cmd {
        UsersCommand::List { role } => users_list(store, role, json),
        UsersCommand::Show { username } => user_show(store, &username, json),
        UsersCommand::Add {
            username,
            fields,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let defaults = Profile::default();
            let new = NewUser {
                username,
                profile: Profile {
                    email: fields
                        .email
                        .ok_or_else(|| Error::invalid("email", "is required (--email)"))?,
                    first_name: fields.first_name.unwrap_or_default(),
                    last_name: fields.last_name.unwrap_or_default(),
                    position: fields.position.unwrap_or_default(),
                    signature: fields.signature.unwrap_or_default(),
                    timezone: fields.timezone.unwrap_or(defaults.timezone),
                    language: fields.language.unwrap_or(defaults.language),
                },
                role: fields.role.map(RoleRef::typed_for_user),
                password,
                packages: Default::default(),
            };
            let user = store.add_user(new)?;
            let owner = if user.owner { ", and is the owner" } else { "" };
            done(
                json,
                &user,
                format!(
                    "added user \"{}\" with {}{owner}",
                    user.username,
                    role_words(&user.role)
                ),
            )
        }
        UsersCommand::Set {
            username,
            fields,
            active,
            if_version,
        } => {
            // Read only to word the answer: the update itself reads the user inside
            // its transaction and decides there.
            let before = store.user(&username).ok().map(|u| u.version);
            let after = store.update_user(&username, if_version, profile_change(fields, active))?;
            let sentence = if Some(after.version) == before {
                format!(
                    "user \"{}\" already had those values; nothing changed",
                    after.username
                )
            } else {
                format!("updated user \"{}\"", after.username)
            };
            done(json, &after, sentence)
        }
        UsersCommand::Passwd { username, .. } => {
            let password = read_password()?;
            store.set_password(&username, &password)?;
            let user = store.user(&username)?;
            done(
                json,
                &user,
                format!("set the password of \"{}\"", user.username),
            )
        }
        UsersCommand::Remove { username } => {
            let user = store.user(&username)?;
            store.remove_user(&username)?;
            done(
                json,
                &json!({"username": user.username, "removed": true}),
                format!("removed user \"{}\"", user.username),
            )
        }
        UsersCommand::Keys(cmd) => keys(store, cmd, json),
        UsersCommand::TransferOwnership { username } => {
            let user = store.transfer_ownership(&username)?;
            done(
                json,
                &user,
                format!(
                    "\"{}\" is now the owner, with role \"{}\"",
                    user.username, user.role
                ),
            )
        }
    }
}

/// `users keys add|list|remove`.
fn keys(store: &mut Store, cmd: KeysCommand, json: bool) -> Result<i32> {
    match cmd {
        KeysCommand::Add { username, file } => {
            let path = file.unwrap_or_else(|| PathBuf::from("-"));
            let line = policy::read_input(&path)?;
            let key = store.add_key(&username, &line)?;
            done(
                json,
                &key,
                format!("added key {} to \"{username}\"", key.fingerprint),
            )
        }
        KeysCommand::List { username } => {
            let keys = store.keys_of(&username)?;
            if json {
                return out_json(&keys);
            }
            let rows: Vec<Vec<String>> = keys
                .into_iter()
                .map(|k| vec![k.fingerprint, k.comment, k.added_at])
                .collect();
            out(&print::table(&["FINGERPRINT", "COMMENT", "ADDED"], &rows))
        }
        KeysCommand::Remove {
            username,
            fingerprint,
        } => {
            store.remove_key(&username, &fingerprint)?;
            done(
                json,
                &json!({"removed": fingerprint.trim()}),
                format!("removed key {} from \"{username}\"", fingerprint.trim()),
            )
        }
    }
}

/// `users list`: username, name, email, direct role, status.
fn users_list(store: &Store, role: Option<String>, json: bool) -> Result<i32> {
    let users = store.users(role.map(RoleRef::typed_for_user))?;
    if json {
        let memberships = store.memberships()?;
        let rows: Vec<Value> = users
            .iter()
            .map(|u| user_json(u, memberships.get(&u.id).cloned().unwrap_or_default()))
            .collect();
        return out_json(&rows);
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.username.clone(),
                u.full_name(),
                u.email.clone(),
                if u.role.is_empty() {
                    "(none)".to_string()
                } else {
                    u.role.clone()
                },
                user_status(u),
            ]
        })
        .collect();
    out(&print::table(
        &["USERNAME", "NAME", "EMAIL", "ROLE", "STATUS"],
        &rows,
    ))
}

/// `users show`: every field, the packages, and the signature.
fn user_show(store: &Store, username: &str, json: bool) -> Result<i32> {
    let u = store.user(username)?;
    let packages = store.packages_of(u.id)?;
    if json {
        return out_json(&user_json(&u, packages));
    }
    let rows = vec![
        vec!["Username".into(), u.username.clone()],
        vec!["Name".into(), u.full_name()],
        vec!["Email".into(), u.email.clone()],
        vec!["Position".into(), u.position.clone()],
        vec![
            "Role".into(),
            if u.role.is_empty() {
                "(no direct role)".into()
            } else {
                u.role.clone()
            },
        ],
        vec![
            "Packages".into(),
            if packages.is_empty() {
                "(none)".into()
            } else {
                packages.join(", ")
            },
        ],
        vec!["Status".into(), user_status(&u)],
        vec!["Time zone".into(), u.timezone.clone()],
        vec!["Language".into(), u.language.clone()],
        vec![
            "Password".into(),
            if u.has_password { "set" } else { "not set" }.into(),
        ],
        vec!["Created".into(), u.created_at.clone()],
        vec![
            "Updated".into(),
            format!("{} by {}", u.updated_at, u.updated_by),
        ],
        vec!["Version".into(), u.version.to_string()],
    ];
    let mut text = String::new();
    for row in rows {
        text.push_str(&format!(
            "{}  {}\n",
            print::pad(&row[0], 10),
            display_safe(&row[1])
        ));
    }
    if !u.signature.is_empty() {
        text.push_str("Signature\n");
        for line in u.signature.lines() {
            text.push_str(&format!("  {}\n", display_safe(line)));
        }
    }
    out(&text)
}

/// `role "Editor"`, or `no direct role`.
fn role_words(role: &str) -> String {
    if role.is_empty() {
        "no direct role".to_string()
    } else {
        format!("role \"{role}\"")
    }
}

/// `users show --json`: the user's fields and the packages they are in.
fn user_json(user: &crate::domain::user::User, packages: Vec<String>) -> Value {
    let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
    value["packages"] = json!(packages);
    if user.role.is_empty() {
        value["role"] = Value::Null;
    }
    value
}

/// With `--json`, the object a change resulted in; otherwise the sentence saying
/// what it did.
pub(crate) fn done(json: bool, object: &impl serde::Serialize, sentence: String) -> Result<i32> {
    if json {
        out_json(object)
    } else {
        say(sentence)
    }
}

/// `roles show --json`, also printed by every change of a role with `--json`.
fn role_json(store: &Store, role: &crate::domain::role::Role) -> Result<Value> {
    let default = store.default_role_id()? == role.id;
    let (packages, users_via_packages) = store.packages_including(role.id)?;
    Ok(json!({
        "default": default,
        "packages": packages,
        "users_via_packages": users_via_packages,
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "builtin": role.builtin,
        "fixed": store.role_is_fixed(role.id)?,
        "users": role.users,
        "granted": role.grants.keys(store.catalog()),
        "granted_count": role.grants.count(),
        "total": store.catalog().leaf_count(),
        "created_at": role.created_at,
        "updated_at": role.updated_at,
        "version": role.version,
    }))
}

fn roles(store: &mut Store, cmd: RolesCommand, json: bool) -> Result<i32> {
    match cmd {
        RolesCommand::List => roles_list(store, json),
        RolesCommand::Show { role } => role_show(store, role, json),
        RolesCommand::Create {
            name,
            description,
            from,
        } => {
            let role = store.create_role(&name, &description, from.map(RoleRef::Typed))?;
            done(
                json,
                &role_json(store, &role)?,
                format!(
                    "created role \"{}\" (id {}) with {} of {} permissions",
                    role.name,
                    role.id,
                    role.grants.count(),
                    store.catalog().leaf_count()
                ),
            )
        }
        RolesCommand::Rename {
            role,
            new_name,
            if_version,
        } => {
            let change = store.edit_role(RoleRef::Typed(role), if_version, |_, _| {
                Ok(store::RoleUpdate {
                    name: Some(new_name.clone()),
                    ..Default::default()
                })
            })?;
            done(
                json,
                &role_json(store, &change.role)?,
                format!(
                    "role {} is now named \"{}\"",
                    change.role.id, change.role.name
                ),
            )
        }
        RolesCommand::Describe {
            role,
            description,
            if_version,
        } => {
            let change = store.edit_role(RoleRef::Typed(role), if_version, |_, _| {
                Ok(store::RoleUpdate {
                    description: Some(description.clone()),
                    ..Default::default()
                })
            })?;
            done(
                json,
                &role_json(store, &change.role)?,
                format!("updated the description of \"{}\"", change.role.name),
            )
        }
        RolesCommand::Grant {
            role,
            permissions,
            if_version,
        } => set_grants(store, role, &permissions, true, if_version, json),
        RolesCommand::Revoke {
            role,
            permissions,
            if_version,
        } => set_grants(store, role, &permissions, false, if_version, json),
        RolesCommand::Delete { role, reassign_to } => {
            let outcome =
                store.delete_role(RoleRef::Typed(role), reassign_to.map(RoleRef::Typed))?;
            let sentence = match &outcome.reassigned_to {
                Some(target) if outcome.moved > 0 => format!(
                    "moved {} user{} to \"{target}\" and deleted role \"{}\"",
                    outcome.moved,
                    if outcome.moved == 1 { "" } else { "s" },
                    outcome.role
                ),
                _ => format!("deleted role \"{}\"", outcome.role),
            };
            let object = json!({
                "deleted": outcome.role,
                "users_moved": outcome.moved,
                "reassigned_to": outcome.reassigned_to,
            });
            done(json, &object, sentence)
        }
        RolesCommand::Diff { role_a, role_b } => roles_diff(store, role_a, role_b, json),
        RolesCommand::SetDefault { role } => {
            let role = store.set_default_role(RoleRef::Typed(role))?;
            done(
                json,
                &role_json(store, &role)?,
                format!("new users now get role \"{}\"", role.name),
            )
        }
        RolesCommand::Exception(cmd) => resources::exception(store, cmd, json),
    }
}

/// `roles grant` (`grant`) and `roles revoke`: the permissions named, and how many
/// the role grants now.
fn set_grants(
    store: &mut Store,
    role: String,
    permissions: &[String],
    grant: bool,
    if_version: Option<i64>,
    json: bool,
) -> Result<i32> {
    let change = store.set_permissions(RoleRef::Typed(role), permissions, grant, if_version)?;
    let (verb, n, to) = if grant {
        ("granted", change.added.len(), "to")
    } else {
        ("revoked", change.removed.len(), "from")
    };
    let sentence = format!(
        "{verb} {n} permission{} {to} \"{}\" ({} of {} now granted)",
        if n == 1 { "" } else { "s" },
        change.role.name,
        change.role.grants.count(),
        store.catalog().leaf_count()
    );
    done(json, &role_json(store, &change.role)?, sentence)
}

/// `roles list`: id, name, users, grants, marks (built-in, fixed, default).
fn roles_list(store: &Store, json: bool) -> Result<i32> {
    let roles = store.roles()?;
    let default = store.default_role_id()?;
    if json {
        let rows: Vec<Value> = roles
            .iter()
            .map(|r| {
                let mut row = serde_json::to_value(r).unwrap_or(Value::Null);
                row["default"] = json!(r.id == default);
                row
            })
            .collect();
        return out_json(&rows);
    }
    let rows: Vec<Vec<String>> = roles
        .iter()
        .map(|r| {
            let mut marks = Vec::new();
            if r.builtin {
                marks.push("built-in, locked");
            }
            if r.fixed {
                marks.push("fixed, locked");
            }
            if r.id == default {
                marks.push("default");
            }
            vec![
                r.id.to_string(),
                r.name.clone(),
                r.users.to_string(),
                format!("{}/{}", r.granted_count, r.total),
                r.created_at.get(..10).unwrap_or(&r.created_at).to_string(),
                marks.join(", "),
            ]
        })
        .collect();
    out(&print::table(
        &["ID", "NAME", "USERS", "GRANTED", "CREATED ON", ""],
        &rows,
    ))
}

/// `roles show`: the role, its lock, and its permission tree.
fn role_show(store: &Store, role: String, json: bool) -> Result<i32> {
    let role = store.role(RoleRef::Typed(role))?;
    if json {
        return out_json(&role_json(store, &role)?);
    }
    let lock = if role.builtin {
        "  (built-in, locked)"
    } else if store.role_is_fixed(role.id)? {
        "  (fixed by the catalog, locked)"
    } else {
        ""
    };
    let mut text = format!(
        "{}{lock}\n{}\nid {} · {} users · {} of {} granted · created {} · version {}\n\n",
        display_safe(&role.name),
        display_safe(&role.description),
        role.id,
        role.users,
        role.grants.count(),
        store.catalog().leaf_count(),
        display_safe(&role.created_at),
        role.version
    );
    text.push_str(&print::grant_tree(store.catalog(), &role.grants));
    out(&text)
}

/// `roles diff`: what each of two roles can and cannot do.
fn roles_diff(store: &Store, role_a: String, role_b: String, json: bool) -> Result<i32> {
    let a = store.role(RoleRef::Typed(role_a))?;
    let b = store.role(RoleRef::Typed(role_b))?;
    let catalog = store.catalog();
    if json {
        let (only_b, only_a) = b.grants.diff(&a.grants);
        let keys = |ords: &[usize]| {
            let mut k: Vec<&str> = ords
                .iter()
                .map(|&o| catalog.leaf_node(o).key.as_str())
                .collect();
            k.sort_unstable();
            k
        };
        let both: Vec<&str> = a
            .grants
            .keys(catalog)
            .into_iter()
            .filter(|k| {
                b.grants
                    .contains(catalog.node(catalog.find(k).unwrap_or(0)).leaves.start)
            })
            .collect();
        return out_json(&json!({
            "a": a.name, "b": b.name,
            "only_a": keys(&only_a), "only_b": keys(&only_b), "both": both,
        }));
    }
    out(&print::role_diff(
        catalog, &a.name, &a.grants, &b.name, &b.grants,
    ))
}
