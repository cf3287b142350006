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

/// The formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A table written a row at a time into a temporary file (removed when dropped): memory holds a
/// row, however many rows. XLSX uses the writer's constant-memory mode (each row goes to a temporary
/// file as it is written; strings inline), so rows must come in order — they do.
pub struct FileTable {
    out: FileOut,
    rows: u32,
}

enum FileOut {
    Csv(Box<csv::Writer<std::fs::File>>),
    Xlsx(Box<rust_xlsxwriter::Workbook>),
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

fn io_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("export: {e}"))
}

/// Most rows of a sheet (XLSX's limit, less the header).
pub const MAX_ROWS: u32 = 1_048_575;

impl FileTable {
    pub fn new(format: Format, sheet: &str, headers: &[&str]) -> Result<FileTable, AppError> {
        let out = match format {
            Format::Csv => {
                let mut file = tempfile::tempfile().map_err(io_err)?;
                std::io::Write::write_all(&mut file, "\u{feff}".as_bytes()).map_err(io_err)?;
                let mut w = csv::Writer::from_writer(file);
                w.write_record(headers).map_err(io_err)?;
                FileOut::Csv(Box::new(w))
            }
            Format::Xlsx => {
                let mut book = Box::new(rust_xlsxwriter::Workbook::new());
                let ws = book.add_worksheet_with_constant_memory().map_err(xlsx_err)?;
                ws.set_name(sheet).map_err(xlsx_err)?;
                for (c, h) in headers.iter().enumerate() {
                    ws.write_string(0, c as u16, *h).map_err(xlsx_err)?;
                }
                FileOut::Xlsx(book)
            }
        };
        Ok(FileTable { out, rows: 0 })
    }

    pub fn push(&mut self, row: Vec<Cell>) -> Result<(), AppError> {
        if self.rows >= MAX_ROWS {
            return Err(AppError::invalid(
                "export_too_large",
                "format",
                format!("导出最多 {MAX_ROWS} 行，请缩小筛选范围"),
            ));
        }
        self.rows += 1;
        match &mut self.out {
            FileOut::Csv(w) => w.write_record(row.iter().map(|c| defuse(c.text()))).map_err(io_err),
            FileOut::Xlsx(book) => {
                let ws = book.worksheet_from_index(0).map_err(xlsx_err)?;
                for (c, cell) in row.iter().enumerate() {
                    let c = c as u16;
                    match cell {
                        // write_string stores text as text: nothing a user typed becomes a formula.
                        Cell::Text(s) => ws.write_string(self.rows, c, s).map(|_| ()).map_err(xlsx_err)?,
                        Cell::Number(n) => ws.write_number(self.rows, c, *n).map(|_| ()).map_err(xlsx_err)?,
                        Cell::Empty => {}
                    }
                }
                Ok(())
            }
        }
    }

    /// Rows written so far (without the header).
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// The finished file, read from its start; removed when closed.
    pub fn finish(self) -> Result<std::fs::File, AppError> {
        let mut file = match self.out {
            FileOut::Csv(w) => w.into_inner().map_err(|e| io_err(e.error()))?,
            FileOut::Xlsx(mut book) => {
                let mut file = tempfile::tempfile().map_err(io_err)?;
                book.save_to_writer(&mut file).map_err(xlsx_err)?;
                file
            }
        };
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).map_err(io_err)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_table_writes_rows_as_they_come_in_both_formats() {
        for format in [Format::Csv, Format::Xlsx] {
            let mut t = FileTable::new(format, "留言", &["编号", "标题"]).unwrap();
            for i in 0..3000 {
                t.push(vec![Cell::Text(format!("GA{i}")), Cell::from("=cmd()")]).unwrap();
            }
            assert_eq!(t.rows(), 3000);
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut t.finish().unwrap(), &mut bytes).unwrap();
            match format {
                Format::Csv => {
                    let text = String::from_utf8(bytes).unwrap();
                    assert!(text.starts_with("\u{feff}编号,标题\n"), "{}", &text[..40]);
                    assert!(text.contains("GA2999,'=cmd()"));
                }
                Format::Xlsx => assert_eq!(&bytes[..2], b"PK"),
            }
        }
    }

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
