//! The sender check as a person chooses it: the four choices of the form and `--verify`, with their
//! German label and explanation. `postkorb_verify::Policy` is what runs and how it is stored; it
//! converts from and to this choice.

use super::{Field, Problem, SettingsError};

/// The sender check of a mailbox, in the settings' words.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum VerifyChoice {
    /// An aligned DKIM signature, checked by Postkorb itself (relaxed alignment). The default.
    #[default]
    Dkim,
    /// An aligned DKIM signature of exactly the From domain.
    DkimStrict,
    /// The topmost Authentication-Results header of one of these authserv-ids (never empty).
    AuthResults(Vec<String>),
    /// No check (tests only).
    Off,
}

impl VerifyChoice {
    /// Each choice once, in the order the form shows them (the ids of `AuthResults` left empty).
    pub fn all() -> [VerifyChoice; 4] {
        [VerifyChoice::Dkim, VerifyChoice::DkimStrict, VerifyChoice::AuthResults(Vec::new()), VerifyChoice::Off]
    }

    /// The word of the form's radio button and of `--verify` (without the ids).
    pub fn word(&self) -> &'static str {
        match self {
            VerifyChoice::Dkim => "dkim",
            VerifyChoice::DkimStrict => "dkim-strict",
            VerifyChoice::AuthResults(_) => "auth-results",
            VerifyChoice::Off => "off",
        }
    }

    /// `word` as the form sends it (`auth-results` with `ids` in their own field) or as `--verify`
    /// takes it (`auth-results:ID,ID`). Ids are separated by commas or spaces. An empty word is the
    /// default; an unknown one is an error, never a silent default.
    pub fn parse(word: &str, ids: &str) -> Result<VerifyChoice, SettingsError> {
        let word = word.trim();
        let (word, inline_ids) = match word.split_once(':') {
            Some((w, rest)) if w == "auth-results" => (w, rest),
            _ => (word, ""),
        };
        Ok(match word {
            "" | "dkim" => VerifyChoice::Dkim,
            "dkim-strict" => VerifyChoice::DkimStrict,
            "off" => VerifyChoice::Off,
            "auth-results" => {
                let ids: Vec<String> = [inline_ids, ids]
                    .iter()
                    .flat_map(|s| s.split(|c: char| c == ',' || c.is_whitespace()))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if ids.is_empty() {
                    return Err(SettingsError::new(Field::AuthservIds, Problem::AuthservIdMissing));
                }
                VerifyChoice::AuthResults(ids)
            }
            other => return Err(SettingsError::new(Field::Verify, Problem::UnknownVerify(other.to_string()))),
        })
    }

    /// Short German name for the settings form.
    pub fn german_label(&self) -> &'static str {
        match self {
            VerifyChoice::Off => "Aus (nur für Tests)",
            VerifyChoice::Dkim => "DKIM-Signatur prüfen (empfohlen)",
            VerifyChoice::DkimStrict => "DKIM-Signatur prüfen, nur exakte Domain",
            VerifyChoice::AuthResults(_) => "Prüfergebnis des eigenen Mailservers übernehmen",
        }
    }

    /// German explanation for the settings form: what the choice does and when it is the right one.
    pub fn german_explanation(&self) -> &'static str {
        match self {
            VerifyChoice::Dkim => {
                "Empfohlen und voreingestellt. Postkorb prüft die DKIM-Signatur jeder E-Mail selbst mit dem \
                 Schlüssel, den die Absender-Domain im DNS veröffentlicht. Die Signatur muss von der Domain \
                 der Absenderadresse stammen oder von einer ihrer Über- oder Unterdomains (z. B. \
                 mail.firma.de für firma.de). So kann niemand eine fremde Absenderadresse vortäuschen, und \
                 es muss nichts weiter eingerichtet werden. E-Mails ohne gültige Signatur (selten, z. B. \
                 sehr alte Mailserver oder Verteiler, die Nachrichten verändern) werden nicht zugeordnet, \
                 sondern unter „Nicht zugeordnete E-Mails“ mit dem Grund „Absender nicht verifiziert“ \
                 abgelegt und können dort von Hand zugeordnet werden."
            }
            VerifyChoice::DkimStrict => {
                "Wie die empfohlene Einstellung, aber die DKIM-Signatur muss genau von der Domain der \
                 Absenderadresse stammen; Signaturen von Über- oder Unterdomains zählen nicht. Strenger, \
                 dafür landen mehr echte E-Mails unter „Nicht zugeordnete E-Mails“."
            }
            VerifyChoice::AuthResults(_) => {
                "Postkorb übernimmt das Prüfergebnis (DMARC oder DKIM) Ihres eigenen Mailservers aus der \
                 obersten Kopfzeile „Authentication-Results“, und nur, wenn deren Kennung (authserv-id) \
                 hier eingetragen ist. Nur sicher, wenn Ihr Mailserver diese Kopfzeile jeder eingehenden \
                 E-Mail selbst oben hinzufügt; sonst könnte ein Absender sie fälschen. Sinnvoll, wenn Ihr \
                 Server DMARC prüft, weil dann auch Absender ohne DKIM-Signatur erkannt werden."
            }
            VerifyChoice::Off => {
                "Keine Prüfung: Die Absenderadresse wird ungeprüft übernommen. Absenderadressen lassen sich \
                 beliebig fälschen, dann landet eine gefälschte E-Mail bei einem Mitarbeiter. Nur für Tests \
                 verwenden."
            }
        }
    }

    /// The choice in the words of `--verify`, for the CLI's output.
    pub fn english(&self) -> String {
        match self {
            VerifyChoice::Off => "off".into(),
            VerifyChoice::Dkim => "dkim (aligned DKIM signature, relaxed)".into(),
            VerifyChoice::DkimStrict => "dkim-strict (aligned DKIM signature, exact domain)".into(),
            VerifyChoice::AuthResults(ids) => format!("auth-results:{}", ids.join(",")),
        }
    }
}
