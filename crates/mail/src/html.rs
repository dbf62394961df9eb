//! HTML mail made harmless for display in the web UI (allow-list, no remote content, only `cid:`
//! images) and turned into plain text when a mail has no text part.

use std::borrow::Cow;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};

/// Line width for derived text; wide so that sentences are not broken needlessly.
const TEXT_WIDTH: usize = 120;

static CLEANER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::default();
    b.add_url_schemes(["cid"])
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(filter_attribute);
    b
});

/// Only `cid:` image sources survive; every other attribute that could fetch something goes.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("img", "src") => {
            let is_cid = value.trim_start().get(..4).is_some_and(|s| s.eq_ignore_ascii_case("cid:"));
            is_cid.then_some(Cow::Borrowed(value))
        }
        (_, "srcset" | "background" | "poster" | "style" | "target") => None,
        _ => Some(Cow::Borrowed(value)),
    }
}

/// html5ever's cost grows with nesting depth times tag count; above this we do not parse the HTML.
const NESTING_BUDGET: usize = 4_000_000;
const NON_NESTING: [&str; 20] = [
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr", "param", "p",
    "li", "td", "th", "tr", "option",
];

/// True if the HTML is nested so deeply (or hostile enough) that parsing it would take too long.
/// Estimates the sum of the open-element depth over all tags in one linear scan.
pub fn too_complex(html: &str) -> bool {
    let b = html.as_bytes();
    let (mut depth, mut cost, mut i) = (0usize, 0usize, 0usize);
    while let Some(off) = b.get(i..).and_then(|rest| rest.iter().position(|&c| c == b'<')) {
        i += off + 1;
        let closing = b.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let len = b.get(start..).map_or(0, |r| r.iter().take_while(|c| c.is_ascii_alphanumeric()).count());
        if len == 0 {
            continue;
        }
        let name = html.get(start..start + len).unwrap_or("").to_ascii_lowercase();
        if closing {
            depth = depth.saturating_sub(1);
        } else if !NON_NESTING.contains(&name.as_str()) {
            depth += 1;
        }
        cost += depth;
        if cost > NESTING_BUDGET {
            return true;
        }
    }
    false
}

/// Above this much HTML the sanitiser and html2text take seconds; such HTML is not shown.
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

/// Plain text of raw HTML: via the sanitiser and html2text, or a linear tag stripper for hostile HTML.
pub fn text_of(raw_html: &str, warnings: &mut Vec<String>) -> String {
    if raw_html.len() > MAX_HTML_BYTES || too_complex(raw_html) {
        return mail_parser::decoders::html::html_to_text(raw_html);
    }
    to_text(&sanitize(raw_html), warnings)
}

/// Sanitised HTML: no scripts, styles, forms, frames, event handlers or remote images.
pub fn sanitize(html: &str) -> String {
    CLEANER.clean(html).to_string()
}

/// Plain text from (already sanitised) HTML; falls back to a crude tag stripper on error.
pub fn to_text(html: &str, warnings: &mut Vec<String>) -> String {
    match html2text::config::plain().string_from_read(html.as_bytes(), TEXT_WIDTH) {
        Ok(text) => text,
        Err(e) => {
            warnings.push(format!("HTML to text failed ({e}), used a simple tag stripper"));
            mail_parser::decoders::html::html_to_text(html)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, must_contain: &[&str], must_not_contain: &[&str]) {
        let out = sanitize(input);
        for s in must_contain {
            assert!(out.contains(s), "{out:?} should contain {s:?}");
        }
        for s in must_not_contain {
            assert!(!out.contains(s), "{out:?} should not contain {s:?}");
        }
    }

    #[test]
    fn dangerous_and_remote_html_is_removed_but_cid_images_stay() {
        check("<p>Hallo</p><script>alert(1)</script>", &["<p>Hallo</p>"], &["script", "alert"]);
        check("<img src=x onerror=alert(1)>", &["<img"], &["onerror", "alert"]);
        check("<img src=\"http://tracker.example/p.gif\">", &["<img"], &["http://", "tracker"]);
        check("<img src=\"cid:logo@firma\">", &["src=\"cid:logo@firma\""], &[]);
        check("<a href=\"https://firma.de\" target=\"_blank\">x</a>", &["rel=\"noopener noreferrer\""], &["target"]);
        check("<form action=\"https://evil\"><input name=pw></form>", &[], &["<form", "<input"]);
        check("<iframe src=\"https://evil\"></iframe>ok", &["ok"], &["iframe"]);
        check("<p style=\"background:url(http://evil/x)\">x</p>", &["<p>x</p>"], &["evil"]);
        check("<style>body{background:url(http://evil/x)}</style>x", &["x"], &["evil", "style"]);
        check("<a href=\"javascript:alert(1)\">x</a>", &[], &["javascript"]);
    }

    #[test]
    fn only_pathologically_nested_html_is_too_complex() {
        assert!(!too_complex(&"<table><tr><td><p>Zeile<br></td></tr></table>".repeat(5000)));
        assert!(!too_complex(&format!("{}x{}", "<div>".repeat(300), "</div>".repeat(300))));
        assert!(too_complex(&format!("{}x{}", "<div><b>".repeat(5000), "</b></div>".repeat(5000))));
    }

    /// The deepest nesting the budget lets through must still render on a small (test) thread stack.
    #[test]
    fn the_deepest_html_below_the_budget_renders_without_stack_overflow() {
        for (open, close) in [
            ("<table><tr><td>", "</td></tr></table>"),
            ("<ul><li>", "</li></ul>"),
            ("<blockquote><div>", "</div></blockquote>"),
            ("<span><i>", "</i></span>"),
        ] {
            let nest = |n: usize| format!("{}Text{}", open.repeat(n), close.repeat(n));
            let (mut lo, mut hi) = (1, 20_000);
            while lo + 1 < hi {
                let mid = (lo + hi) / 2;
                if too_complex(&nest(mid)) { hi = mid } else { lo = mid }
            }
            let mut w = Vec::new();
            let text = text_of(&nest(lo), &mut w);
            assert!(text.contains("Text") || !w.is_empty(), "{open} x {lo}");
        }
    }

    #[test]
    fn html_becomes_readable_text() {
        let mut w = Vec::new();
        let text = to_text("<p>Sehr geehrte Damen und Herren,</p><p>anbei die <b>Unterlagen</b>.</p>", &mut w);
        assert!(text.contains("Sehr geehrte Damen und Herren,"), "{text}");
        assert!(text.contains("Unterlagen"), "{text}");
        assert!(w.is_empty());
    }
}
