//! The command line: every operation of Postkorb, with English messages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "postkorb",
    version,
    about = "Turns e-mails in a dedicated mailbox into Vorgänge, assigned by sender."
)]
pub struct Cli {
    /// Settings file (TOML). Environment: POSTKORB_CONFIG.
    #[arg(long, global = true, env = "POSTKORB_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the importer on every enabled mailbox plus the HTTP endpoint, until stopped.
    Serve,
    /// Fetch every enabled mailbox once and report.
    Fetch {
        /// Fetch once and exit (the only mode; `serve` runs the loop).
        #[arg(long)]
        once: bool,
    },
    /// Set up a demo office with a demo Maildir, import it, show what happened, then serve.
    Demo {
        /// Only import and report; do not keep running.
        #[arg(long)]
        no_serve: bool,
        /// Start over: delete an earlier demo's data first.
        #[arg(long)]
        reset: bool,
    },
    /// Show what would happen to a message, without importing it.
    Explain {
        file: PathBuf,
        /// Also verify the sender under this mailbox's policy (needs DNS for DKIM).
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Employees (Mitarbeiter).
    #[command(subcommand)]
    Employee(EmployeeCmd),
    /// Sender rows („E-Mail-Adressen verwalten“): Von → An.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Mailbox settings („Einstellungen für den E-Mail Empfang“).
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// Fetch now, then give USER every waiting Vorgang they may claim („Synchronisieren“).
    Sync {
        #[arg(long)]
        user: String,
    },
    /// Vorgänge.
    #[command(subcommand)]
    Cases(CasesCmd),
    /// The search index („Suche“).
    #[command(subcommand)]
    Search(SearchCmd),
    /// Mails kept with a reason („Nicht zugeordnete E-Mails“).
    #[command(subcommand)]
    Kept(ListCmd),
    /// Absences (Abwesenheit) and who stands in (Vertreter); times on the office's clock (Europe/Berlin).
    #[command(subcommand)]
    Absence(AbsenceCmd),
    /// Sending mail („E-Mail-Versand“): the office's SMTP account for notifications and
    /// Eingangsbestätigungen.
    #[command(subcommand)]
    Smtp(SmtpCmd),
    /// Aufbewahrungsfristen (issue 18): the periods, deletion runs and the Löschprotokoll.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// A person's data (issue 18): Auskunft as a ZIP (Art. 15/20 DSGVO), Löschen auf Antrag (Art. 17).
    #[command(subcommand)]
    Privacy(PrivacyCmd),
    /// Encryption at rest of mail content (issue 18): raw mails, attachments, search texts.
    #[command(subcommand)]
    Encryption(EncryptionCmd),
    /// One-off bulk import of a Maildir or an mbox file (nothing is moved or deleted there).
    Import(ImportArgs),
    /// Copy this installation's SQLite database into a new, empty PostgreSQL database, verified
    /// table by table (counts and checksums). Stop `serve` first; afterwards set database_url.
    MigrateDb {
        /// The target, e.g. postgres://postkorb@db.example/postkorb
        #[arg(long)]
        to: String,
    },
    /// Write a consistent copy of the database to FILE (SQLite: a snapshot, also while serving;
    /// PostgreSQL: use pg_dump, see docs/deploy.md). Back up the key file separately.
    Backup { file: PathBuf },
    /// The blob directory (setting blob_dir), where raw mails and attachments are kept as files.
    #[command(subcommand)]
    Blobs(BlobsCmd),
    /// Replace the SQLite database with a backup made by `backup` (stop every instance first).
    Restore {
        file: PathBuf,
        /// Replace a database that holds data (it is kept as …before-restore-TIME).
        #[arg(long)]
        force: bool,
    },
    /// Tell others what happened (webhooks): fan out new events and try every due delivery once.
    Dispatch {
        /// One round and exit (the only mode; `serve` runs the loop).
        #[arg(long)]
        once: bool,
    },
    /// Webhook endpoints (the web: Optionen → Webhooks).
    #[command(subcommand)]
    Webhook(WebhookCmd),
}

#[derive(Subcommand, Debug)]
pub enum WebhookCmd {
    /// Add an endpoint; prints its secret (whsec_…) once.
    Add {
        name: String,
        url: String,
        /// Event types, comma-separated (default: all), e.g. case.created,mail.kept
        #[arg(long)]
        events: Option<String>,
    },
    /// List the endpoints (never their secrets).
    List,
    /// Remove an endpoint.
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub enum BlobsCmd {
    /// Remove files no row references once older than the grace period (a failed import leaves
    /// such files); report referenced files that are missing. `serve` does this every hour.
    Sweep {
        /// Never remove files younger than this (an import still in flight references them soon).
        #[arg(long, default_value_t = 60)]
        grace_minutes: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum ListCmd {
    List {
        #[arg(long)]
        json: bool,
        /// Only the Vorgänge of this employee (cases only).
        #[arg(long)]
        user: Option<String>,
        /// Include discarded/routed kept mails (kept only).
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// `postkorb cases …`: the list, and the search.
#[derive(Subcommand, Debug)]
pub enum CasesCmd {
    #[command(flatten)]
    List(ListCmd),
    /// Full-text search (subject, sender, text, attachment names, notes), best hits first.
    Search(SearchArgs),
    /// Work a Vorgang: hand over, give back, add a note, set a Wiedervorlage.
    #[command(flatten)]
    Work(crate::cli::work::WorkCmd),
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// The words to find (umlauts and ae/oe/ue/ss spellings match each other).
    #[arg(required = true)]
    pub words: Vec<String>,
    /// Search as this employee (what they may see); default: every Vorgang.
    #[arg(long = "as")]
    pub as_user: Option<String>,
    /// waiting, open or done.
    #[arg(long)]
    pub status: Option<String>,
    /// Only the Vorgänge of this Bearbeiter.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Received on or after this day (YYYY-MM-DD, office time).
    #[arg(long)]
    pub from: Option<String>,
    /// Received on or before this day (YYYY-MM-DD, office time).
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub page: u32,
    #[arg(long, default_value_t = 20)]
    pub per_page: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum SearchCmd {
    /// Index the Vorgänge not in the search index yet (from before the search existed, or after
    /// migrate-db), showing progress; `serve` does the same in the background.
    Reindex,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub from: ImportFrom,
    /// Sender verification: dkim (default), dkim-strict, auth-results:ID[,ID…] or off.
    #[arg(long, default_value = "dkim")]
    pub verify: String,
    /// Only mails dated from this day on (YYYY-MM-DD); older ones are left out.
    #[arg(long)]
    pub since: Option<String>,
    /// Storm limit as for a mailbox: more than this many Vorgänge from one sender within 10 minutes
    /// are held in „Nicht zugeordnete E-Mails“ (0 = off, e.g. for an archive of one sender).
    #[arg(long, default_value_t = 30)]
    pub storm_max: i64,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ImportFrom {
    #[arg(long)]
    pub maildir: Option<PathBuf>,
    #[arg(long)]
    pub mbox: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum EmployeeCmd {
    /// Add an employee.
    Add(EmployeeFields),
    /// List employees with what they may be used for.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change an employee (by id, username or name). Only the given fields change.
    Set {
        who: String,
        #[command(flatten)]
        fields: EmployeeFields,
        /// Read a new login password from standard input (at least 10 characters).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an API token for an employee (printed once; the database keeps only its hash).
    Token {
        who: String,
        #[arg(long, default_value = "")]
        label: String,
        /// The token stops working after this many days (default: when revoked).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3650))]
        expires_days: Option<i64>,
    },
    /// List an employee's API tokens: id, label, created, last used, expiry (never the token).
    Tokens {
        who: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one API token (--token ID), or end every session and revoke every token (--all).
    Revoke {
        who: String,
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        token: Option<i64>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args, Debug, Default)]
pub struct EmployeeFields {
    #[arg(long)]
    pub name: Option<String>,
    /// Login name (only employees who log in need one).
    #[arg(long)]
    pub username: Option<String>,
    /// Work e-mail (Vertragsdaten › Daten zur Arbeit › E-Mail); "" removes it.
    #[arg(long)]
    pub email: Option<String>,
    /// Licence string (Lizenzstring); "" removes it.
    #[arg(long)]
    pub license: Option<String>,
    /// „Aktuell“: true or false (default true for a new employee).
    #[arg(long)]
    pub current: Option<bool>,
    /// Permissions, comma-separated: mail_import, employees; "" removes all.
    #[arg(long)]
    pub permissions: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RouteCmd {
    /// Add a row: mails from FROM's work address go to TO.
    Add {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCmd {
    /// Show every retention period with what it means, and when the daily run starts.
    Show,
    /// Set a period: CLASS is cases (years), kept_discarded, kept_open, sessions, login_failures,
    /// deliveries (days), audit, deletion_log (years); or run_at with HH:MM (office clock).
    Set { class: String, value: String },
    /// Delete what is due now, printing per class what went (--dry-run: only what would go).
    Run {
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the Löschprotokoll (ids and SHA-256 of the raw mails, never content), newest first.
    Log {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum EncryptionCmd {
    /// Whether new mails are stored encrypted, and how much is still stored plain.
    Status,
    /// Store new mails encrypted (the default of a new installation).
    On,
    /// Store new mails plain (what is encrypted stays encrypted and readable).
    Off,
    /// Encrypt what is stored plain, in batches (resumable: run it again after an interruption);
    /// switches encryption on first.
    Convert {
        /// Items of each kind per transaction.
        #[arg(long, default_value_t = 200)]
        batch: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum PrivacyCmd {
    /// Write every Vorgang, kept mail, note and audit entry naming ADDRESS (or a name) to a ZIP:
    /// index.json, each mail as .eml, its attachments.
    Export {
        address: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Erase what names ADDRESS (or a name): delete it completely, or restrict it where a retention
    /// duty keeps it; print per item what it does (--dry-run: what it would do).
    Erase {
        address: String,
        /// Why (recorded in the Änderungsprotokoll), e.g. „Antrag vom 01.03.2026“.
        #[arg(long, default_value = "Antrag der betroffenen Person")]
        reason: String,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SmtpCmd {
    /// Save the SMTP settings. The password is read from standard input (or a prompt), never argv.
    Set(Box<SmtpArgs>),
    /// Show the SMTP settings (the password is never shown).
    Show,
    /// Send a test message with the saved settings; report clearly what failed.
    Test {
        /// The recipient.
        #[arg(long)]
        to: String,
    },
}

#[derive(Args, Debug)]
pub struct SmtpArgs {
    #[arg(long)]
    pub host: String,
    /// Default: 587 with starttls, 465 with implicit, 25 with none.
    #[arg(long, default_value = "")]
    pub port: String,
    /// starttls | implicit | none (none only without login or to this machine).
    #[arg(long, default_value = "starttls")]
    pub tls: String,
    /// Empty: no login (a relay that trusts this host).
    #[arg(long, default_value = "")]
    pub username: String,
    #[arg(long)]
    pub password_stdin: bool,
    /// Keep the stored password (only while host, port, encryption and user name stay).
    #[arg(long)]
    pub keep_password: bool,
    /// An extra CA certificate (PEM) to trust for this server, besides the system roots.
    #[arg(long, default_value = "")]
    pub ca_file: String,
    /// The From of every mail Postkorb sends.
    #[arg(long)]
    pub sender: String,
    #[arg(long, default_value = "")]
    pub sender_name: String,
}

#[derive(Subcommand, Debug)]
pub enum MailboxCmd {
    /// Create or change a mailbox. The password is read from standard input (or a prompt), never argv.
    Set(Box<MailboxArgs>),
    /// Show a mailbox's settings and health (the password is never shown).
    Show {
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// Connect, log in and count the mails waiting; report clearly what failed.
    Test {
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// Connect a mailbox to Microsoft 365 or Gmail with OAuth2 (XOAUTH2 instead of a password).
    /// Create the mailbox first (`mailbox set … --keep-password`). Prints a code and a URL to open
    /// on any device (device code), or with `--flow browser` a URL whose redirect you paste back.
    Oauth(Box<OAuthArgs>),
    /// Health of every mailbox: last success, last error, waiting on the server vs imported.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// What would happen to the mails waiting now — nothing is stored, moved or deleted.
    DryRun {
        #[arg(long, default_value = "default")]
        name: String,
        /// Try another onboarding cut-off: YYYY-MM-DD or "all" (default: the mailbox's setting).
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct MailboxArgs {
    #[arg(long, default_value = "default")]
    pub name: String,
    /// imap, pop3, maildir or graph (Microsoft 365 through Microsoft Graph: --username is the
    /// mailbox's address, a shared mailbox too; no --host; connect it with `mailbox oauth`)
    #[arg(long)]
    pub protocol: String,
    #[arg(long, default_value = "")]
    pub host: String,
    /// Default: 993/143 (IMAP), 995/110 (POP3).
    #[arg(long, default_value = "")]
    pub port: String,
    /// implicit, starttls or none
    #[arg(long, default_value = "implicit")]
    pub tls: String,
    /// The dedicated address used for nothing else (Benutzername).
    #[arg(long, default_value = "")]
    pub username: String,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Keep the stored password.
    #[arg(long)]
    pub keep_password: bool,
    #[arg(long, default_value = "INBOX")]
    pub folder: String,
    /// After import: move (IMAP/Maildir; to --target-folder) or delete. POP3 always deletes.
    #[arg(long, default_value = "move")]
    pub disposal: String,
    #[arg(long, default_value = "Postkorb/Importiert")]
    pub target_folder: String,
    /// For maildir: the Maildir directory.
    #[arg(long, default_value = "")]
    pub path: String,
    /// Seconds between fetches in `serve` (1 to 86400).
    #[arg(long, default_value = "60")]
    pub poll_secs: String,
    #[arg(long)]
    pub disabled: bool,
    /// Sender verification before routing: dkim (default: an aligned DKIM signature, relaxed),
    /// dkim-strict, auth-results:ID[,ID…] (trust the topmost Authentication-Results header of your
    /// own receiving server with that authserv-id), or off (only for a mailbox nobody outside can reach).
    #[arg(long, default_value = "dkim")]
    pub verify: String,
    /// Storm limit: more than this many Vorgänge from one sender within --storm-minutes are held
    /// under „Nicht zugeordnete E-Mails“ (0 switches it off).
    #[arg(long, default_value_t = 30)]
    pub storm_max: i64,
    #[arg(long, default_value_t = 10)]
    pub storm_minutes: i64,
    /// Onboarding an existing mailbox: import only mails dated from this day on (YYYY-MM-DD);
    /// older ones stay untouched on the server. Default: all. Try it first with `mailbox dry-run`.
    #[arg(long, default_value = "all")]
    pub since: String,
    /// An extra CA certificate (PEM) to trust for this server, besides the system roots.
    #[arg(long, default_value = "")]
    pub ca_file: String,
    /// Eingangsbestätigung: answer each verified, non-automatic sender that their mail arrived
    /// (at most once per --ack-hours; needs `postkorb smtp set`). Off unless given.
    #[arg(long)]
    pub ack: bool,
    /// Its wording ({betreff}, {bearbeiter}); default: „Ihre E-Mail „{betreff}“ ist als Vorgang
    /// eingegangen und wird von {bearbeiter} bearbeitet.“
    #[arg(long, default_value = "")]
    pub ack_text: String,
    #[arg(long, default_value = "24")]
    pub ack_hours: String,
    /// Also answer mail that could not be assigned.
    #[arg(long)]
    pub ack_unassigned: bool,
    #[arg(long, default_value = "")]
    pub ack_unassigned_text: String,
}

#[derive(Args, Debug)]
pub struct OAuthArgs {
    #[arg(long, default_value = "default")]
    pub name: String,
    /// microsoft, google or custom
    #[arg(long)]
    pub provider: String,
    /// The application (client) ID registered with the provider.
    #[arg(long)]
    pub client_id: String,
    /// Microsoft Entra tenant ID or domain (default: organizations).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Read a client secret from standard input (Google's desktop/TV clients have one).
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// --flow app: a PEM file with the RSA private key and the certificate uploaded to the app
    /// registration (a certificate credential instead of a client secret).
    #[arg(long)]
    pub client_certificate: Option<std::path::PathBuf>,
    /// device (default; Microsoft — Google does not allow mail access by device code), browser
    /// (authorization code with PKCE: open the URL, then paste the address you were sent back to),
    /// or app (Microsoft Graph mailboxes: application access with the client secret from
    /// --client-secret-stdin; no user signs in).
    #[arg(long, default_value = "device")]
    pub flow: String,
    /// Where the provider sends the browser back (must be registered with the client).
    #[arg(long, default_value = "http://localhost")]
    pub redirect_uri: String,
    /// custom provider: the token endpoint.
    #[arg(long)]
    pub token_url: Option<String>,
    /// custom provider: the device authorization endpoint.
    #[arg(long)]
    pub device_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AbsenceCmd {
    /// Enter an absence. Meanwhile the Vertreter receives the employee's new Vorgänge; without
    /// one they wait for the employee's return.
    Add {
        /// The absent employee (id, username or name).
        #[arg(long)]
        employee: String,
        /// Start, on the office's clock: "2026-12-24 08:00" (or a day: from 00:00).
        #[arg(long)]
        from: String,
        /// End (exclusive), as --from; without it the absence is open-ended.
        #[arg(long)]
        until: Option<String>,
        /// The Vertreter(in): an employee who may receive (current, with licence).
        #[arg(long)]
        substitute: Option<String>,
    },
    /// Current and future absences (of one employee, or everyone's).
    List {
        #[arg(long)]
        employee: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// End an absence now (one that has not begun is cancelled).
    End { id: i64 },
}
