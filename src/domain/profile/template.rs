//! Templates with named placeholders (`"t={ts},{sigs}"`, `"v0:{ts}:{body}"`):
//! parsed once at create time so an unknown placeholder is a field
//! violation, never a surprise at send time.

use std::fmt;

/// The values a template may name. Each template context allows a subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The event id (the message id, stable across retries).
    Id,
    /// The event type.
    Type,
    /// The event scope, empty when none.
    Scope,
    /// The attempt's timestamp in the profile's unit.
    Ts,
    /// The raw request body (signed content only).
    Body,
    /// One signature (a signature's `each` form only).
    Sig,
    /// All signatures, joined (a signature's `value` form only).
    Sigs,
}

impl Placeholder {
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Id => "id",
            Placeholder::Type => "type",
            Placeholder::Scope => "scope",
            Placeholder::Ts => "ts",
            Placeholder::Body => "body",
            Placeholder::Sig => "sig",
            Placeholder::Sigs => "sigs",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}}; allowed here: {allowed}")]
    UnknownPlaceholder { name: String, allowed: String },
    #[error("'{{' at byte {position} does not start a placeholder such as {{id}}")]
    Unclosed { position: usize },
    #[error("must contain {{{0}}}")]
    Missing(&'static str),
    #[error("is {len} bytes long; the maximum is {max}")]
    TooLong { len: usize, max: usize },
    #[error("contains a control or non-ASCII character at byte {position}; use printable ASCII")]
    InvalidChar { position: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A parsed template. Displays as the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

pub const MAX_TEMPLATE_LEN: usize = 256;

impl Template {
    /// Parses `text`, allowing only the placeholders in `allowed`.
    pub fn parse(text: &str, allowed: &[Placeholder]) -> Result<Self, TemplateError> {
        if text.len() > MAX_TEMPLATE_LEN {
            return Err(TemplateError::TooLong {
                len: text.len(),
                max: MAX_TEMPLATE_LEN,
            });
        }
        if let Some(position) = text.bytes().position(|b| !(b' '..=b'~').contains(&b)) {
            return Err(TemplateError::InvalidChar { position });
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(TemplateError::Unclosed {
                    position: offset + open,
                });
            };
            let name = &after[..close];
            let placeholder = allowed
                .iter()
                .copied()
                .find(|p| p.name() == name)
                .ok_or_else(|| TemplateError::UnknownPlaceholder {
                    name: crate::domain::headers::preview(name),
                    allowed: allowed
                        .iter()
                        .map(|p| format!("{{{}}}", p.name()))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            pieces.push(Piece::Value(placeholder));
            let consumed = open + 1 + close + 1;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self(pieces))
    }

    /// Like [`Template::parse`], and the template must name `required`.
    pub fn parse_requiring(
        text: &str,
        allowed: &[Placeholder],
        required: Placeholder,
    ) -> Result<Self, TemplateError> {
        let template = Self::parse(text, allowed)?;
        if !template.names(required) {
            return Err(TemplateError::Missing(required.name()));
        }
        Ok(template)
    }

    pub fn names(&self, placeholder: Placeholder) -> bool {
        self.0.contains(&Piece::Value(placeholder))
    }

    /// Writes the template into `out`, asking `value` for each placeholder.
    pub fn render_into(&self, out: &mut Vec<u8>, mut value: impl FnMut(Placeholder, &mut Vec<u8>)) {
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
                Piece::Value(p) => value(*p, out),
            }
        }
    }

    pub fn render(&self, value: impl FnMut(Placeholder, &mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(&mut out, value);
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => f.write_str(text)?,
                Piece::Value(p) => write!(f, "{{{}}}", p.name())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Placeholder::*;

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("t={ts},{sigs}", &[Ts, Sigs]).unwrap();
        assert_eq!(t.to_string(), "t={ts},{sigs}");
        let out = t.render(|p, out| out.extend_from_slice(if p == Ts { b"17" } else { b"v1=a" }));
        assert_eq!(out, b"t=17,v1=a");
        assert_eq!(Template::parse("", &[]).unwrap().render(|_, _| {}), b"");
        assert_eq!(Template::parse("plain", &[]).unwrap().to_string(), "plain");
    }

    #[test]
    fn rejects_what_it_cannot_render() {
        assert_eq!(
            Template::parse("{nope}", &[Id, Ts])
                .unwrap_err()
                .to_string(),
            "unknown placeholder {nope}; allowed here: {id}, {ts}"
        );
        assert_eq!(
            Template::parse("ab{id", &[Id]).unwrap_err(),
            TemplateError::Unclosed { position: 2 }
        );
        assert_eq!(
            Template::parse("{body}", &[Id]).unwrap_err(),
            TemplateError::UnknownPlaceholder {
                name: "body".into(),
                allowed: "{id}".into()
            }
        );
        assert_eq!(
            Template::parse_requiring("v1,", &[Sig], Sig).unwrap_err(),
            TemplateError::Missing("sig")
        );
        assert!(matches!(
            Template::parse("a\r\nb", &[]).unwrap_err(),
            TemplateError::InvalidChar { position: 1 }
        ));
        assert!(matches!(
            Template::parse(&"x".repeat(257), &[]).unwrap_err(),
            TemplateError::TooLong { len: 257, .. }
        ));
    }
}
