//! `postkorb demo`: a realistic office on the embedded database, with a demo Maildir of German
//! sample mails, imported through the real importer so a newcomer sees every outcome at once.

use anyhow::Context;
use postkorb_core::{EmailAddress, Permission};
use postkorb_store::{MailboxRecord, NewEmployee};

use crate::Ctx;
use crate::cli::mail as mail_cmds;
use crate::settings::Settings;

/// The sample mails, embedded so the demo works from any directory.
const MAILS: &[(&str, &[u8])] = &[
    ("01-kfz-schaden", include_bytes!("../../demo/01-kfz-schaden.eml")),
    ("02-termin-latin1", include_bytes!("../../demo/02-termin-latin1.eml")),
    ("03-hausrat-info", include_bytes!("../../demo/03-hausrat-info.eml")),
    ("04-html-info", include_bytes!("../../demo/04-html-info.eml")),
    ("05-weitergeleitet", include_bytes!("../../demo/05-weitergeleitet.eml")),
    ("06-unbekannt", include_bytes!("../../demo/06-unbekannt.eml")),
    ("07-ehemalig", include_bytes!("../../demo/07-ehemalig.eml")),
    ("08-abwesend", include_bytes!("../../demo/08-abwesend.eml")),
    ("09-ohne-absender", include_bytes!("../../demo/09-ohne-absender.eml")),
    ("10-extern-lizenz-weg", include_bytes!("../../demo/10-extern-lizenz-weg.eml")),
];

/// Logins of the demo office (demo data only).
const DEMO_PASSWORDS: [(&str, &str); 2] = [("bernd", "bernd-demo-2026"), ("clara", "clara-demo-2026")];

pub async fn run(mut settings: Settings, serve: bool, reset: bool) -> anyhow::Result<()> {
    let dir = settings.data_dir.join("demo");
    if reset && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let fresh = !dir.join("postkorb.db").exists();
    settings.data_dir = dir.clone();
    settings.database_url = None;
    settings.key_file = None;
    // The demo's Maildir may be edited in the web form.
    settings.maildir_root.get_or_insert_with(|| dir.clone());
    let ctx = Ctx::open(settings).await?;
    let maildir = dir.join("maildir");
    if fresh {
        println!("Setting up the demo office in {}", dir.display());
        set_up(&ctx, &maildir).await?;
    } else {
        println!("Using the demo office in {} (`postkorb demo --reset` starts over)", dir.display());
    }
    println!("\n== Import of the demo mailbox ({}) ==", maildir.display());
    mail_cmds::fetch_all(&ctx, true).await?;

    println!("\n== Clara Sachbearbeiterin logs in first (Synchronisieren) ==");
    mail_cmds::sync(&ctx, "clara").await?;
    println!("\n== Bernd Berater logs in second ==");
    mail_cmds::sync(&ctx, "bernd").await?;

    println!("\n== Vorgänge ==");
    mail_cmds::cases(&ctx, crate::cli::ListCmd::List { json: false, user: None, all: false, limit: 100 }).await?;
    println!("\n== Nicht zugeordnete E-Mails (kept with a reason) ==");
    mail_cmds::kept(&ctx, crate::cli::ListCmd::List { json: false, user: None, all: false, limit: 100 }).await?;
    println!("\nTry: drop another .eml into {}/new and watch it arrive;", maildir.display());
    println!("     `postkorb --config {} cases list` in another shell.", write_config(&dir)?.display());
    if serve {
        println!("\nWeb: log in at http://{} as", ctx.settings.listen);
        for (user, pw) in DEMO_PASSWORDS {
            println!("     {user} / {pw}");
        }
        println!("     (bernd has the permission „E-Mails automatisch einlesen“; clara has not)");
        let listener = crate::serve::bind(&ctx).await?;
        crate::serve::run(&ctx, listener, crate::serve::shutdown_signal()).await?;
    }
    Ok(())
}

/// A config file for the demo office, so the other commands can look at it.
fn write_config(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join("postkorb.toml");
    let abs = std::fs::canonicalize(dir)?;
    let abs = abs.display().to_string();
    std::fs::write(&path, format!("data_dir = {abs:?}\nmaildir_root = {abs:?}\n"))?;
    Ok(path)
}

async fn set_up(ctx: &Ctx, maildir: &std::path::Path) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    let person = |name: &str, user: Option<&str>, license: Option<&str>, email: Option<&str>, perms: &[Permission]| {
        NewEmployee {
            name: name.into(),
            username: user.map(str::to_string),
            is_current: true,
            license: license.map(str::to_string),
            work_email: email.map(|e| EmailAddress::parse(e).expect("demo address")),
            permissions: perms.to_vec(),
        }
    };
    let s = &ctx.store;
    let all = [Permission::ManageMailImport, Permission::ManageEmployees];
    let anna = s
        .add_employee(&person("Anna Außendienst", None, None, Some("anna.aussendienst@mustermail.de"), &[]), now)
        .await?;
    let bernd = s
        .add_employee(
            &person(
                "Bernd Berater",
                Some("bernd"),
                Some("TAU-2026-0002"),
                Some("bernd.berater@makler-beispiel.de"),
                &all,
            ),
            now,
        )
        .await?;
    let clara =
        s.add_employee(&person("Clara Sachbearbeiterin", Some("clara"), Some("TAU-2026-0003"), None, &[]), now).await?;
    let info =
        s.add_employee(&person("Info-Postfach Mustermail", None, None, Some("info@mustermail.de"), &[]), now).await?;
    let dieter =
        s.add_employee(&person("Dieter Ehemalig", None, None, Some("dieter.ehemalig@mustermail.de"), &[]), now).await?;
    let eva = s.add_employee(&person("Eva Extern", None, None, Some("eva@extern-partner.de"), &[]), now).await?;
    let frank = s.add_employee(&person("Frank Teilzeit", Some("frank"), Some("TAU-2026-0006"), None, &[]), now).await?;
    s.set_password_hash(bernd.id, &postkorb_web::hash_password(DEMO_PASSWORDS[0].1)).await?;
    s.set_password_hash(clara.id, &postkorb_web::hash_password(DEMO_PASSWORDS[1].1)).await?;
    s.add_route(anna.id, bernd.id, now).await?;
    s.add_route(info.id, bernd.id, now).await?;
    s.add_route(info.id, clara.id, now).await?;
    s.add_route(dieter.id, bernd.id, now).await?;
    s.add_route(eva.id, frank.id, now).await?;
    // Since the rows were saved, Dieter left the company and Frank's licence was given back:
    // their rows stay in the list, shown as inactive, and their mail is kept.
    let mut d = dieter.clone();
    d.is_current = false;
    s.update_employee(&d).await?;
    let mut f = frank.clone();
    f.license = None;
    s.update_employee(&f).await?;

    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub))?;
    }
    for (i, (name, bytes)) in MAILS.iter().enumerate() {
        let file = maildir.join("new").join(format!("17000000{i:02}.demo{name}.postkorb"));
        std::fs::write(&file, bytes)?;
    }
    let mailbox = MailboxRecord {
        name: "demo".into(),
        protocol: "maildir".into(),
        tls: "none".into(),
        folder: "INBOX".into(),
        disposal: "move".into(),
        target_folder: "Postkorb/Importiert".into(),
        maildir_path: Some(maildir.display().to_string()),
        poll_secs: 5,
        // The sample mails are not DKIM-signed; a real mailbox keeps the safe default.
        verify_policy: postkorb_verify::Policy::Off.to_storage(),
        storm_max: 30,
        storm_minutes: 10,
        enabled: true,
        ..Default::default()
    };
    s.save_mailbox(&mailbox, now).await?;
    Ok(())
}
