//! Scrolling text for every dialog that shows more than fits: help, compare, the
//! users of a role, the save summary, an audit entry. The lines are built by the
//! dialog on each draw; this keeps the offset, wraps long lines, moves with the same
//! keys as every list (Up/Down, PgUp/PgDn, Home/End) and the wheel, and says how much
//! is above and below.

use std::cell::Cell;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::tui::keys::Action;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrollText {
    /// First row shown.
    offset: Cell<usize>,
    /// Rows that fit on the last draw, for paging.
    page: Cell<usize>,
    /// Rows of the last draw, for clamping.
    rows: Cell<usize>,
}

impl ScrollText {
    pub fn new() -> ScrollText {
        ScrollText::default()
    }

    pub fn offset(&self) -> usize {
        self.offset.get()
    }

    fn max_offset(&self) -> usize {
        self.rows.get().saturating_sub(self.page.get().max(1))
    }

    /// Moves by `rows` (negative for up), clamped to the text.
    pub fn scroll(&mut self, rows: isize) {
        let to = self.offset.get().saturating_add_signed(rows);
        self.offset.set(to.min(self.max_offset()));
    }

    /// A movement key; false when the key is not one.
    pub fn on_action(&mut self, action: Action) -> bool {
        let page = self.page.get().max(1) as isize;
        match action {
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-page),
            Action::PageDown => self.scroll(page),
            Action::Home => self.offset.set(0),
            Action::End => self.offset.set(self.max_offset()),
            _ => return false,
        }
        true
    }

    /// Draws `lines` (wrapped to the width) in `area`, from the offset. Returns the
    /// rows above and below what is shown.
    pub fn render(
        &self,
        lines: Vec<Line<'static>>,
        area: Rect,
        buf: &mut Buffer,
    ) -> (usize, usize) {
        let rows = wrap(lines, area.width as usize);
        let page = area.height as usize;
        self.page.set(page);
        self.rows.set(rows.len());
        let offset = self.offset.get().min(self.max_offset());
        self.offset.set(offset);
        let below = rows.len().saturating_sub(offset + page);
        let shown: Vec<Line> = rows.into_iter().skip(offset).take(page).collect();
        Paragraph::new(shown).render(area, buf);
        (offset, below)
    }
}

/// How many rows `lines` take at `width` columns.
pub fn wrapped_rows(lines: &[Line], width: usize) -> usize {
    let width = width.max(1);
    lines
        .iter()
        .map(|l| {
            if l.width() <= width {
                1
            } else {
                break_points(&cells(l), width).len()
            }
        })
        .sum()
}

/// A line's characters, each with its style.
fn cells(line: &Line) -> Vec<(char, Style)> {
    line.spans
        .iter()
        .flat_map(|s| s.content.chars().map(move |c| (c, s.style)))
        .collect()
}

/// Where the rows of a line wider than `width` start and end (as ranges of its
/// cells): at the last space that fits, so words stay whole; a word longer than the
/// row is cut where the row ends. The space a row breaks at is dropped.
fn break_points(cells: &[(char, Style)], width: usize) -> Vec<std::ops::Range<usize>> {
    let char_width = |c: char| unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
    let mut rows = Vec::new();
    let mut start = 0;
    while start < cells.len() {
        let mut used = 0;
        let mut end = start;
        while end < cells.len() && used + char_width(cells[end].0) <= width {
            used += char_width(cells[end].0);
            end += 1;
        }
        if end == cells.len() {
            rows.push(start..end);
            break;
        }
        let end = end.max(start + 1);
        match (start + 1..end).rev().find(|&i| cells[i].0 == ' ') {
            Some(space) => {
                rows.push(start..space);
                start = space + 1;
            }
            None => {
                rows.push(start..end);
                start = end;
            }
        }
    }
    rows
}

/// Splits every line wider than `width` into rows at spaces (a longer word is cut),
/// keeping each character's style.
pub fn wrap(lines: Vec<Line<'static>>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut out = Vec::new();
    for line in lines {
        if line.width() <= width {
            out.push(line);
            continue;
        }
        let line_style = line.style;
        let cells = cells(&line);
        for range in break_points(&cells, width) {
            let mut row: Vec<Span<'static>> = Vec::new();
            let mut run = String::new();
            let mut style = None;
            for &(c, s) in &cells[range] {
                if style.is_some_and(|st| st != s) {
                    row.push(Span::styled(
                        std::mem::take(&mut run),
                        style.unwrap_or_default(),
                    ));
                }
                style = Some(s);
                run.push(c);
            }
            if !run.is_empty() {
                row.push(Span::styled(run, style.unwrap_or_default()));
            }
            out.push(Line::from(row).style(line_style));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_at_spaces_and_cut_only_longer_words() {
        let rows = wrap(vec![Line::from("give the role to seven users now")], 12);
        let text: Vec<String> = rows
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(text, ["give the", "role to", "seven users", "now"]);
        assert_eq!(
            wrapped_rows(&[Line::from("give the role to seven users now")], 12),
            4
        );
        let long = wrap(vec![Line::from("abcdefghijklmnop qr")], 6);
        let text: Vec<String> = long
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(text, ["abcdef", "ghijkl", "mnop", "qr"]);
    }

    #[test]
    fn scrolls_pages_and_ends_within_the_text() {
        let s = &mut ScrollText::new();
        let lines: Vec<Line> = (0..50).map(|i| Line::from(format!("line {i}"))).collect();
        let area = Rect::new(0, 0, 20, 10);
        let mut buf = Buffer::empty(area);
        assert_eq!(s.render(lines.clone(), area, &mut buf), (0, 40));
        s.on_action(Action::PageDown);
        assert_eq!(s.offset(), 10);
        s.on_action(Action::End);
        assert_eq!(s.render(lines.clone(), area, &mut buf), (40, 0));
        s.scroll(100);
        assert_eq!(s.offset(), 40, "never past the end");
        s.on_action(Action::Home);
        assert_eq!(s.offset(), 0);
    }

    #[test]
    fn long_lines_wrap_into_rows() {
        let rows = wrap(vec![Line::from("abcdefghij")], 4);
        let text: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["abcd", "efgh", "ij"]);
    }
}
