//! HTML mail made harmless for display in the web UI (allow-list, no remote content, only `cid:`
//! images) and turned into plain text when a mail has no text part.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use html2text::render::{TaggedLine, TextDecorator};

/// Line width for derived text; wide so that sentences are not broken needlessly.
const TEXT_WIDTH: usize = 120;

static CLEANER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::default();
    b.add_url_schemes(["cid"])
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        // Every link opens in a new tab: inside the sandboxed frame a click would otherwise load
        // the page into the frame (and break it); the frame allows exactly these popups.
        .set_tag_attribute_value("a", "target", "_blank")
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
        ("a", "target") => Some(Cow::Borrowed("_blank")),
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
pub fn text_of(raw_html: &str, warnings: &mut Vec<crate::Warning>) -> String {
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
/// Paragraphs and line breaks as they are, list items with „–“, links as „Text (URL)“, no
/// Markdown marks (`*`, `_`, `#`) and no footnotes: [`PlainText`].
pub fn to_text(html: &str, warnings: &mut Vec<crate::Warning>) -> String {
    let links = Rc::new(RefCell::new(Vec::new()));
    let decorator = PlainText { open: Vec::new(), links: Rc::clone(&links) };
    let config = html2text::config::with_decorator(decorator).no_table_borders();
    match config.string_from_read(html.as_bytes(), TEXT_WIDTH) {
        Ok(text) => without_repeated_urls(text, &links.borrow()),
        Err(e) => {
            warnings.push(crate::Warning::HtmlToTextFailed { detail: e.to_string() });
            mail_parser::decoders::html::html_to_text(html)
        }
    }
}

const MAX_LINKS_TIDIED: usize = 64;

/// html2text's decorator for text a clerk reads: no Markdown, links written out after their text.
#[derive(Clone)]
struct PlainText {
    /// The shown form of each link being rendered (innermost last).
    open: Vec<String>,
    /// Every link's shown form, to undo „URL (URL)“ afterwards (shared with sub-block decorators).
    links: Rc<RefCell<Vec<String>>>,
}

impl TextDecorator for PlainText {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, ()) {
        let shown = url.strip_prefix("mailto:").unwrap_or(url).trim().to_string();
        self.links.borrow_mut().push(shown.clone());
        self.open.push(shown);
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        match self.open.pop() {
            Some(shown) if !shown.is_empty() => format!(" ({shown})"),
            _ => String::new(),
        }
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        let title = title.trim();
        (if title.is_empty() { String::new() } else { format!("[{title}]") }, ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        "> ".into()
    }
    fn unordered_item_prefix(&self) -> String {
        "– ".into()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        PlainText { open: Vec::new(), links: Rc::clone(&self.links) }
    }
    fn decorate_superscript_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_superscript_end(&self) -> String {
        String::new()
    }
    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<()>> {
        Vec::new()
    }
}

/// A link whose text is its address reads „https://x.de“, not „https://x.de (https://x.de)“.
/// For the first [`MAX_LINKS_TIDIED`] distinct links: each costs a pass over the text.
fn without_repeated_urls(mut text: String, links: &[String]) -> String {
    let mut done: Vec<&str> = Vec::new();
    for shown in links.iter().filter(|s| !s.is_empty()) {
        if done.len() >= MAX_LINKS_TIDIED {
            break;
        }
        if done.contains(&shown.as_str()) {
            continue;
        }
        done.push(shown);
        let twice = format!("{shown} ({shown})");
        if text.contains(&twice) {
            text = text.replace(&twice, shown);
        }
    }
    text
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
        check(
            "<a href=\"https://firma.de\" target=\"_top\">x</a>",
            &["rel=\"noopener noreferrer\"", "target=\"_blank\""],
            &["_top"],
        );
        check("<a href=\"#x\" target=\"_parent\">x</a><a name=y>y</a>", &["target=\"_blank\""], &["_parent"]);
        check("<form action=\"https://evil\"><input name=pw></form>", &[], &["<form", "<input"]);
        check("<iframe src=\"https://evil\"></iframe>ok", &["ok"], &["iframe"]);
        check("<p style=\"background:url(http://evil/x)\">x</p>", &["<p>x</p>"], &["evil"]);
        check("<style>body{background:url(http://evil/x)}</style>x", &["x"], &["evil", "style"]);
        check("<a href=\"javascript:alert(1)\">x</a>", &[], &["javascript"]);
        check("<a href=\" JaVaScRiPt:alert(1)\">x</a>", &[], &["alert"]);
        check("<a href=\"data:text/html,<script>x</script>\">x</a>", &[], &["data:", "script"]);
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
    fn text_from_html_is_plain_paragraphs_dashes_and_links_without_markdown() {
        let html = "<h2>Schaden</h2><p>Sehr <b>geehrte</b> <i>Damen</i> und <strong>Herren</strong>,</p>\
                    <p>Zeile eins<br>Zeile zwei</p><ul><li>Fotos</li><li>Gutachten</li></ul>\
                    <ol><li>erstens</li></ol><p>Siehe <a href=\"https://firma.de/x\">unsere Seite</a>, \
                    <a href=\"https://firma.de\">https://firma.de</a> und \
                    <a href=\"mailto:info@firma.de\">info@firma.de</a>.</p><p><code>snake_case</code></p>";
        let mut w = Vec::new();
        let text = to_text(&sanitize(html), &mut w);
        assert!(w.is_empty(), "{w:?}");
        for want in [
            "Schaden\n",
            "Sehr geehrte Damen und Herren,",
            "Zeile eins\nZeile zwei",
            "– Fotos\n– Gutachten",
            "1. erstens",
            "unsere Seite (https://firma.de/x)",
            ", https://firma.de und info@firma.de.",
            "snake_case",
        ] {
            assert!(text.contains(want), "{want:?} in {text}");
        }
        for never in ["*", "#", "[1]", "**", "(https://firma.de)", "mailto:"] {
            assert!(!text.contains(never), "{never:?} in {text}");
        }
    }

    #[test]
    fn a_script_link_is_not_written_out() {
        let mut w = Vec::new();
        let text = to_text(&sanitize("<a href=\"javascript:alert(1)\">Klick</a>"), &mut w);
        assert_eq!(text.trim(), "Klick");
    }

    #[test]
    fn twenty_thousand_links_are_all_written_out() {
        let html: String = (0..20_000).map(|i| format!("<a href=\"https://x.de/{i}\">https://x.de/{i}</a> ")).collect();
        let text = to_text(&html, &mut Vec::new());
        assert!(text.contains("https://x.de/19999"));
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
