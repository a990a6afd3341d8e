//! Decoding of the JSON arrays that [`super::dialect::Dialect::json_rows`] aggregates child
//! rows and linked ids into, so that a read is one statement.
//!
//! The shape is the same for every dialect: an array of rows, each an array of values in
//! the order of the columns asked for. A value is `null` (no value), a number (an integer
//! when it has no fraction or exponent, else a float), a string, or a tagged array for
//! what plain JSON cannot carry exactly: `["x", "<hex>"]` is binary data and
//! `["f", "<text>"]` a float written so that it parses back to the same bits.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::connector::{ConnectorError, Value};

/// One value of an aggregated row; `None` for SQL NULL.
struct Cell(Option<Value>);

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CellVisitor)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a number, a string or a tagged value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell(None))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell, E> {
        Ok(Cell(Some(Value::Bool(v))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
        Ok(Cell(Some(Value::Int(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
        // Beyond i64 only a float can hold it (SQL integers are 64-bit signed).
        Ok(Cell(Some(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell, E> {
        Ok(Cell(Some(Value::Float(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
        Ok(Cell(Some(Value::Text(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cell, E> {
        Ok(Cell(Some(Value::Text(v))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
        let tag: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("empty tagged value"))?;
        let body: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("tagged value without a body"))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("tagged value with more than two elements"));
        }
        match tag.as_str() {
            "x" => decode_hex(&body)
                .map(|b| Cell(Some(Value::Bytes(b))))
                .ok_or_else(|| de::Error::custom("bad hex in a binary value")),
            // Rust's float parsing is exact; it also reads SQLite's `Inf`/`-Inf`.
            "f" => body
                .trim()
                .parse::<f64>()
                .map(|x| Cell(Some(Value::Float(x))))
                .map_err(|_| de::Error::custom(format!("bad float `{body}`"))),
            other => Err(de::Error::custom(format!("unknown value tag `{other}`"))),
        }
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}

/// Decodes an aggregated array of rows, each of exactly `width` values.
pub fn decode_rows(json: &str, width: usize) -> Result<Vec<Vec<Option<Value>>>, ConnectorError> {
    let rows: Vec<Vec<Cell>> =
        serde_json::from_str(json).map_err(|e| ConnectorError::Backend(format!("unreadable aggregated rows: {e}")))?;
    rows.into_iter()
        .map(|row| {
            if row.len() == width {
                Ok(row.into_iter().map(|c| c.0).collect())
            } else {
                Err(ConnectorError::Backend(format!(
                    "an aggregated row has {} values, expected {width}",
                    row.len()
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<Value> {
        Some(Value::Text(s.to_owned()))
    }

    #[test]
    fn types_and_nulls() {
        let rows = decode_rows(r#"[["a", 1, null, -9223372036854775808, 2.5, 1.0e+300, true]]"#, 7).unwrap();
        assert_eq!(
            rows,
            vec![vec![
                text("a"),
                Some(Value::Int(1)),
                None,
                Some(Value::Int(i64::MIN)),
                Some(Value::Float(2.5)),
                Some(Value::Float(1.0e300)),
                Some(Value::Bool(true)),
            ]]
        );
        assert_eq!(decode_rows("[]", 3).unwrap(), Vec::<Vec<Option<Value>>>::new());
    }

    #[test]
    fn order_is_kept() {
        let rows = decode_rows(r#"[["c"],["a"],["b"]]"#, 1).unwrap();
        assert_eq!(rows, vec![vec![text("c")], vec![text("a")], vec![text("b")]]);
    }

    #[test]
    fn strings_with_json_metacharacters() {
        let rows = decode_rows(
            r#"[["say \"hi\"]", "ü ✓ 𝄞", "a],[\"b", "back\\slash\nline", "\u00e9\ud834\udd1e"]]"#,
            5,
        )
        .unwrap();
        assert_eq!(
            rows[0],
            vec![
                text("say \"hi\"]"),
                text("ü ✓ 𝄞"),
                text("a],[\"b"),
                text("back\\slash\nline"),
                text("é𝄞")
            ]
        );
    }

    #[test]
    fn tagged_blobs_and_floats() {
        let rows = decode_rows(
            r#"[[["x", "00FFa0"], ["x", ""], ["f", "3.00000000000000044408e-01"], ["f", "Inf"], ["f", "-Inf"]]]"#,
            5,
        )
        .unwrap();
        assert_eq!(
            rows[0],
            vec![
                Some(Value::Bytes(vec![0, 255, 160])),
                Some(Value::Bytes(vec![])),
                Some(Value::Float(0.1 + 0.2)),
                Some(Value::Float(f64::INFINITY)),
                Some(Value::Float(f64::NEG_INFINITY)),
            ]
        );
    }

    #[test]
    fn malformed_input_is_a_backend_error() {
        for bad in [
            "",
            "{}",
            "[1]",
            r#"[["a"]]"#,
            r#"[[["x", "abc"]]]"#,
            r#"[[["x", "zz"]]]"#,
            r#"[[["q", "1"]]]"#,
            r#"[[["f", "one"]]]"#,
            r#"[[["f"]]]"#,
            r#"[[["x", "00", 1]]]"#,
            r#"[[{"a": 1}]]"#,
        ] {
            let width = if bad == r#"[["a"]]"# { 2 } else { 1 };
            assert!(
                matches!(decode_rows(bad, width), Err(ConnectorError::Backend(_))),
                "{bad}"
            );
        }
    }
}
