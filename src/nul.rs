//! Finding an encoded NUL character (U+0000) in request text. PostgreSQL cannot store a NUL
//! in a text column and no field of PromptLab has a use for one, so the server refuses
//! requests that carry one (`server/src/layers/nul_text.rs`), and so does the strict JSON
//! decoding of server-function arguments (`app/src/functions/strict.rs`).

/// Whether a JSON text holds a NUL: a raw zero byte, or a `\u0000` escape, that is `u0000`
/// after an odd run of backslashes (an even run is escaped backslashes, then the letters).
pub fn in_json(b: &[u8]) -> bool {
    if b.contains(&0) {
        return true;
    }
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'\\') {
        let start = i + off;
        let end = start + b[start..].iter().take_while(|&&c| c == b'\\').count();
        if (end - start) % 2 == 1 && b[end..].starts_with(b"u0000") {
            return true;
        }
        i = end;
    }
    false
}

/// Whether percent-encoded text (an address, a form body) holds a NUL: `%00` or a raw
/// zero byte. An encoded percent sign followed by `00` (`%2500`) is not one.
pub fn in_percent_encoded(b: &[u8]) -> bool {
    b.contains(&0) || b.windows(3).any(|w| w == b"%00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_are_told_from_escaped_backslashes() {
        assert!(in_json(br#"{"a":"x\u0000y"}"#));
        assert!(in_json(br#"{"a":"\\\u0000"}"#));
        assert!(in_json(b"{\"a\":\"\0\"}"));
        // An escaped backslash, then the letters: the text `\u0000`, no NUL.
        assert!(!in_json(br#"{"a":"\\u0000"}"#));
        assert!(!in_json(br#"{"a":"\\\\u0000"}"#));
        assert!(!in_json(br#"{"a":"\u0001 \u0010"}"#));
        assert!(!in_json(br#"{"a":"%00 and \n"}"#));
        assert!(!in_json(br#"{"a":"ends with \\"}"#));
        assert!(!in_json(b"\\"));
    }

    #[test]
    fn percent_encoded_nul_is_found_and_an_encoded_percent_is_not() {
        assert!(in_percent_encoded(b"q=a%00b"));
        assert!(in_percent_encoded(b"q=a\0b"));
        assert!(!in_percent_encoded(b"q=100%2500"));
        assert!(!in_percent_encoded(b"q=%20%30%300"));
    }
}
