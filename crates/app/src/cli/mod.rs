//! How Postkorb talks to a person at a terminal: the arguments (`args.rs`) and one module per
//! group of commands, each printing what the services in `crate::service` did. Nothing outside
//! `cli` calls into it (the web and the serve loop use the services).

pub mod absence;
pub mod admin;
mod args;
pub mod db;
pub mod demo;
pub mod dispatch;
pub mod encryption;
pub mod mail;
pub mod mailbox;
pub mod oauth;
pub mod privacy;
pub mod retention;
pub mod search;
pub mod smtp;
pub mod work;

pub use args::*;

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};

/// Reads a secret from stdin (first line) or, on a terminal, from a hidden prompt.
pub fn read_secret(prompt: &str, from_stdin: bool) -> anyhow::Result<String> {
    let value = if from_stdin || !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
        s.lines().next().unwrap_or("").to_string()
    } else {
        rpassword::prompt_password(prompt).context("cannot read the password")?
    };
    if value.is_empty() {
        bail!("the password is empty");
    }
    Ok(value)
}
