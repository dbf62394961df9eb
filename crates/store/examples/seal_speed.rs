//! How fast a raw mail is sealed and opened with each of the two formats (`seal.rs`: `pkm2`
//! AES-256-GCM under a per-nonce key, `pkm1` XChaCha20-Poly1305), through `MailKey` as the
//! import and the Vorgang page use it (issue 19: the import seals every raw mail).
//!
//! ```sh
//! cargo run --release -p postkorb-store --example seal_speed -- [--size-kb 200] [--mb 512] [--rounds 3]
//! ```
//!
//! Prints MB/s per cipher and round (the ciphers taking turns within a round), sealing into one
//! reused buffer as the importer does, and opening. Whether this CPU would seal with AES-GCM is
//! printed first. Numbers only; nothing here is a test.

use std::time::Instant;

use postkorb_store::{Cipher, MailKey};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (size, total, rounds) =
        (arg(&args, "--size-kb", 200) << 10, arg(&args, "--mb", 512) << 20, arg(&args, "--rounds", 3));
    let key = MailKey::derive(&[7u8; 32]);
    println!("this CPU seals new values with: {:?}", key.sealing_cipher());
    let plain: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let name = key.name(&plain);
    let count = (total / size).max(1);
    let mb = (count * size) as f64 / 1e6;
    for round in 1..=rounds {
        for cipher in [Cipher::AesGcm, Cipher::XChaCha] {
            let k = key.clone().sealing_with(cipher);
            let mut buf = Vec::new();
            let started = Instant::now();
            for _ in 0..count {
                k.seal_into(&plain, &name, &mut buf).expect("seal");
            }
            let seal = mb / started.elapsed().as_secs_f64();
            let started = Instant::now();
            for _ in 0..count.min(200) {
                assert_eq!(k.open(&buf, &name, "mail").expect("open").len(), size);
            }
            let open = (count.min(200) * size) as f64 / 1e6 / started.elapsed().as_secs_f64();
            println!(
                "round {round} {cipher:?}: seal {seal:.0} MB/s, open {open:.0} MB/s ({count} values of {} KB)",
                size >> 10
            );
        }
    }
}
