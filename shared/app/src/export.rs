//! Exports of tables to CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right) and
//! XLSX.

use crate::error::AppError;

/// A table: header row and data rows, all as text or numbers.
pub struct Table {
    pub sheet: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
            Cell::Number(n) => format!("{n:.3}"),
            Cell::Empty => String::new(),
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Number(n as f64)
    }
}

impl From<Option<f64>> for Cell {
    fn from(n: Option<f64>) -> Self {
        n.map_or(Cell::Empty, Cell::Number)
    }
}

/// Spreadsheet programs run cells that start with these as formulas; a leading apostrophe stops it.
fn defuse(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s
    }
}

pub fn to_csv(table: &Table) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&table.headers).map_err(|e| AppError::Internal(e.to_string()))?;
        for row in &table.rows {
            w.write_record(row.iter().map(|c| defuse(c.text()))).map_err(|e| AppError::Internal(e.to_string()))?;
        }
        w.flush().map_err(|e| AppError::Internal(e.to_string()))?;
    }
    Ok(out)
}

pub fn to_xlsx(table: &Table) -> Result<Vec<u8>, AppError> {
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(e.to_string());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(&table.sheet).map_err(err)?;
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_string(0, c as u16, h).map_err(err)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            match cell {
                // write_string stores text as text: nothing a user typed becomes a formula.
                Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()).map_err(err)?,
                Cell::Number(n) => sheet.write_number(r, c, *n).map(|_| ()).map_err(err)?,
                Cell::Empty => {}
            }
        }
    }
    book.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            sheet: "考核".into(),
            headers: vec!["单位".into(), "按时率".into()],
            rows: vec![vec!["交通运输局".into(), Cell::Number(0.95)], vec!["=cmd()".into(), Cell::Empty]],
        }
    }

    #[test]
    fn csv_has_bom_and_defuses_formulas() {
        let bytes = to_csv(&table()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("交通运输局,0.950"));
        assert!(text.contains("'=cmd()"));
    }

    #[test]
    fn xlsx_is_a_zip_file() {
        let bytes = to_xlsx(&table()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
