//! The app's layers, checked by reading its source: what the program does (`src/service`) and how
//! `serve` runs it (`src/serve`) never call into the command line's printing (`src/cli`), and the
//! services print nothing.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources(layer: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer), &mut files);
    assert!(!files.is_empty(), "no sources under src/{layer}");
    files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

/// The code of a file without its `//` comments (they may name the other layers).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

#[test]
fn services_and_the_serve_loop_never_call_the_command_line() {
    for layer in ["service", "serve"] {
        for (path, text) in sources(layer) {
            let code = code(&text);
            assert!(!code.contains("crate::cli"), "{} calls into the CLI", path.display());
        }
    }
}

#[test]
fn services_print_nothing() {
    for (path, text) in sources("service") {
        let code = code(&text);
        for printing in ["println!", "eprintln!", "print!("] {
            assert!(!code.contains(printing), "{} prints ({printing})", path.display());
        }
    }
}
