//! The batch commit's plan, without IO: what becomes of each mail of a batch — nothing (its key
//! is known), a duplicate, or stored as a Vorgang or a kept mail — from what the ledger knows.
//! `import::commit_items` reads the ledger, asks this plan, and writes what it says; the rows and
//! events of the new Vorgänge are written by `case_write::apply`.

use std::collections::{HashMap, HashSet};

/// One mail of a batch as the plan sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlanItem<'a> {
    pub key: &'a str,
    pub fingerprint: &'a str,
    /// The routing decision keeps it (`Decision::Keep`).
    pub keep: bool,
}

/// What the batch commit does with one mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemPlan {
    /// The ledger has its key (or the batch has it twice): nothing.
    Known,
    /// The same fingerprint is in the ledger already (that row's id).
    DuplicateOf(i64),
    /// The same fingerprint came earlier in this batch (that item's index).
    DuplicateInBatch(usize),
    /// Stored: the raw mail and a Vorgang.
    Case,
    /// Stored: the raw mail and a kept entry.
    Kept,
}

impl ItemPlan {
    /// The ledger row's `outcome` (none for a known key).
    pub(crate) fn ledger_outcome(self) -> Option<&'static str> {
        match self {
            ItemPlan::Known => None,
            ItemPlan::DuplicateOf(_) | ItemPlan::DuplicateInBatch(_) => Some("duplicate"),
            ItemPlan::Case => Some("case"),
            ItemPlan::Kept => Some("kept"),
        }
    }
}

/// The plan of a batch: one entry per item, and the items that are stored (in item order).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BatchPlan {
    pub items: Vec<ItemPlan>,
    /// Items whose raw mail is stored: `cases` and `kept` together, in item order.
    pub new: Vec<usize>,
    pub cases: Vec<usize>,
    pub kept: Vec<usize>,
}

/// `known`: keys of the batch the ledger has; `earlier`: the first ledger row of each of the
/// batch's fingerprints (a row left on the server on purpose counts).
pub(crate) fn plan(items: &[PlanItem<'_>], known: &HashSet<String>, earlier: &HashMap<String, i64>) -> BatchPlan {
    let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
    let mut seen_keys = HashSet::new();
    let mut out = BatchPlan { items: Vec::with_capacity(items.len()), new: vec![], cases: vec![], kept: vec![] };
    for (n, item) in items.iter().enumerate() {
        let p = if known.contains(item.key) || !seen_keys.insert(item.key) {
            ItemPlan::Known
        } else if let Some(id) = earlier.get(item.fingerprint) {
            ItemPlan::DuplicateOf(*id)
        } else if let Some(first) = first_in_batch.get(item.fingerprint) {
            ItemPlan::DuplicateInBatch(*first)
        } else {
            first_in_batch.insert(item.fingerprint, n);
            out.new.push(n);
            if item.keep {
                out.kept.push(n);
                ItemPlan::Kept
            } else {
                out.cases.push(n);
                ItemPlan::Case
            }
        };
        out.items.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ItemPlan::*;

    /// `items`: (key, fingerprint, keep); `known`: keys in the ledger; `earlier`: fingerprints in
    /// the ledger with their row id.
    fn check(items: &[(&str, &str, bool)], known: &[&str], earlier: &[(&str, i64)], expected: &[ItemPlan]) {
        let items: Vec<PlanItem<'_>> =
            items.iter().map(|(key, fingerprint, keep)| PlanItem { key, fingerprint, keep: *keep }).collect();
        let known = known.iter().map(|k| k.to_string()).collect();
        let earlier = earlier.iter().map(|(f, id)| (f.to_string(), *id)).collect();
        let got = plan(&items, &known, &earlier);
        assert_eq!(got.items, expected, "{items:?}");
        let stored = |want: ItemPlan| (0..expected.len()).filter(|n| expected[*n] == want).collect::<Vec<_>>();
        assert_eq!(got.cases, stored(Case));
        assert_eq!(got.kept, stored(Kept));
        let mut new = [stored(Case), stored(Kept)].concat();
        new.sort();
        assert_eq!(got.new, new);
    }

    #[test]
    fn each_mail_of_a_batch_is_stored_once_or_recorded_as_known_or_duplicate() {
        check(&[], &[], &[], &[]);
        check(&[("k1", "f1", false), ("k2", "f2", true)], &[], &[], &[Case, Kept]);
        // A key the ledger has, or the batch has twice: nothing (even with another fingerprint).
        check(&[("k1", "f1", false), ("k2", "f2", false)], &["k1"], &[], &[Known, Case]);
        check(&[("k1", "f1", false), ("k1", "f2", true)], &[], &[], &[Case, Known]);
        // The same bytes and Message-ID under another key: a duplicate of the first copy.
        check(&[("k2", "f1", false)], &[], &[("f1", 40)], &[DuplicateOf(40)]);
        check(
            &[("k1", "f1", true), ("k2", "f1", false), ("k3", "f1", true)],
            &[],
            &[],
            &[Kept, DuplicateInBatch(0), DuplicateInBatch(0)],
        );
        // The ledger's copy wins over an earlier one in the batch; a known key is no first copy.
        check(&[("k1", "f1", false), ("k2", "f1", false)], &["k1"], &[], &[Known, Case]);
        check(&[("k1", "f1", false), ("k2", "f1", false)], &[], &[("f1", 7)], &[DuplicateOf(7), DuplicateOf(7)]);
    }

    #[test]
    fn the_ledger_records_an_outcome_for_everything_but_a_known_key() {
        let outcomes: Vec<_> = [Known, DuplicateOf(1), DuplicateInBatch(0), Case, Kept]
            .into_iter()
            .map(ItemPlan::ledger_outcome)
            .collect();
        assert_eq!(outcomes, [None, Some("duplicate"), Some("duplicate"), Some("case"), Some("kept")]);
    }
}
