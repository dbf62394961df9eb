//! The layout invariants every screen must keep, at any window size, checked in the real browser:
//! nothing wider than the window (except inside a box that scrolls sideways), no word broken
//! inside, every button on one line, nothing that allows breaking letters. A new screen's test
//! calls [`Browser::assert_screen_ok`] after it opened the screen.
//!
//! The check runs as a WebDriver script: chromedriver sends it through DevTools, which the page's
//! CSP (`script-src 'self'`: no inline script) does not govern; [`Browser::assert_page_scripts_blocked`] shows both.

use serde_json::Value;

use super::harness::Browser;

/// Collects what breaks the layout rules on the current page, as lines a person can read.
const CHECK: &str = r#"
const vw = document.documentElement.clientWidth;
const slack = 0.5;
const describe = (el) => {
  let d = el.tagName.toLowerCase();
  if (el.id) d += '#' + el.id;
  if (el.classList && el.classList.length) d += '.' + [...el.classList].join('.');
  const text = (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 60);
  return text ? `${d} "${text}"` : d;
};
// A box the user can scroll sideways (or that clips on purpose) and that itself fits.
const clippedBy = (el) => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const ox = getComputedStyle(p).overflowX;
    if (ox === 'auto' || ox === 'scroll' || ox === 'hidden' || ox === 'clip') {
      return p.getBoundingClientRect().right <= vw + slack ? p : null;
    }
  }
  return null;
};
const report = { vw, innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
                 h1: [...document.querySelectorAll('h1')].map(h => h.innerText.trim()),
                 lang: document.documentElement.lang, wide: [], broken: [], buttons: [], styles: [] };

for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if ((r.right > vw + slack || r.left < -slack) && !clippedBy(el)) {
    report.wide.push(`${describe(el)}: ${Math.round(r.left)}..${Math.round(r.right)} of ${vw}`);
  }
  const s = getComputedStyle(el);
  if (!['INPUT', 'TEXTAREA'].includes(el.tagName)
      && (s.overflowWrap === 'anywhere' || s.overflowWrap === 'break-word'
          || s.wordBreak === 'break-all' || s.wordBreak === 'break-word')) {
    report.styles.push(`${describe(el)}: overflow-wrap ${s.overflowWrap}, word-break ${s.wordBreak}`);
  }
}

// Lines a range is laid out on: its client rects grouped by their vertical middle.
const lines = (range) => {
  const mids = [];
  for (const rect of range.getClientRects()) {
    if (rect.width === 0) continue;
    const mid = rect.top + rect.height / 2;
    if (!mids.some(m => Math.abs(m - mid) < 3)) mids.push(mid);
  }
  return mids.length;
};
// A word may go on at these characters (an address, a path or query, a hyphenated word).
const breakable = '-‐/@._?&=#';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || ['SCRIPT', 'STYLE', 'OPTION', 'TEXTAREA'].includes(parent.tagName)) continue;
  const s = getComputedStyle(parent);
  // German hyphenation by the browser's dictionary (a visible hyphen) is a correct break; with
  // the rules above nothing else can break a word there.
  const hyphenates = s.hyphens === 'auto' && s.overflowWrap === 'normal' && s.wordBreak === 'normal';
  for (const m of node.data.matchAll(/\S+/g)) {
    const range = document.createRange();
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    if (lines(range) <= 1) continue;
    // Where does it go on? Each break must follow or precede a breakable character.
    let bad = false;
    let lastMid = null;
    for (let i = 0; i < m[0].length; i++) {
      const c = document.createRange();
      c.setStart(node, m.index + i);
      c.setEnd(node, m.index + i + 1);
      const rect = c.getClientRects()[0];
      if (!rect) continue;
      const mid = rect.top + rect.height / 2;
      if (lastMid !== null && Math.abs(mid - lastMid) >= 3
          && !breakable.includes(m[0][i - 1]) && !breakable.includes(m[0][i])) {
        bad = true;
      }
      lastMid = mid;
    }
    if (bad && !hyphenates) report.broken.push(`"${m[0]}" in ${describe(parent)}`);
  }
}

// One line each; a button as wide as the line it stands in may go on at a space (its words are
// checked above).
for (const b of document.querySelectorAll('button, input[type=submit], a.button, .menu-button, header.top nav a')) {
  const range = document.createRange();
  range.selectNodeContents(b);
  if (lines(range) <= 1) continue;
  const box = b.parentElement.getBoundingClientRect();
  const ps = getComputedStyle(b.parentElement);
  const room = box.width - parseFloat(ps.paddingLeft) - parseFloat(ps.paddingRight);
  if (b.getBoundingClientRect().width < room - 2) report.buttons.push(describe(b));
}
return report;
"#;

impl Browser {
    /// Saves a screenshot of the screen as `name` and fails if it breaks a layout rule: the page
    /// is German (`lang="de"`, a heading), nothing is wider than the window unless inside a box
    /// that scrolls sideways, no word is broken inside (an address or hyphenated word may go on at
    /// `-`, `/`, `@`, `.`, `?`, `&`, `=`, `#`), buttons and menu entries are one line (a button as wide
    /// as its line may go on at a space), and no element allows breaking
    /// between letters (`overflow-wrap: anywhere|break-word`, `word-break: break-all`).
    pub async fn assert_screen_ok(&self, name: &str) -> Value {
        self.screenshot(name).await;
        let report = self.layout_report().await;
        let path = self.path().await;
        let list = |key: &str| -> Vec<String> {
            report[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
        };
        assert_eq!(report["lang"], "de", "{name} ({path}) is not marked German");
        let headings = list("h1");
        assert!(headings.iter().any(|h| !h.is_empty()), "{name} ({path}) has no heading");
        let (scroll, viewport) = (report["scrollWidth"].as_i64(), report["vw"].as_i64());
        assert!(scroll <= viewport, "{name} ({path}) is wider than the window: {scroll:?} > {viewport:?}");
        for (key, what) in [
            ("wide", "reaches beyond the window"),
            ("broken", "is broken inside a word"),
            ("buttons", "wraps onto a second line"),
            ("styles", "allows breaking words between letters"),
        ] {
            let found = list(key);
            assert!(found.is_empty(), "on {name} ({path}) this {what}:\n  {}", found.join("\n  "));
        }
        report
    }

    /// What the layout check finds on the current page (`wide`, `broken`, `buttons`, `styles`: lists
    /// of findings; `h1`, `lang`, `vw`, `scrollWidth`).
    pub async fn layout_report(&self) -> Value {
        self.client.execute(CHECK, vec![]).await.unwrap_or_else(|e| panic!("layout check: {e}"))
    }

    /// The page's own scripts are blocked by its CSP while WebDriver's script runs (it goes through
    /// DevTools): an inline script added to the page does not run, the WebDriver script does.
    pub async fn assert_page_scripts_blocked(&self) {
        let seen = self
            .client
            .execute(
                "const s = document.createElement('script'); s.textContent = 'window.__inline = 1;'; \
                 document.head.appendChild(s); return { webdriver: true, inline: window.__inline === 1 };",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("WebDriver's script did not run under the page's CSP: {e}"));
        assert_eq!(seen["webdriver"], true, "{seen}");
        assert_eq!(seen["inline"], false, "an inline script ran despite the CSP: {seen}");
    }
}
