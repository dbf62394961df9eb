//! Parser throughput, upstream mail-parser against Postkorb's patched copy (vendor/mail-parser).
//!
//! `postkorb-bench-parser [--runs N] [--micro-mb M] CORPUS_DIR` reads every file under CORPUS_DIR
//! (a Maildir from bench/gen_corpus.py), then for each run parses all of them with both crates, in
//! turn (which goes first alternates), as the importer does (`MessageParser::default().parse`, which
//! decodes every part). Then the same for two generated mails: a base64 attachment and a long
//! quoted-printable text. Prints each run and the best of all runs in MB/s (10^6 bytes per second).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Parse = fn(&[u8]) -> usize;

/// Parses one mail with the upstream crate; the decoded size of all parts (keeps the work alive).
fn upstream(raw: &[u8]) -> usize {
    upstream::MessageParser::default().parse(raw).map_or(0, |m| m.parts.iter().map(|p| p.len()).sum())
}

/// Parses one mail with the vendored crate; the decoded size of all parts.
fn vendored(raw: &[u8]) -> usize {
    vendored::MessageParser::default().parse(raw).map_or(0, |m| m.parts.iter().map(|p| p.len()).sum())
}

const VARIANTS: [(&str, Parse); 2] = [("crates.io 0.11.9", upstream), ("vendor/mail-parser", vendored)];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("corpus dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            files(&path, out);
        } else if !name.starts_with('.') && !name.ends_with(".tsv") {
            out.push(path);
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), the shape of a compressed attachment.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn base64_lines(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = Vec::with_capacity(data.len() * 4 / 3 + 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        let quad = [
            ABC[(n >> 18) as usize & 63],
            ABC[(n >> 12) as usize & 63],
            ABC[(n >> 6) as usize & 63],
            ABC[n as usize & 63],
        ];
        text.extend_from_slice(&quad[..c.len() + 1]);
        text.extend(std::iter::repeat_n(b'=', 3 - c.len()));
    }
    text.chunks(76).map(|l| std::str::from_utf8(l).expect("ascii")).collect::<Vec<_>>().join("\r\n")
}

/// Quoted-printable as a mail client writes it: lines of at most 76 characters, soft breaks.
fn quoted_printable(text: &str) -> String {
    let (mut out, mut line) = (String::new(), 0);
    for b in text.bytes() {
        let enc = match b {
            b'\n' => {
                out.push_str("\r\n");
                line = 0;
                continue;
            }
            b'=' | 128.. => format!("={b:02X}"),
            _ => (b as char).to_string(),
        };
        if line + enc.len() > 75 {
            out.push_str("=\r\n");
            line = 0;
        }
        line += enc.len();
        out.push_str(&enc);
    }
    out
}

fn micro_mails() -> Vec<(&'static str, Vec<u8>)> {
    let head = "From: Anna Außendienst <sender-01@mustermail.de>\r\nTo: post@makler.de\r\nSubject: Test\r\n\
                Date: Mon, 2 Nov 2026 10:00:00 +0100\r\nMessage-ID: <bench@mustermail.de>\r\nMIME-Version: 1.0\r\n";
    let b64 = format!(
        "{head}Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Anbei die Unterlagen.\r\n--b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        base64_lines(&noise(3 << 20))
    );
    let paragraph = "Sehr geehrte Damen und Herren, anbei übersende ich Ihnen die Schadenmeldung für den \
                     Wasserschaden in der Küche. Die Gebäudeversicherung (Police 4711-0815) möge prüfen, ob \
                     die Kosten in Höhe von 2.345,67 € übernommen werden; Grüße aus Süßen, Jörg Müller.\n";
    let qp = format!(
        "{head}Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\
         --b2\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n--b2--\r\n",
        quoted_printable(&paragraph.repeat(4000)),
        quoted_printable(&format!("<html><body><p style=\"margin:0\">{}</p></body></html>", paragraph.repeat(4000)))
    );
    vec![("base64 attachment", b64.into_bytes()), ("quoted-printable text", qp.into_bytes())]
}

/// Seconds for one parse of every mail in `mails`, `times` over.
fn time(parse: Parse, mails: &[Vec<u8>], times: usize) -> f64 {
    let start = Instant::now();
    let mut sum = 0usize;
    for _ in 0..times {
        for raw in mails {
            sum = sum.wrapping_add(parse(black_box(raw)));
        }
    }
    black_box(sum);
    start.elapsed().as_secs_f64()
}

/// Runs both variants `runs` times in alternating order; prints each run and the best.
fn measure(label: &str, mails: &[Vec<u8>], times: usize, runs: usize) {
    let bytes = (mails.iter().map(Vec::len).sum::<usize>() * times) as f64;
    // Both must see the same structure, or the comparison means nothing.
    let sizes: Vec<usize> = VARIANTS.iter().map(|(_, p)| mails.iter().map(|m| p(m)).sum()).collect();
    assert_eq!(sizes[0], sizes[1], "{label}: the two parsers decode different sizes");
    let mut best = [0f64; 2];
    for run in 0..runs {
        let mut rates = [0f64; 2];
        for i in [run % 2, 1 - run % 2] {
            rates[i] = bytes / time(VARIANTS[i].1, mails, times) / 1e6;
            best[i] = best[i].max(rates[i]);
        }
        eprintln!("  {label}, run {}: {:.0} / {:.0} MB/s", run + 1, rates[0], rates[1]);
    }
    println!(
        "| {label} | {:.1} MB | {:.0} | {:.0} | {:+.1} % |",
        bytes / 1e6,
        best[0],
        best[1],
        (best[1] / best[0] - 1.0) * 100.0
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut micro_mb, mut dir) = (7usize, 200usize, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--micro-mb" => micro_mb = args.next().and_then(|v| v.parse().ok()).expect("--micro-mb M"),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.expect("usage: postkorb-bench-parser [--runs N] [--micro-mb M] CORPUS_DIR");
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    let mails: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("read mail")).collect();
    println!("| input | bytes per run | {} MB/s | {} MB/s | change |", VARIANTS[0].0, VARIANTS[1].0);
    println!("|---|---:|---:|---:|---:|");
    measure(&format!("corpus, {} mails", mails.len()), &mails, 1, runs);
    for (label, mail) in micro_mails() {
        let times = (micro_mb << 20).div_ceil(mail.len());
        measure(label, &[mail], times, runs);
    }
    println!("best of {runs} runs each, alternating; {}", std::env::consts::ARCH);
}
