//! What a template's source shows before it is parsed: whether it only prints text and
//! variables ([`is_plain`], which the server renders in its own process), and, on the
//! server, whether any one tag is too long, or an `if` too long a chain, to parse safely
//! ([`check_tags`]).
//!
//! minijinja guards the nesting of statements and parentheses, but a chain within one
//! expression (`a.b.b.b…`, `a ~ a ~ a…`, `x | f | f…`, `not not not…`) becomes a tree as
//! deep as it is long, which its code generator, its variable scan and even the tree's
//! drop walk by recursion: a 10 kB tag of `.b` overflows a 2 MiB thread stack and aborts
//! the server's process. So is an `{% elif %}` chain: each branch nests the rest one level
//! deeper. So a tag has at most [`MAX_TAG_TOKENS`] tokens and a template at most
//! [`MAX_ELIFS`] `elif`s, counted by minijinja's own lexer before anything is parsed, and
//! before every preview: the server never parses, stores or previews a template that would
//! fail it, and the browser runs no template at all.

/// True when a template only prints text and variables: no statement (`{% %}`), comment,
/// filter, operator, call or literal, only `{{ name }}` with attributes and indexes of at
/// most two digits (`{{ a.b[0] }}`), whitespace control allowed. Such a template cannot
/// build a value or loop: its cost is its length and its variables' size, which are
/// bounded (an index into a string walks its characters, so indexes stay small).
pub fn is_plain(source: &str) -> bool {
    if source.contains("{%") || source.contains("{#") {
        return false;
    }
    let mut rest = source;
    while let Some(at) = rest.find("{{") {
        let after = &rest[at + 2..];
        let Some(end) = after.find("}}") else {
            return false;
        };
        let inner = after[..end].strip_prefix('-').unwrap_or(&after[..end]);
        let inner = inner.strip_suffix('-').unwrap_or(inner);
        if !is_path(inner.trim()) {
            return false;
        }
        rest = &after[end + 2..];
    }
    true
}

/// `name`, then any of `.name` and `[d]` / `[dd]`, with no spaces inside.
fn is_path(expr: &str) -> bool {
    let ident_len = |s: &str| {
        let mut chars = s.char_indices();
        match chars.next() {
            Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
            _ => return 0,
        }
        chars
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(s.len(), |(i, _)| i)
    };
    let first = ident_len(expr);
    if first == 0 {
        return false;
    }
    let mut rest = &expr[first..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let n = ident_len(r);
            if n == 0 {
                return false;
            }
            rest = &r[n..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            match r[digits..].strip_prefix(']') {
                Some(after) if (1..=2).contains(&digits) => rest = after,
                _ => return false,
            }
        } else {
            return false;
        }
    }
    true
}

/// Tokens one `{{ }}` or `{% %}` tag may hold. A depth of a thousand parses with room to
/// spare on a 2 MiB stack in a debug build (two thousand did not); no prompt needs a
/// tenth of this in one tag.
#[cfg(feature = "ssr")]
pub const MAX_TAG_TOKENS: usize = 500;

/// `{% elif %}` branches one template may have. Each nests the rest of its `if` one level
/// deeper, outside minijinja's guard on nesting: 1,000 overflowed a 2 MiB stack in a
/// debug build; 300, inside 140 nested blocks and beside a tag of 500 tokens, did not.
#[cfg(feature = "ssr")]
pub const MAX_ELIFS: usize = 100;

/// Refuse a template one of whose tags has more than [`MAX_TAG_TOKENS`] tokens, or which
/// has more than [`MAX_ELIFS`] `elif` branches, before it is parsed. Lexing errors are left for the parser to report: every token before one has
/// been counted, so the parser stops before anything deep is built.
#[cfg(feature = "ssr")]
pub(super) fn check_tags(source: &str, message_index: usize) -> Result<(), super::TemplateError> {
    use minijinja::machinery::{tokenize, Token};
    let refuse = |span: minijinja::machinery::Span, kind: &str, message: String| {
        Err(super::TemplateError {
            message_index,
            line: Some(usize::from(span.start_line)),
            column: Some(usize::from(span.start_col) + 1),
            kind: kind.into(),
            variable: None,
            message,
        })
    };
    let mut in_tag = 0usize;
    let mut elifs = 0usize;
    for item in tokenize(source, false, super::syntax()) {
        let Ok((token, span)) = item else {
            return Ok(());
        };
        match token {
            Token::VariableStart | Token::BlockStart => in_tag = 0,
            Token::VariableEnd | Token::BlockEnd | Token::TemplateData(_) => {}
            token => {
                in_tag += 1;
                if in_tag > MAX_TAG_TOKENS {
                    return refuse(
                        span,
                        "tag_too_long",
                        format!("a tag has more than {MAX_TAG_TOKENS} tokens; split it into smaller ones"),
                    );
                }
                if in_tag == 1 && matches!(token, Token::Ident("elif")) {
                    elifs += 1;
                    if elifs > MAX_ELIFS {
                        return refuse(
                            span,
                            "too_many_branches",
                            format!("a template has more than {MAX_ELIFS} elif branches"),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
