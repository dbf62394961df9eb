//! The expectations for `tests/corpus/*.eml`: one row per file, written by hand.

/// What one corpus mail must parse to. `sender` is `Ok(address)` or `Err(reason)`.
pub struct Expect {
    pub file: &'static str,
    pub sender: Result<&'static str, &'static str>,
    pub subject: &'static str,
    pub text: &'static [&'static str],
    pub attachments: &'static [&'static str],
    pub automatic: bool,
    pub malformed: bool,
    pub warnings: &'static [&'static str],
    pub forwarded_from: Option<&'static str>,
}

pub const BASE: Expect = Expect {
    file: "",
    sender: Err("no From header"),
    subject: "",
    text: &[],
    attachments: &[],
    automatic: false,
    malformed: false,
    warnings: &[],
    forwarded_from: None,
};

pub const CORPUS: &[Expect] = &[
    Expect {
        file: "01-utf8-qp.eml",
        sender: Ok("juergen.mueller@example.de"),
        subject: "Wasserschaden in der Küche",
        text: &["Wasserschaden in der Küche", "Fußboden sind größer", "Grüßen\r\nJürgen Müller"],
        ..BASE
    },
    Expect {
        file: "02-utf8-base64.eml",
        sender: Ok("erika.schaefer@web.example"),
        subject: "Überweisung für die Police Ä-123",
        text: &["Überweisungsbestätigung für die Police Ä-123", "Grüße aus Köln"],
        ..BASE
    },
    Expect {
        file: "03-latin1-qp.eml",
        sender: Ok("hans.gruber@t-online.example"),
        subject: "Schadenmeldung für Kfz MÜN-AB 123",
        text: &["beschädigt", "Stoßstange ist eingedrückt"],
        ..BASE
    },
    Expect {
        file: "04-latin9-euro.eml",
        sender: Ok("petra.weiss@gmx.example"),
        subject: "Rechnung Glasschaden",
        text: &["812,50 €", "Grüße\r\nPetra Weiß"],
        ..BASE
    },
    Expect {
        file: "05-cp1252-quotes.eml",
        sender: Ok("k.baecker@kanzlei.example"),
        subject: "Angebot „Wohngebäude“",
        text: &["das Angebot „Wohngebäude“ über 1.250 € zu"],
        ..BASE
    },
    Expect {
        file: "06-html-only.eml",
        sender: Ok("oezdemir@mail.example"),
        subject: "Fotos Hagelschaden",
        text: &["Sehr geehrte Damen und Herren,", "Hagelschaden am Carport"],
        attachments: &["carport.png"],
        ..BASE
    },
    Expect {
        file: "07-pdf-rfc2231.eml",
        sender: Ok("maria.mueller@example.de"),
        subject: "Schadenmeldung mit Anlage",
        text: &["anbei die ausgefüllte Schadenmeldung"],
        attachments: &["Schadenmeldung_Müller.pdf"],
        ..BASE
    },
    Expect {
        file: "08-evil-attachment-names.eml",
        sender: Ok("unbekannt@example.net"),
        subject: "Dokumente",
        text: &["Siehe Anhang."],
        attachments: &["passwd", "_CON.txt", "bashrc"],
        ..BASE
    },
    Expect {
        file: "09-forwarded-rfc822.eml",
        sender: Ok("anna@makler-schmidt.de"),
        subject: "WG: Kündigung Hausratversicherung",
        text: &["Zur Info, kam bei mir an."],
        attachments: &["Kündigung.eml"],
        forwarded_from: Some("Bernd Kunde <bernd.kunde@example.org>"),
        ..BASE
    },
    Expect {
        file: "10-forwarded-inline.eml",
        sender: Ok("anna@makler-schmidt.de"),
        subject: "Fwd: Adressänderung",
        text: &["Bitte übernehmen.", "Neue Straße 5, 50667 Köln"],
        forwarded_from: Some("Claudia Neumann <c.neumann@example.com>"),
        ..BASE
    },
    Expect {
        file: "11-auto-reply.eml",
        sender: Ok("t.richter@firma.example"),
        subject: "Automatische Antwort: Ihre Anfrage zur Haftpflicht",
        text: &["nicht im Büro"],
        automatic: true,
        ..BASE
    },
    Expect {
        file: "12-dsn-bounce.eml",
        sender: Ok("mailer-daemon@mx.makler-schmidt.de"),
        subject: "Undelivered Mail Returned to Sender",
        text: &["could not\r\nbe delivered"],
        attachments: &["anhang-1", "anhang-2"],
        automatic: true,
        ..BASE
    },
    Expect {
        file: "13-mailing-list.eml",
        sender: Ok("news@fachverlag.example"),
        subject: "Newsletter März: Neues zur Berufsunfähigkeit",
        text: &["Änderungen im März"],
        automatic: true,
        ..BASE
    },
    Expect {
        file: "14-broken-mime.eml",
        sender: Ok("kaputt@example.org"),
        subject: "Unterlagen",
        text: &["Hier die Unterlagen zum Vertrag."],
        attachments: &["vertrag.pdf", "notiz.txt"],
        warnings: &["missing closing MIME boundary", "undecodable content"],
        ..BASE
    },
    Expect {
        file: "15-no-from.eml",
        sender: Err("no From header"),
        subject: "Ohne Absender",
        text: &["Wer bin ich?"],
        ..BASE
    },
    Expect {
        file: "16-two-from-addresses.eml",
        sender: Err("several addresses in From"),
        subject: "Gemeinsamer Vertrag",
        text: &["Wir beide."],
        ..BASE
    },
    Expect {
        file: "17-duplicate-from-header.eml",
        sender: Err("duplicate From header"),
        subject: "Doppelt",
        text: &["Text."],
        ..BASE
    },
    Expect {
        file: "18-encoded-word-from-only.eml",
        sender: Err("From address is inside an encoded word"),
        subject: "Dringend",
        text: &["Bitte sofort überweisen."],
        ..BASE
    },
    Expect {
        file: "19-encoded-word-name.eml",
        sender: Ok("x@attacker.example"),
        subject: "Dringend",
        text: &["Bitte sofort überweisen."],
        ..BASE
    },
    Expect {
        file: "20-display-name-address.eml",
        sender: Ok("evil@attacker.example"),
        subject: "Rechnung",
        text: &["Bitte bezahlen."],
        ..BASE
    },
    Expect {
        file: "21-nul-bytes.eml",
        sender: Ok("nul@example.org"),
        subject: "Mit NUL",
        text: &["AnfangMitteEnde"],
        warnings: &["NUL bytes in body"],
        ..BASE
    },
    Expect { file: "22-empty.eml", malformed: true, ..BASE },
    Expect {
        file: "23-unknown-charset.eml",
        sender: Ok("alt@example.org"),
        subject: "Altes System",
        text: &["Grüße aus München"],
        warnings: &["unknown charset x-foo, decoded as Latin-1"],
        ..BASE
    },
    Expect { file: "24-no-headers.eml", malformed: true, ..BASE },
    Expect {
        file: "25-alternative-text-html.eml",
        sender: Ok("s.krueger@example.de"),
        subject: "Rückfrage",
        text: &["Kurze Rückfrage zur Police."],
        ..BASE
    },
    Expect {
        file: "26-unlabelled-8bit.eml",
        sender: Ok("rolf@example.de"),
        subject: "Ohne Zeichensatz",
        text: &["Brücke beschädigt"],
        warnings: &["invalid UTF-8 in body"],
        ..BASE
    },
];
