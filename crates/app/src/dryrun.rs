//! The dry run of a mailbox: what would become of the mails waiting now, decided by exactly the
//! importer's steps — and nothing stored, moved or deleted. Used by the CLI and the web form.

use postkorb_core::{Decision, KeepReason};
use postkorb_store::MailboxRecord;
use postkorb_verify::Policy;

use crate::Ctx;
use crate::importer;

/// One kind of outcome and who it concerns.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Vorgang(String),
    Pool(Vec<String>),
    Kept(String, String),
}

impl Outcome {
    pub fn english(&self) -> String {
        match self {
            Outcome::Vorgang(to) => format!("Vorgang for {to}"),
            Outcome::Pool(names) => format!("Vorgang waiting for the first of {}", names.join(", ")),
            Outcome::Kept(en, _) => format!("kept: {en}"),
        }
    }

    pub fn german(&self) -> String {
        match self {
            Outcome::Vorgang(to) => format!("Vorgang für {to}"),
            Outcome::Pool(names) => format!("Vorgang für den Ersten von {}", names.join(", ")),
            Outcome::Kept(_, de) => format!("Nicht zugeordnet: {de}"),
        }
    }
}

pub struct DryRun {
    pub policy: Policy,
    pub on_server: usize,
    pub already: usize,
    pub tally: Vec<(Outcome, usize)>,
    pub old: usize,
    pub deferred: usize,
}

impl DryRun {
    /// The result in German, one line per outcome (for the settings form).
    pub fn german_lines(&self) -> Vec<String> {
        let mut lines =
            vec![format!("{} E-Mails im Postfach, davon {} bereits eingelesen.", self.on_server, self.already)];
        lines.extend(self.tally.iter().map(|(o, n)| format!("{n} × {}", o.german())));
        if self.old > 0 {
            lines.push(format!("{} × älter als das Startdatum: bleiben unberührt im Postfach", self.old));
        }
        if self.deferred > 0 {
            lines.push(format!("{} × Absenderprüfung wegen DNS-Störung später erneut", self.deferred));
        }
        lines.push("Probelauf: Es wurde nichts gespeichert, verschoben oder gelöscht.".into());
        lines
    }
}

fn keep_words(reason: &KeepReason) -> (String, String) {
    let en = reason.english();
    let de = reason.german();
    (en.split(':').next().unwrap_or("").to_string(), de.split(':').next().unwrap_or("").to_string())
}

/// Lists, fetches and decides like a pass, then leaves without disposing of anything.
pub async fn run(ctx: &Ctx, m: &MailboxRecord) -> anyhow::Result<DryRun> {
    let cfg = crate::oauth::fresh_config(&ctx.store, m, &ctx.key, &ctx.clock, ctx.settings.net()).await?;
    let mut session =
        postkorb_source::Session::connect(&cfg).await.map_err(|e| anyhow::anyhow!("mailbox {}: {e}", m.name))?;
    let keys: Vec<String> = session.list().await?.into_iter().map(|e| e.key).collect();
    let known = ctx.store.known_keys(m.id, &keys).await?;
    let new: Vec<String> = keys.iter().filter(|k| !known.contains_key(*k)).cloned().collect();
    let employees = ctx.store.employees().await?;
    let routes = ctx.store.routes().await?;
    let policy = importer::policy_of(m);
    let name_of = |id: &postkorb_core::EmployeeId| {
        employees.iter().find(|e| e.id == *id).map(|e| e.name.clone()).unwrap_or_else(|| format!("#{id}"))
    };
    let mut tally: std::collections::BTreeMap<Outcome, usize> = std::collections::BTreeMap::new();
    let (mut old, mut deferred) = (0usize, 0usize);
    let dns = importer::DnsPass::new(ctx.store.dns_retries(m.id).await?, ctx.clock.now_ms());
    for chunk in new.chunks(ctx.settings.batch_size.max(1)) {
        let fetched = session.fetch(chunk).await?;
        let mut prepared = importer::prepare(fetched, &employees, &routes, &policy, &dns).await;
        deferred += prepared.deferred.len() + prepared.untried.len();
        old += importer::split_off_before_cutoff(m, &mut prepared.items).len();
        importer::hold_storms(&ctx.store, m, &mut prepared.items, ctx.clock.now_ms()).await?;
        for item in prepared.items {
            let outcome = match item.decision {
                Decision::Assign { to, .. } => Outcome::Vorgang(name_of(&to)),
                Decision::Pool { candidates, .. } => Outcome::Pool(candidates.iter().map(&name_of).collect()),
                Decision::Keep(reason) => {
                    let (en, de) = keep_words(&reason);
                    Outcome::Kept(en, de)
                }
            };
            *tally.entry(outcome).or_default() += 1;
        }
    }
    let _ = session.close().await;
    Ok(DryRun {
        policy,
        on_server: keys.len(),
        already: keys.len() - new.len(),
        tally: tally.into_iter().collect(),
        old,
        deferred,
    })
}
