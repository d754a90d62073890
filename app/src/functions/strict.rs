//! JSON arguments that refuse what they do not know. A server function's arguments are a
//! struct the `#[server]` macro writes, and serde ignores unknown fields of it: a start with
//! `{"req": {…}, "junk": 1}` would start the run. With [`StrictJson`] as its input
//! encoding, an unknown field at any depth is a `validation_error` (400), as on the REST
//! API, and nothing is done. The wire format is plain JSON, as with `Json`.
//!
//! Form-encoded server functions stay lenient on purpose: a form posted without
//! JavaScript sends every named input in it. A struct flattened into another
//! (`#[serde(flatten)]`) would keep what it does not know to itself, out of sight here;
//! `SaveVersion`, which carries a version's content at its top level, is read through a
//! struct that names every field instead, and its parts refuse unknown fields themselves.

use bytes::Bytes;
use leptos::server_fn::codec::Post;
use leptos::server_fn::{ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON; decoding fails on the first field the target type does not read.
pub struct StrictJsonEncoding;

/// Arguments as strict JSON in the body of a `POST`.
pub type StrictJson = Post<StrictJsonEncoding>;

impl ContentType for StrictJsonEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for StrictJsonEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for StrictJsonEncoding {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for StrictJsonEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        decode_strict(&bytes)
    }
}

/// The server functions whose arguments are [`StrictJson`], by path: the server reads their
/// bodies as JSON whatever `Content-Type` a request declares, as server_fn does.
#[cfg(feature = "ssr")]
pub fn json_argument_paths() -> [&'static str; 3] {
    use leptos::server_fn::ServerFn;
    [
        <super::runs::BeginRun as ServerFn>::PATH,
        <super::runs::ListRuns as ServerFn>::PATH,
        <super::prompts::SavePromptVersion as ServerFn>::PATH,
    ]
}

fn decode_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    // Also refused by the server's NUL layer; here too for a function missing from
    // `json_argument_paths`.
    if promptlab::nul::in_json(bytes) {
        return Err(serde::de::Error::custom(
            "text may not contain the NUL character (U+0000)",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut unknown: Option<String> = None;
    let value = serde_ignored::deserialize(&mut de, |path| {
        unknown.get_or_insert_with(|| path.to_string());
    })?;
    de.end()?;
    match unknown {
        Some(path) => Err(serde::de::Error::custom(format!("unknown field `{path}`"))),
        None => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: u32,
        #[serde(default)]
        b: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Args {
        req: Inner,
    }

    #[test]
    fn known_fields_decode_and_unknown_ones_are_refused_at_any_depth() {
        let ok: Args = decode_strict(br#"{"req": {"a": 1}}"#).unwrap();
        assert_eq!(ok.req, Inner { a: 1, b: None });
        for (body, path) in [
            (r#"{"req": {"a": 1}, "junk": 1}"#, "junk"),
            (r#"{"req": {"a": 1, "c": [1]}}"#, "req.c"),
        ] {
            let e = decode_strict::<Args>(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(&format!("`{path}`")), "{e}");
        }
        assert!(decode_strict::<Args>(br#"{"req": {"a": 1}} x"#).is_err());
        assert!(decode_strict::<Args>(br#"{"req": {"a": "1"}}"#).is_err());
        assert!(decode_strict::<Args>(br#"{"req": {"a": 1, "b": "\u0000"}}"#).is_err());
        let text: Args = decode_strict(br#"{"req": {"a": 1, "b": "\\u0000"}}"#).unwrap();
        assert_eq!(text.req.b.as_deref(), Some("\\u0000"));
    }

    #[derive(Debug, Deserialize)]
    struct Save {
        #[allow(dead_code)]
        save: promptlab::versions::SaveVersion,
    }

    #[test]
    fn a_saved_versions_content_refuses_unknown_fields_too() {
        let content = r#""base_version": 0, "messages": [{"role": "user", "content": "Hi"}]"#;
        decode_strict::<Save>(format!(r#"{{"save": {{{content}}}}}"#).as_bytes()).unwrap();
        for extra in [
            r#", "junk": 1"#,
            r#", "params": {"provider": "mock", "model": "m", "temprature": 0.2}"#,
            r#", "variables": [{"name": "x", "kind": "string", "requird": false}]"#,
        ] {
            let body = format!(r#"{{"save": {{{content}{extra}}}}}"#);
            let e = decode_strict::<Save>(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("unknown field"), "{body}: {e}");
        }
        let body = r#"{"save": {"base_version": 0, "messages": [{"role": "user", "content": "Hi", "name": "x"}]}}"#;
        assert!(decode_strict::<Save>(body.as_bytes()).is_err());
    }
}
