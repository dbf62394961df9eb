//! The dry run of a mailbox: what would become of the mails waiting now, decided by exactly the
//! importer's steps — and nothing stored, moved or deleted. Used by the CLI and the web form.

use postkorb_core::{Decision, KeepReason};
use postkorb_store::MailboxRecord;
use postkorb_verify::Policy;

use crate::Ctx;
use crate::service::importer;

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

/// Runs the importer's pass in [`importer::Mode::DryRun`] and tallies what it decided.
pub async fn run(ctx: &Ctx, m: &MailboxRecord) -> anyhow::Result<DryRun> {
    let cfg = crate::service::oauth::fresh_config(&ctx.store, m, &ctx.key, &ctx.clock, ctx.settings.net()).await?;
    run_with(ctx, m, &cfg).await
}

/// [`run`] with connection settings already made (the form's unsaved settings).
pub async fn run_with(ctx: &Ctx, m: &MailboxRecord, cfg: &postkorb_source::SourceConfig) -> anyhow::Result<DryRun> {
    let report =
        importer::dry_run(&ctx.store, m, cfg, ctx.settings.batch_size, &ctx.clock).await.map_err(|e| match e {
            importer::ImportError::Source(se) => anyhow::Error::new(se).context(format!("mailbox {}", m.name)),
            other => anyhow::Error::new(other),
        })?;
    let employees = ctx.store.employees().await?;
    let name_of = |id: &postkorb_core::EmployeeId| {
        employees.iter().find(|e| e.id == *id).map(|e| e.name.clone()).unwrap_or_else(|| format!("#{id}"))
    };
    let mut tally: std::collections::BTreeMap<Outcome, usize> = std::collections::BTreeMap::new();
    for decision in &report.decided {
        let outcome = match decision {
            Decision::Assign { to, .. } => Outcome::Vorgang(name_of(to)),
            Decision::Pool { candidates, .. } => Outcome::Pool(candidates.iter().map(&name_of).collect()),
            Decision::Keep(reason) => {
                let (en, de) = keep_words(reason);
                Outcome::Kept(en, de)
            }
        };
        *tally.entry(outcome).or_default() += 1;
    }
    Ok(DryRun {
        policy: importer::policy_of(m),
        on_server: report.listed,
        already: report.already_known,
        tally: tally.into_iter().collect(),
        old: report.left_before_cutoff,
        deferred: report.deferred,
    })
}
