//! Text from plugins, made safe and short for logs and error messages.

use std::borrow::Cow;

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last `max` bytes of `s` at most, cut at a character boundary.
pub(crate) fn last_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// `s` with its control characters (newlines included) escaped as Rust escapes them (`\n`,
/// `\u{1b}`), and backslashes doubled so an escape cannot be forged either: a plugin's text
/// stays on one log line and cannot pass for the host's own.
pub(crate) fn escape_controls(s: &str) -> String {
    match escaped(s) {
        Cow::Borrowed(s) => s.to_owned(),
        Cow::Owned(s) => s,
    }
}

/// [`escape_controls`], without a copy when there is nothing to escape.
pub(crate) fn escaped(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(last_chars("héllo", 4), "llo");
        assert_eq!(last_chars("abc", 10), "abc");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\nb\r\tc\u{1b}[31m\u{85}"),
            "a\\nb\\r\\tc\\u{1b}[31m\\u{85}"
        );
        // A plugin cannot write an escape that reads as the host's.
        assert_eq!(escape_controls("fake \\n escape"), "fake \\\\n escape");
        assert!(matches!(escaped("plain text é"), Cow::Borrowed(_)));
    }
}
