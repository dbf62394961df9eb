//! Marks the words of a hit that matched the query, as HTML: the text is escaped here, and the
//! only markup is the `<mark>` this module writes, so mail content (a subject `<script>…`) can
//! never become markup. A word matches when its term starts with a query term (`analyze.rs`),
//! which is exactly how the index was asked.

use super::analyze::{term, words};

/// `text` escaped, every matching word in `<mark>`.
pub fn mark(text: &str, query: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (range, word) in words(text) {
        if matches(word, query) {
            escape_into(&mut out, &text[at..range.start]);
            out.push_str("<mark>");
            escape_into(&mut out, word);
            out.push_str("</mark>");
            at = range.end;
        }
    }
    escape_into(&mut out, &text[at..]);
    out
}

/// A short piece of `text` around its first matching word (about `WORDS_BEFORE` words before and
/// `WORDS_AFTER` after), marked; `None` when no word of it matches.
pub fn snippet(text: &str, query: &[String]) -> Option<String> {
    const WORDS_BEFORE: usize = 8;
    const WORDS_AFTER: usize = 24;
    let all: Vec<_> = words(text).map(|(r, _)| r).collect();
    let hit = all.iter().position(|r| matches(&text[r.clone()], query))?;
    let first = hit.saturating_sub(WORDS_BEFORE);
    let last = (hit + WORDS_AFTER).min(all.len() - 1);
    // The whole text's ends when the window reaches them (signs before the first or after the
    // last word included).
    let start = if first == 0 { 0 } else { all[first].start };
    let end = if last + 1 == all.len() { text.len() } else { all[last].end };
    let piece = text[start..end].split_whitespace().collect::<Vec<_>>().join(" ");
    let (before, after) = (if first > 0 { "… " } else { "" }, if last + 1 < all.len() { " …" } else { "" });
    Some(format!("{before}{}{after}", mark(&piece, query)))
}

fn matches(word: &str, query: &[String]) -> bool {
    term(word).is_some_and(|t| query.iter().any(|q| t.starts_with(q.as_str())))
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::analyze::query_terms;
    use super::*;

    #[test]
    fn matching_words_are_marked_in_every_spelling() {
        let q = query_terms("Schaeden Strasse");
        assert_eq!(mark("Schäden an der Straße", &q), "<mark>Schäden</mark> an der <mark>Straße</mark>");
        assert_eq!(mark("Schadensmeldung", &q), "<mark>Schadensmeldung</mark>");
        assert_eq!(mark("Kein Treffer", &q), "Kein Treffer");
    }

    /// Mail content is hostile: whatever it holds, the only tags are our own `<mark>`.
    #[test]
    fn the_highlight_escapes_everything_but_its_own_mark() {
        let q = query_terms("script Schaden");
        let hostile = "<script>alert('x')</script> \"Schaden\" <img src=x onerror=alert(1)> &amp;";
        for html in [mark(hostile, &q), snippet(hostile, &q).unwrap()] {
            let without_marks = html.replace("<mark>", "").replace("</mark>", "");
            assert!(!without_marks.contains('<') && !without_marks.contains('>'), "{html}");
            assert!(!without_marks.contains('"') && !without_marks.contains('\''), "{html}");
            assert!(html.contains("&lt;<mark>script</mark>&gt;"), "{html}");
            assert!(html.contains("&amp;amp;"), "{html}");
        }
        // A query that is itself markup finds the words, and is never echoed as markup.
        assert_eq!(mark("a <b>", &query_terms("<b>")), "a &lt;<mark>b</mark>&gt;");
    }

    #[test]
    fn a_snippet_is_a_window_around_the_first_match() {
        let text = (1..=100).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ") + " Schaden am Auto";
        let s = snippet(&text, &query_terms("Schaden")).unwrap();
        assert!(s.starts_with("… w93 ") && s.contains("<mark>Schaden</mark> am Auto"), "{s}");
        assert!(!s.ends_with('…'));
        assert_eq!(snippet("nichts", &query_terms("Schaden")), None);
    }
}
