//! The words of the search, made the same way for the index and for the query, on both backends:
//! split at everything that is not a letter or digit, lower-case, fold umlauts and their spellings
//! (ä/ae → a, ö/oe → o, ü/ue → u, ß → ss, other accents dropped), then a light German stemmer
//! (Savoy's, as in Lucene's `GermanLightStemmer`): „Schäden“, „Schaeden“ and „Schaden“ all become
//! `schad`, „Straße“ and „Strasse“ `strass`. A query word matches every indexed word that starts
//! with its stem, so „Schaden“ also finds „Schadensmeldung“ (German compounds).
//!
//! Both databases index these stems only (SQLite FTS5 with the `ascii` tokenizer, migration 0031:
//! a term holds no ASCII character but letters and digits, so it is one token there; PostgreSQL
//! `tsvector` written by Postkorb with these terms as its lexemes, migration 0036), so a query finds
//! the same Vorgänge on either, and the highlighter (`highlight.rs`) marks exactly the words that matched.

use std::ops::Range;

/// Longer words (base64 runs, long URLs) are not indexed.
const MAX_WORD_CHARS: usize = 40;

/// Words too common to narrow a search: neither indexed nor searched for (their folded form, as
/// [`fold`] makes it). About one term in eight of a mail's text is one of these: the index is
/// that much smaller and cheaper to write (entries written before keep theirs; no query asks).
const STOP_WORDS: &[&str] = &[
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem", "einen", "und", "oder", "im",
    "in", "an", "am", "auf", "zu", "zum", "zur", "von", "vom", "mit", "fur", "ist", "bei", "the", "and",
];

/// Whether a folded word is a stop word (all of them are 2 to 5 bytes long).
#[inline]
fn is_stop_word(folded: &str) -> bool {
    (2..=5).contains(&folded.len()) && STOP_WORDS.contains(&folded)
}

/// The words of `text` with their byte ranges in it.
pub fn words(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut start = None;
    let ends = text.char_indices().map(Some).chain(std::iter::once(None));
    ends.filter_map(move |next| {
        let is_word = next.is_some_and(|(_, c)| c.is_alphanumeric());
        match (start, is_word) {
            (None, true) => {
                start = next.map(|(i, _)| i);
                None
            }
            (Some(s), false) => {
                start = None;
                let end = next.map_or(text.len(), |(i, _)| i);
                Some((s..end, &text[s..end]))
            }
            _ => None,
        }
    })
}

/// One word's index form: folded and stemmed; `None` for a word too long to index.
pub fn term(word: &str) -> Option<String> {
    if word.chars().count() > MAX_WORD_CHARS {
        return None;
    }
    Some(stem(&fold(word)))
}

/// The index form of a text: the [`term`] of each of its [`words`] once, in the order of its first
/// appearance, separated by spaces:
/// what a column of the index holds. The index keeps per term only which columns of which
/// Vorgang hold it (SQLite: `detail = column`, migration 0031), so a repeat adds nothing to what is
/// found, but FTS5 would still do a term's work (a hash write per prefix length) for every repeat;
/// ranking counts a term once per column on both backends. One pass and no string per word: the
/// import makes it for every mail's text on its parser threads (the same result as joining each
/// word's [`term`] with the repeats dropped; tested against it).
pub fn distinct_terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 2);
    let mut seen = Seen::default();
    seen.first.reserve(text.len() / 16);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Skip to the next letter or digit (a word is a run of them, as in [`words`]).
        let (is_word, width) = class_at(text, i);
        if !is_word {
            i += width;
            continue;
        }
        let start = i;
        i += width;
        let mut ascii = width == 1;
        while i < bytes.len() {
            let (is_word, width) = class_at(text, i);
            if !is_word {
                break;
            }
            ascii &= width == 1;
            i += width;
        }
        let word = &text[start..i];
        // Too long to index (bytes count the characters of an ASCII word).
        if word.len() > MAX_WORD_CHARS && (ascii || word.chars().count() > MAX_WORD_CHARS) {
            continue;
        }
        let before = out.len();
        if before > 0 {
            out.push(' ');
        }
        let term_start = out.len();
        // The folding looks back one character for „ae“/„oe“/„ue“: the space (or nothing)
        // before the word is none of a, o, u.
        fold_into(word, &mut out);
        if is_stop_word(&out[term_start..]) {
            out.truncate(before);
            continue;
        }
        if out[term_start..].is_ascii() {
            let keep = stem_len_ascii(&out.as_bytes()[term_start..]);
            out.truncate(term_start + keep);
        } else {
            let stemmed = stem(&out[term_start..]);
            out.truncate(term_start);
            out.push_str(&stemmed);
        }
        if !seen.first(&out, term_start) {
            out.truncate(before);
        }
    }
    out
}

/// Whether the character at byte `i` of `text` is a letter or digit, and its length in bytes.
#[inline]
fn class_at(text: &str, i: usize) -> (bool, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return (b.is_ascii_alphanumeric(), 1);
    }
    let c = text[i..].chars().next().unwrap_or(' ');
    (c.is_alphanumeric(), c.len_utf8())
}

/// The terms written so far, by a hash of their bytes; a term found under its hash is compared
/// byte for byte, so two terms with one hash are both kept. The hash starts from a random seed
/// (each `Seen` its own), so a mail cannot be written to make its terms collide.
struct Seen {
    seed: u64,
    first: std::collections::HashMap<u64, (u32, u32), BuildPassThrough>,
    /// Terms whose hash an earlier, different term has (almost never).
    more: Vec<(u32, u32)>,
}

impl Default for Seen {
    fn default() -> Seen {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one(0u64);
        Seen { seed, first: Default::default(), more: Vec::new() }
    }
}

impl Seen {
    /// Whether the term at `out[start..]` is new; it is remembered if so.
    fn first(&mut self, out: &str, start: usize) -> bool {
        let term = &out.as_bytes()[start..];
        let at = (start as u32, term.len() as u32);
        let same = |&(s, l): &(u32, u32)| &out.as_bytes()[s as usize..(s + l) as usize] == term;
        match self.first.entry(hash_bytes(self.seed, term)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(at);
                true
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                if same(o.get()) || self.more.iter().any(same) {
                    false
                } else {
                    self.more.push(at);
                    true
                }
            }
        }
    }
}

/// A fast 64-bit hash of a short byte string from `seed` (FxHash's mixing, eight bytes at a time).
fn hash_bytes(seed: u64, b: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h = seed ^ b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap_or_default())).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// A hasher for keys that are hashes already.
#[derive(Clone, Copy, Default)]
struct BuildPassThrough;

impl std::hash::BuildHasher for BuildPassThrough {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(0, bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The terms of what a person typed into the search box: no stop words, no repeats, at most 8.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, w) in words(query) {
        let Some(t) = term(w) else { continue };
        if is_stop_word(&fold(w)) || out.contains(&t) {
            continue;
        }
        out.push(t);
        if out.len() == 8 {
            break;
        }
    }
    out
}

/// Lower case, umlauts and their two-letter spellings to the bare vowel, ß to ss, accents off.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    out
}

/// [`fold`] appended to `out` (which holds nothing of another word).
fn fold_into(word: &str, out: &mut String) {
    if word.is_ascii() {
        for b in word.bytes() {
            let c = b.to_ascii_lowercase();
            // „Schaeden“ is „Schäden“ written without umlauts: the e goes as the dots did.
            if c == b'e' && matches!(out.as_bytes().last(), Some(b'a' | b'o' | b'u')) {
                continue;
            }
            out.push(c as char);
        }
        return;
    }
    for c in word.chars() {
        // Most characters of a word with an umlaut are ASCII: no case table for them.
        if c.is_ascii() {
            let c = c.to_ascii_lowercase();
            if !(c == 'e' && out.ends_with(['a', 'o', 'u'])) {
                out.push(c);
            }
            continue;
        }
        for c in c.to_lowercase() {
            fold_char(c, out);
        }
    }
}

/// One lower-case character of a word that is not all ASCII, folded onto `out`.
fn fold_char(c: char, out: &mut String) {
    match c {
        'ä' | 'à' | 'á' | 'â' | 'ã' | 'å' => out.push('a'),
        'ö' | 'ò' | 'ó' | 'ô' | 'õ' | 'ø' => out.push('o'),
        'ü' | 'ù' | 'ú' | 'û' => out.push('u'),
        'é' | 'è' | 'ê' | 'ë' => out.push('e'),
        'í' | 'ì' | 'î' | 'ï' => out.push('i'),
        'ç' => out.push('c'),
        'ñ' => out.push('n'),
        'ß' => out.push_str("ss"),
        // „Schaeden“ is „Schäden“ written without umlauts: the e goes as the dots did.
        'e' if out.ends_with(['a', 'o', 'u']) => {}
        c => out.push(c),
    }
}

/// How many bytes of an ASCII folded word [`stem`] keeps (the same rules on bytes, no copy).
fn stem_len_ascii(w: &[u8]) -> usize {
    let st_ending = |c: u8| matches!(c, b'b' | b'd' | b'f' | b'g' | b'h' | b'k' | b'l' | b'm' | b'n' | b't');
    let n = w.len();
    let w0 = w;
    let cut = if n > 5 && w0.ends_with(b"ern") {
        3
    } else if n > 4 && (w0.ends_with(b"em") || w0.ends_with(b"en") || w0.ends_with(b"er") || w0.ends_with(b"es")) {
        2
    } else if (n > 3 && w0.ends_with(b"e")) || (n > 3 && w0.ends_with(b"s") && st_ending(w0[n - 2])) {
        1
    } else {
        0
    };
    let w = &w0[..n - cut];
    let n = w.len();
    let cut = if n > 5 && w.ends_with(b"est") {
        3
    } else if (n > 4 && (w.ends_with(b"er") || w.ends_with(b"en")))
        || (n > 4 && w.ends_with(b"st") && st_ending(w[n - 3]))
    {
        2
    } else {
        0
    };
    n - cut
}

/// Savoy's light German stemmer on a folded word: one plural or case ending off, then one more.
pub fn stem(word: &str) -> String {
    let mut w: Vec<char> = word.chars().collect();
    let st_ending = |c: char| matches!(c, 'b' | 'd' | 'f' | 'g' | 'h' | 'k' | 'l' | 'm' | 'n' | 't');
    let ends = |w: &[char], s: &str| w.len() >= s.len() && w[w.len() - s.len()..].iter().copied().eq(s.chars());
    let n = w.len();
    let cut = if n > 5 && ends(&w, "ern") {
        3
    } else if n > 4 && (ends(&w, "em") || ends(&w, "en") || ends(&w, "er") || ends(&w, "es")) {
        2
    } else if (n > 3 && ends(&w, "e")) || (n > 3 && ends(&w, "s") && st_ending(w[n - 2])) {
        1
    } else {
        0
    };
    w.truncate(n - cut);
    let n = w.len();
    let cut = if n > 5 && ends(&w, "est") {
        3
    } else if (n > 4 && (ends(&w, "er") || ends(&w, "en"))) || (n > 4 && ends(&w, "st") && st_ending(w[n - 3])) {
        2
    } else {
        0
    };
    w.truncate(n - cut);
    w.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What [`distinct_terms`] must equal: each word's [`term`] but the stop words', once, in
    /// order, joined by spaces.
    fn reference(text: &str) -> String {
        let mut seen = std::collections::HashSet::new();
        words(text)
            .filter(|(_, w)| !STOP_WORDS.contains(&fold(w).as_str()))
            .filter_map(|(_, w)| term(w))
            .filter(|t| seen.insert(t.clone()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn distinct_terms_keeps_each_term_once_in_the_order_it_first_appears() {
        for (text, want) in [
            ("", ""),
            ("Schaden", "schad"),
            ("Schaden Dach, Schäden; KELLER dach schaeden", "schad dach kell"),
            ("  a  b a ", "a b"),
            ("Müller mueller MÜLLER Öl oel", "mull ol"),
        ] {
            assert_eq!(distinct_terms(text), want, "{text:?}");
        }
    }

    #[test]
    fn distinct_terms_tells_terms_with_one_hash_apart() {
        // Two different terms under one hash are both kept: the table only finds candidates.
        let out = "schad dach";
        let mut seen = Seen::default();
        assert!(seen.first(&out[..5], 0));
        assert!(!seen.first(&out[..5], 0), "schad is known");
        // „dach“ as if its hash were schad's.
        let schad = seen.first.remove(&hash_bytes(seen.seed, b"schad")).unwrap();
        seen.first.insert(hash_bytes(seen.seed, b"dach"), schad);
        assert!(seen.first(out, 6), "dach under schad's hash is still new");
        assert!(!seen.first(out, 6), "and then known");
    }

    #[test]
    fn distinct_terms_is_the_words_terms_once() {
        for text in [
            "Schäden, Schaeden und SCHADEN am Auto; Straße/Strasse – Größe: Grösse, Maße",
            "Frühstück Müller Öztürk Zoë Ærø São Paulo naïve Crème brûlée ﬁnanz Ⅻ ǅemal Іван",
            "Wiedervorlagen Versicherungen besten Kindern Hauses gast test ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOP",
            "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ ok 12345 x2y",
            "",
        ] {
            assert_eq!(distinct_terms(text), reference(text), "{text}");
        }
    }

    proptest! {
        #[test]
        fn distinct_terms_equals_the_reference_on_any_text(text in "[a-zA-ZäöüÄÖÜßéèçñøØ0-9 ,.\\-eE]{0,300}") {
            prop_assert_eq!(distinct_terms(&text), reference(&text));
        }

        #[test]
        fn distinct_terms_equals_the_reference_on_any_unicode(text in "\\PC{0,200}") {
            prop_assert_eq!(distinct_terms(&text), reference(&text));
        }
    }

    /// Spellings a clerk uses for the same word: each group has one term.
    #[test]
    fn spellings_and_forms_of_one_word_have_one_term() {
        let groups: &[&[&str]] = &[
            &["Schäden", "Schaeden", "Schaden", "SCHADEN", "schäden"],
            &["Straße", "Strasse", "STRASSE"],
            &["Häuser", "Haeuser", "Haus"],
            &["Müller", "Mueller", "MÜLLER"],
            &["Versicherung", "Versicherungen"],
            &["Kündigung", "Kuendigung", "Kündigungen"],
        ];
        for group in groups {
            let first = term(group[0]).unwrap();
            for w in group.iter() {
                assert_eq!(term(w).unwrap(), first, "{w} and {}", group[0]);
            }
        }
    }

    #[test]
    fn words_are_split_at_non_letters_with_their_ranges() {
        let text = "Re: Schäden (Kfz) – anna@mustermail.de, 2024";
        let found: Vec<_> = words(text).map(|(r, w)| (w, &text[r])).collect();
        let ws: Vec<&str> = found.iter().map(|(w, _)| *w).collect();
        assert_eq!(ws, ["Re", "Schäden", "Kfz", "anna", "mustermail", "de", "2024"]);
        assert!(found.iter().all(|(w, r)| w == r));
        assert_eq!(distinct_terms("Schäden an der Straße"), "schad strass");
    }

    #[test]
    fn stop_words_are_not_indexed_in_any_spelling_but_their_look_alikes_are() {
        assert_eq!(distinct_terms("Der Schaden und DIE Kosten für das Dach, fuer den Keller"), "schad kost dach kell");
        // Not stop words, though their stems are ones: „Anderer“ (and), „Eins“ (ein); nor a
        // longer word beginning like one.
        assert_eq!(distinct_terms("Anderer Dieb Eins"), "and dieb ein");
        assert!(STOP_WORDS.iter().all(|w| is_stop_word(w) && distinct_terms(w).is_empty()));
    }

    #[test]
    fn a_query_drops_stop_words_repeats_and_overlong_words() {
        assert_eq!(query_terms("der Schaden und die Schäden"), ["schad"]);
        assert_eq!(query_terms(&"x".repeat(41)), Vec::<String>::new());
        assert_eq!(query_terms("\"'<script>*:&|!"), ["script"]);
    }
}
