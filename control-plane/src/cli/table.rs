//! Plain aligned tables and the few value formats the tables use. No terminal tricks: the output
//! is meant to be read and to be piped into `awk`/`column`.

/// Columns separated by two spaces, each as wide as its widest cell; no trailing spaces.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells print empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let cell = |row: &[String], i: usize| -> String {
            // A newline or tab inside a cell would break the alignment of every row after it.
            row.get(i)
                .map(|c| c.replace(['\n', '\r', '\t'], " "))
                .unwrap_or_default()
        };
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(cell(row, i).chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate().take(n) {
                let c = cell(row, i);
                line.push_str(&c);
                if i + 1 < n {
                    let pad = width - c.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = width - k.chars().count();
        out.push_str(&format!("{k}:{}  {v}\n", " ".repeat(pad)));
    }
    out
}

/// Milliseconds since the Unix epoch as UTC `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(at_ms: u64) -> String {
    let secs = at_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (non-negative only).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_the_widest_cell_without_trailing_spaces() {
        let mut t = Table::new(&["NAME", "DESCRIPTION", "CREATED"]);
        t.row(vec!["tokyo".into(), "Tokyo, Japan".into(), "3".into()]);
        t.row(vec!["ap-southeast-1".into(), "".into(), "12".into()]);
        assert_eq!(
            t.render(),
            "NAME            DESCRIPTION   CREATED\n\
             tokyo           Tokyo, Japan  3\n\
             ap-southeast-1                12\n"
        );
    }

    #[test]
    fn short_rows_and_line_breaks_in_cells_keep_the_alignment() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["x\ny".into()]);
        t.row(vec!["long-value".into(), "b".into()]);
        assert_eq!(t.render(), "A           B\nx y\nlong-value  b\n");
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut t = Table::new(&["N", "V"]);
        t.row(vec!["Zürich".into(), "1".into()]);
        assert_eq!(t.render(), "N       V\nZürich  1\n");
    }

    #[test]
    fn empty_table_prints_its_header() {
        assert_eq!(Table::new(&["ID", "TENANT"]).render(), "ID  TENANT\n");
    }

    #[test]
    fn fields_align_their_values() {
        let out = fields(&[("id", "acme".into()), ("region", "tokyo".into())]);
        assert_eq!(out, "id:      acme\nregion:  tokyo\n");
    }

    #[test]
    fn utc_formats_epoch_milliseconds() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_767_225_599_999), "2025-12-31T23:59:59Z");
    }
}
