//! The integration tests of postkorb-mail in one binary: the corpus, the hostile corpus,
//! robustness, and the patched decoders of vendor/mail-parser.

mod base64_lines;
mod corpus;
mod corpus_cases;
mod hostile;
mod hostile_cases;
mod qp_runs;
mod robustness;
mod warnings;
