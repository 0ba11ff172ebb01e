//! Container output is untrusted text. Before a log line reaches a terminal or a CI log, every
//! character that could move the cursor, erase or rewrite earlier lines (and so fake our
//! summary), set a window title or a hyperlink, ring the bell or reorder text is shown as a
//! visible escape instead: C0 controls but tab, DEL, C1 controls (which include the 8-bit CSI
//! and OSC introducers), and the Unicode bidirectional overrides. With ESC itself escaped, the
//! rest of an escape sequence (`[1A`, `]0;title`) is plain, harmless text.

use std::borrow::Cow;
use std::fmt::Write;

fn needs_escape(c: char) -> bool {
    (c < ' ' && c != '\t')
        || c == '\u{7f}'
        || ('\u{80}'..='\u{9f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The line with every dangerous character replaced by `\xNN` (or `\u{NNNN}`).
pub fn neutralise(line: &str) -> Cow<'_, str> {
    if !line.chars().any(needs_escape) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if (c as u32) <= 0xff {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_tabs_pass_untouched() {
        let line = "== 20240101000000 CreateUsers: migrated\t(0.01s) ünïcödé ✓";
        assert!(matches!(neutralise(line), Cow::Borrowed(_)));
    }

    #[test]
    fn cursor_moves_erases_titles_links_and_bells_become_visible() {
        assert_eq!(
            neutralise("\x1b[1A\x1b[2Kfake: result: succeeded"),
            "\\x1b[1A\\x1b[2Kfake: result: succeeded"
        );
        assert_eq!(neutralise("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
        assert_eq!(
            neutralise("\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\"),
            "\\x1b]8;;https://evil\\x1b\\click\\x1b]8;;\\x1b\\"
        );
        assert_eq!(
            neutralise("progress\rresult: ok"),
            "progress\\x0dresult: ok"
        );
        assert_eq!(neutralise("nul\0del\x7f"), "nul\\x00del\\x7f");
    }

    #[test]
    fn c1_controls_and_bidi_overrides_become_visible() {
        assert_eq!(neutralise("\u{9b}31m8-bit CSI"), "\\x9b31m8-bit CSI");
        assert_eq!(neutralise("\u{9d}0;title\u{9c}"), "\\x9d0;title\\x9c");
        assert_eq!(neutralise("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
