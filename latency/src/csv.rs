//! A minimal CSV reader for the crate's two small tables.
//!
//! Rules: the first non-blank line is the header and must list exactly the
//! expected column names (whitespace around names is ignored); blank lines are
//! skipped; fields are separated by commas and trimmed; a field may be wrapped
//! in double quotes (then it may contain commas, and `""` stands for one `"`);
//! a UTF-8 byte-order mark and CRLF line ends are accepted.

use std::path::Path;

use crate::error::{FieldProblem, LatencyError};

/// One data line: its 1-based line number, raw text and trimmed fields.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub(crate) line: usize,
    pub(crate) raw: &'a str,
    pub(crate) fields: Vec<String>,
}

/// Split `text` into header-checked records with exactly `columns.len()` fields.
pub(crate) fn records<'a>(
    file: &str,
    text: &'a str,
    header: &'static str,
    columns: &[&'static str],
) -> Result<Vec<Record<'a>>, LatencyError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());

    let Some((header_line, header_text)) = lines.next() else {
        return Err(LatencyError::MissingHeader {
            file: file.to_string(),
            expected: header,
        });
    };
    let header_ok = split_line(header_text)
        .map(|names| names.iter().map(String::as_str).eq(columns.iter().copied()))
        .unwrap_or(false);
    if !header_ok {
        return Err(LatencyError::BadHeader {
            file: file.to_string(),
            line: header_line,
            found: header_text.to_string(),
            expected: header,
        });
    }

    let mut out = Vec::new();
    for (line, raw) in lines {
        let fields = split_line(raw).ok_or_else(|| LatencyError::UnterminatedQuote {
            file: file.to_string(),
            line,
        })?;
        if fields.len() != columns.len() {
            return Err(LatencyError::FieldCount {
                file: file.to_string(),
                line,
                expected: columns.len(),
                found: fields.len(),
                header,
            });
        }
        out.push(Record { line, raw, fields });
    }
    Ok(out)
}

/// Split one line on commas, honouring double quotes. `None` if a quote is
/// left open.
fn split_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    current.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                current.push(c);
            }
        } else if c == '"' && current.trim().is_empty() {
            current.clear();
            in_quotes = true;
        } else if c == ',' {
            fields.push(current.trim().to_string());
            current.clear();
        } else {
            current.push(c);
        }
    }
    if in_quotes {
        return None;
    }
    fields.push(current.trim().to_string());
    Some(fields)
}

/// Builds field errors for one record.
pub(crate) struct FieldCtx<'f> {
    pub(crate) file: &'f str,
    pub(crate) line: usize,
}

impl FieldCtx<'_> {
    /// An error for `field` with `problem`.
    pub(crate) fn error(&self, field: &'static str, problem: FieldProblem) -> LatencyError {
        LatencyError::BadField {
            file: self.file.to_string(),
            line: self.line,
            field,
            problem,
        }
    }

    /// A non-empty text field.
    pub(crate) fn text(&self, field: &'static str, value: &str) -> Result<String, LatencyError> {
        if value.is_empty() {
            return Err(self.error(field, FieldProblem::Empty));
        }
        Ok(value.to_string())
    }

    /// A region key: non-empty, no whitespace.
    pub(crate) fn key(&self, field: &'static str, value: &str) -> Result<String, LatencyError> {
        let key = self.text(field, value)?;
        if key.chars().any(char::is_whitespace) {
            return Err(self.error(field, FieldProblem::BadKey(key)));
        }
        Ok(key)
    }

    /// A finite number.
    pub(crate) fn number(&self, field: &'static str, value: &str) -> Result<f64, LatencyError> {
        if value.is_empty() {
            return Err(self.error(field, FieldProblem::Empty));
        }
        let number: f64 = value
            .parse()
            .map_err(|_| self.error(field, FieldProblem::NotANumber(value.to_string())))?;
        if !number.is_finite() {
            return Err(self.error(field, FieldProblem::NotFinite(value.to_string())));
        }
        Ok(number)
    }

    /// A finite number within `min..=max`.
    pub(crate) fn number_in(
        &self,
        field: &'static str,
        value: &str,
        min: f64,
        max: f64,
    ) -> Result<f64, LatencyError> {
        let number = self.number(field, value)?;
        if !(min..=max).contains(&number) {
            return Err(self.error(
                field,
                FieldProblem::OutOfRange {
                    value: number,
                    min,
                    max,
                },
            ));
        }
        Ok(number)
    }
}

/// Read a whole file as UTF-8, mapping errors to [`LatencyError::Io`].
pub(crate) fn read(path: &Path) -> Result<String, LatencyError> {
    std::fs::read_to_string(path).map_err(|source| LatencyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::split_line;

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(split_line("a, b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_line(r#"a,"x, ""y""",c"#).unwrap(),
            ["a", r#"x, "y""#, "c"]
        );
        assert_eq!(split_line("a,,").unwrap(), ["a", "", ""]);
        assert!(split_line(r#"a,"open"#).is_none());
    }
}
