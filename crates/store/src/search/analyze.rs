//! The words of the search, made the same way for the index and for the query, on both backends:
//! split at everything that is not a letter or digit, lower-case, fold umlauts and their spellings
//! (ä/ae → a, ö/oe → o, ü/ue → u, ß → ss, other accents dropped), then a light German stemmer
//! (Savoy's, as in Lucene's `GermanLightStemmer`): „Schäden“, „Schaeden“ and „Schaden“ all become
//! `schad`, „Straße“ and „Strasse“ `strass`. A query word matches every indexed word that starts
//! with its stem, so „Schaden“ also finds „Schadensmeldung“ (German compounds).
//!
//! Both databases index these stems only (SQLite FTS5 with `unicode61`, PostgreSQL `tsvector`
//! with the `simple` configuration, which adds no stemming of its own), so a query finds the same
//! Vorgänge on either, and the highlighter (`highlight.rs`) marks exactly the words that matched.

use std::ops::Range;

/// Longer words (base64 runs, long URLs) are not indexed.
const MAX_WORD_CHARS: usize = 40;

/// Words too common to narrow a search; dropped from a query (not from the index).
const STOP_WORDS: &[&str] = &[
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem", "einen", "und", "oder", "im",
    "in", "an", "am", "auf", "zu", "zum", "zur", "von", "vom", "mit", "fur", "ist", "bei", "the", "and",
];

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

/// The index form of a whole text: its terms, separated by spaces.
pub fn terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (_, w) in words(text) {
        if let Some(t) = term(w) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&t);
        }
    }
    out
}

/// The terms of what a person typed into the search box: no stop words, no repeats, at most 8.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, w) in words(query) {
        let Some(t) = term(w) else { continue };
        if STOP_WORDS.contains(&fold(w).as_str()) || out.contains(&t) {
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
    for c in word.chars().flat_map(char::to_lowercase) {
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
    out
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
        assert_eq!(terms("Schäden an der Straße"), "schad an der strass");
    }

    #[test]
    fn a_query_drops_stop_words_repeats_and_overlong_words() {
        assert_eq!(query_terms("der Schaden und die Schäden"), ["schad"]);
        assert_eq!(query_terms(&"x".repeat(41)), Vec::<String>::new());
        assert_eq!(query_terms("\"'<script>*:&|!"), ["script"]);
    }
}
