//! A scrolling, fuzzy-filtered list model: which source rows are shown, in what
//! order, which is selected and where the window starts. It never draws a row that
//! is off screen, and narrows from the previous result when the query grows.

use std::cell::Cell as Shared;

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::text::{display_safe, truncate, width};
use crate::tui::theme::Theme;
use crate::tui::widgets::input::TextInput;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Most rows the fuzzy matcher ranks for one letter typed; more are shown in list
/// order, exact pieces first. Ranking 5,000 rows takes a few milliseconds.
pub const RANK_LIMIT: usize = 5_000;

/// Above this many rows to look at, the scan is split over the machine's cores.
const PARALLEL_ABOVE: usize = 50_000;

/// The candidates whose haystack holds the query's letters in order, in candidate
/// order, each with whether it holds the query as one piece.
fn scan(candidates: &[usize], haystacks: &[String], query: &str) -> Vec<(usize, bool)> {
    let look = |part: &[usize]| -> Vec<(usize, bool)> {
        part.iter()
            .filter(|&&i| is_subsequence(query, &haystacks[i]))
            .map(|&i| (i, haystacks[i].contains(query)))
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if candidates.len() < PARALLEL_ABOVE || threads < 2 {
        return look(candidates);
    }
    let chunk = candidates.len().div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| s.spawn(move || look(part)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// True when the letters of `needle` appear in `haystack` in order.
pub fn is_subsequence(needle: &str, haystack: &str) -> bool {
    if needle.is_ascii() {
        // ASCII bytes never occur inside a multi-byte character, so bytes will do.
        let mut hay = haystack.bytes();
        needle.bytes().all(|n| hay.any(|h| h == n))
    } else {
        let mut hay = haystack.chars();
        needle.chars().all(|n| hay.any(|h| h == n))
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilteredList {
    /// Source indices in display order (all of them when no filter is set).
    view: Vec<usize>,
    /// The number of source rows.
    len: usize,
    /// Position of the selection in `view`.
    selected: usize,
    /// First visible position; adjusted when drawing so the selection stays visible.
    offset: Shared<usize>,
    /// Rows that fit on the last draw, for paging.
    page: Shared<usize>,
    pub query: TextInput,
    /// True while the operator types into the filter.
    pub editing: bool,
    /// The query `view` was computed for.
    applied: String,
}

impl FilteredList {
    pub fn new(len: usize) -> Self {
        FilteredList {
            view: (0..len).collect(),
            len,
            query: TextInput::new("", 200),
            page: Shared::new(10),
            ..FilteredList::default()
        }
    }

    /// Replaces the source rows (after a reload), keeping the filter and, when it is
    /// still there, the selected source row.
    pub fn reset(&mut self, haystacks: &[String], matcher: &SkimMatcherV2, keep: Option<usize>) {
        self.len = haystacks.len();
        self.applied.clear();
        self.view = (0..self.len).collect();
        self.refilter(haystacks, matcher);
        match keep.and_then(|k| self.view.iter().position(|&i| i == k)) {
            Some(pos) => self.selected = pos,
            None => self.selected = self.selected.min(self.view.len().saturating_sub(1)),
        }
    }

    /// Recomputes the view for the current query. Haystacks are lowercase; so is the
    /// query. When the query only grew, only the rows that matched before are looked
    /// at again. A row matches when the query's letters appear in it in order (what
    /// the fuzzy matcher accepts); that test is a plain scan, fast enough for every
    /// row on every letter. The matcher's ranking costs far more, so it runs only when
    /// few rows are left ([`RANK_LIMIT`]); above that, rows holding the query as one
    /// piece come first, each group in list order.
    pub fn refilter(&mut self, haystacks: &[String], matcher: &SkimMatcherV2) {
        let query = self.query.text().trim().to_lowercase();
        if query == self.applied {
            return;
        }
        let selected_source = self.selected_source();
        if query.is_empty() {
            self.view = (0..self.len).collect();
        } else {
            let narrowing = !self.applied.is_empty() && query.starts_with(&self.applied);
            let candidates: Vec<usize> = if narrowing {
                let mut previous = std::mem::take(&mut self.view);
                previous.sort_unstable();
                previous
            } else {
                (0..self.len).collect()
            };
            let matches = scan(&candidates, haystacks, &query);
            self.view = if matches.len() <= RANK_LIMIT {
                let mut scored: Vec<(i64, usize)> = matches
                    .into_iter()
                    .filter_map(|(i, _)| matcher.fuzzy_match(&haystacks[i], &query).map(|s| (s, i)))
                    .collect();
                scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                scored.into_iter().map(|(_, i)| i).collect()
            } else {
                let whole = matches.iter().filter(|(_, whole)| *whole);
                let scattered = matches.iter().filter(|(_, whole)| !*whole);
                whole.chain(scattered).map(|(i, _)| *i).collect()
            };
        }
        self.applied = query;
        self.selected = selected_source
            .and_then(|s| self.view.iter().position(|&i| i == s))
            .unwrap_or(0);
        self.offset.set(0);
    }

    /// Shows only the rows `keep` accepts, with `label` in the filter line: an exact
    /// filter (the audit of one name) that Esc clears like any other.
    pub fn show_only(&mut self, label: &str, keep: impl Fn(usize) -> bool) {
        self.query.set_text(label);
        self.editing = false;
        self.applied = label.trim().to_lowercase();
        self.view = (0..self.len).filter(|&i| keep(i)).collect();
        self.selected = 0;
        self.offset.set(0);
    }

    /// Empties the query and shows every row.
    pub fn clear_filter(&mut self, haystacks: &[String], matcher: &SkimMatcherV2) {
        self.query.clear();
        self.editing = false;
        self.refilter(haystacks, matcher);
    }

    pub fn is_filtered(&self) -> bool {
        !self.applied.is_empty()
    }

    pub fn applied_query(&self) -> &str {
        &self.applied
    }

    /// How many rows the filter lets through.
    pub fn shown(&self) -> usize {
        self.view.len()
    }

    pub fn total(&self) -> usize {
        self.len
    }

    /// The source index of the selected row.
    pub fn selected_source(&self) -> Option<usize> {
        self.view.get(self.selected).copied()
    }

    pub fn selected_position(&self) -> usize {
        self.selected
    }

    /// Selects source row `source`; false when the filter hides it.
    pub fn select_source(&mut self, source: usize) -> bool {
        match self.view.iter().position(|&i| i == source) {
            Some(pos) => {
                self.selected = pos;
                true
            }
            None => false,
        }
    }

    /// Moves the selection by `delta` rows, clamped to the list.
    pub fn move_by(&mut self, delta: isize) {
        if self.view.is_empty() {
            return;
        }
        let last = self.view.len() - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    /// A movement key (Up/Down, PgUp/PgDn, Home/End); false when it is not one.
    pub fn on_action(&mut self, action: crate::tui::keys::Action) -> bool {
        use crate::tui::keys::Action;
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-self.page_size()),
            Action::PageDown => self.move_by(self.page_size()),
            Action::Home => self.home(),
            Action::End => self.end(),
            _ => return false,
        }
        true
    }

    pub fn page_size(&self) -> isize {
        self.page.get().max(1) as isize
    }

    pub fn home(&mut self) {
        self.selected = 0;
    }

    pub fn end(&mut self) {
        self.selected = self.view.len().saturating_sub(1);
    }

    /// Scrolls the window by `delta` rows without moving the selection out of view.
    pub fn scroll(&mut self, delta: isize) {
        let max_offset = self.view.len().saturating_sub(self.page.get());
        let offset = self
            .offset
            .get()
            .saturating_add_signed(delta)
            .min(max_offset);
        self.offset.set(offset);
        let page = self.page.get().max(1);
        self.selected = self.selected.clamp(
            offset,
            (offset + page - 1).min(self.view.len().saturating_sub(1)),
        );
    }

    /// The window of source indices to draw in `height` rows, moving the offset so
    /// the selection is inside it. Only these rows are ever built.
    pub fn window(&self, height: usize) -> (usize, &[usize]) {
        self.page.set(height);
        let mut offset = self.offset.get();
        if self.selected < offset {
            offset = self.selected;
        } else if height > 0 && self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        offset = offset.min(self.view.len().saturating_sub(height.max(1)));
        if self.selected < offset {
            offset = self.selected;
        }
        self.offset.set(offset);
        let end = (offset + height).min(self.view.len());
        (offset, &self.view[offset.min(end)..end])
    }

    /// The source index drawn on row `row` of the window at the last draw.
    pub fn source_at_row(&self, row: usize) -> Option<(usize, usize)> {
        let pos = self.offset.get() + row;
        self.view.get(pos).map(|&i| (pos, i))
    }

    /// The source index shown at position `pos` of the filtered view.
    pub fn source_at_position(&self, pos: usize) -> Option<usize> {
        self.view.get(pos).copied()
    }

    pub fn select_position(&mut self, pos: usize) {
        if pos < self.view.len() {
            self.selected = pos;
        }
    }
}

/// `text` made display-safe, with the characters at `positions` in `hit` style.
pub fn highlighted(
    text: &str,
    positions: &[usize],
    normal: ratatui::style::Style,
    hit: ratatui::style::Style,
) -> Vec<Span<'static>> {
    let safe = display_safe(text);
    if positions.is_empty() {
        return vec![Span::styled(safe.into_owned(), normal)];
    }
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut run_hit = false;
    for (i, c) in safe.chars().enumerate() {
        let is_hit = positions.contains(&i);
        if is_hit != run_hit && !run.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                if run_hit { hit } else { normal },
            ));
        }
        run_hit = is_hit;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_hit { hit } else { normal }));
    }
    spans
}

/// A column: heading, preferred width (0 = share the rest) and the least it may
/// shrink to when the screen is narrow, so the flexible columns (names, emails) keep
/// a readable share.
pub struct Column {
    pub title: &'static str,
    pub width: u16,
    pub min: u16,
}

/// One cell: text, and whether the filter highlights matched letters in it.
pub struct Cell {
    text: String,
    fuzzy: bool,
}

pub fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        fuzzy: false,
    }
}

pub fn fuzzy(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        fuzzy: true,
    }
}

/// The least width a flexible column gets before fixed columns shrink.
const FLEX_MIN: u16 = 18;

/// Widths for `columns` in `total` columns: fixed ones as given, the rest shared;
/// when the shared columns would get less than [`FLEX_MIN`], fixed columns give up
/// width down to their `min`.
pub fn widths(columns: &[Column], total: u16) -> Vec<u16> {
    let flexible = columns.iter().filter(|c| c.width == 0).count() as u16;
    let gaps = columns.len() as u16;
    let mut fixed: Vec<u16> = columns.iter().map(|c| c.width).collect();
    let want_flex = FLEX_MIN * flexible;
    let used = |fixed: &[u16]| fixed.iter().sum::<u16>() + gaps;
    let mut short = (used(&fixed) + want_flex).saturating_sub(total);
    for (w, c) in fixed.iter_mut().zip(columns) {
        if short == 0 {
            break;
        }
        let give = w.saturating_sub(c.min).min(short);
        *w -= give;
        short -= give;
    }
    let spare = total.saturating_sub(used(&fixed));
    columns
        .iter()
        .zip(fixed)
        .map(|(c, w)| {
            if c.width == 0 {
                spare / flexible.max(1)
            } else {
                w
            }
        })
        .collect()
}

/// A row's text with the letters the filter matched lit.
pub fn highlighted_row(
    text: &str,
    query: &str,
    matcher: &SkimMatcherV2,
    t: &Theme,
) -> Vec<Span<'static>> {
    let hits = if query.is_empty() {
        Vec::new()
    } else {
        matcher
            .fuzzy_indices(text, query)
            .map(|(_, i)| i)
            .unwrap_or_default()
    };
    highlighted(text, &hits, t.normal, t.matched)
}

fn row_line(
    cells: Vec<Cell>,
    widths: &[u16],
    query: &str,
    matcher: &SkimMatcherV2,
    t: &Theme,
) -> Line<'static> {
    let mut spans = Vec::new();
    for (c, w) in cells.into_iter().zip(widths) {
        let w = *w as usize;
        let safe = display_safe(&c.text);
        let shown = truncate(&safe, w).into_owned();
        let used = width(&shown);
        if c.fuzzy {
            spans.extend(highlighted_row(&shown, query, matcher, t));
        } else {
            spans.push(Span::styled(shown, t.normal));
        }
        spans.push(Span::raw(" ".repeat(w.saturating_sub(used) + 1)));
    }
    Line::from(spans)
}

/// What a list is drawn with besides its rows.
pub struct ListLook<'a> {
    pub title: &'a str,
    pub columns: &'a [Column],
    /// The full row count while the rest of the list still loads.
    pub loading: Option<usize>,
    /// What to say when there are no rows at all: what to do next.
    pub empty: &'a str,
    /// Rows to mark as tagged.
    pub tagged: &'a dyn Fn(usize) -> bool,
}

/// Draws a list: the filter line, the header, the rows in the window (only those are
/// built); records where rows start for the mouse.
pub fn draw_list<T>(
    look_of: &crate::tui::screens::Look<'_>,
    frame: &mut Frame,
    area: Rect,
    view: &crate::tui::app::ListView<T>,
    look: ListLook<'_>,
    make_row: impl Fn(&T) -> Vec<Cell>,
) {
    let t = look_of.theme;
    let title = truncate(look.title, area.width.saturating_sub(4) as usize).into_owned();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(format!(" {title} "), t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 3 || inner.width < 4 {
        return;
    }
    let [filter_area, header_area, rows_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let list = &view.list;

    // The filter line: what is typed, and how many rows it lets through.
    let count = match (look.loading, list.is_filtered()) {
        (Some(total), _) => format!("{} of {total} loaded so far", list.total()),
        (None, true) => format!("{} of {}", list.shown(), list.total()),
        (None, false) => format!("{} total", list.total()),
    };
    let filter_line = if list.editing || list.is_filtered() {
        let mut spans = vec![Span::styled("/", t.key)];
        spans.extend(list.query.line(list.editing, t.normal, t.cursor).spans);
        spans.push(Span::styled(format!("   {count}"), t.dim));
        Line::from(spans)
    } else {
        Line::from(Span::styled(format!("{count} · / to filter"), t.dim))
    };
    frame.render_widget(Paragraph::new(filter_line), filter_area);

    let w = widths(look.columns, inner.width);
    let header: Vec<Span> = look
        .columns
        .iter()
        .zip(&w)
        .map(|(c, w)| {
            let title = truncate(c.title, *w as usize);
            Span::styled(format!("{:<width$} ", title, width = *w as usize), t.header)
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(header)), header_area);

    let mut hit = look_of.hit.get();
    hit.list_rows = rows_area;
    look_of.hit.set(hit);
    let (offset, window) = list.window(rows_area.height as usize);
    let query = list.applied_query();
    let matcher = look_of.matcher;
    let selected = list.selected_position();
    let lines: Vec<Line> = window
        .iter()
        .enumerate()
        .map(|(i, &src)| {
            let line = row_line(make_row(&view.rows[src]), &w, query, matcher, t);
            if offset + i == selected {
                line.style(t.selected)
            } else if (look.tagged)(src) {
                line.style(t.tagged)
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        let empty = if list.is_filtered() {
            "no match; Esc clears the filter"
        } else {
            look.empty
        };
        frame.render_widget(Paragraph::new(Span::styled(empty, t.dim)), rows_area);
    } else {
        frame.render_widget(Paragraph::new(lines), rows_area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsequences() {
        assert!(is_subsequence("smt", "sam smith"));
        assert!(!is_subsequence("tms", "sam smith"));
        assert!(is_subsequence("佐藤", "美咲 佐藤"));
        assert!(!is_subsequence("藤佐", "美咲 佐藤"));
    }

    #[test]
    fn large_results_put_whole_pieces_first() {
        let m = SkimMatcherV2::default();
        let mut h: Vec<String> = (0..RANK_LIMIT + 10)
            .map(|i| format!("s{i:05} x m i t"))
            .collect();
        h.push("zz smith".into());
        let mut l = FilteredList::new(h.len());
        for c in "smit".chars() {
            l.query.handle(&crossterm::event::KeyEvent::from(
                crossterm::event::KeyCode::Char(c),
            ));
        }
        l.refilter(&h, &m);
        assert_eq!(l.shown(), h.len(), "all match as a subsequence");
        assert_eq!(
            l.view[0],
            h.len() - 1,
            "the one holding \"smit\" whole comes first"
        );
    }

    fn hay() -> Vec<String> {
        ["alice", "bob", "alan", "carol", "malice"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn filter_narrows_and_clears() {
        let m = SkimMatcherV2::default();
        let h = hay();
        let mut l = FilteredList::new(h.len());
        for c in "al".chars() {
            l.query.handle(&crossterm::event::KeyEvent::from(
                crossterm::event::KeyCode::Char(c),
            ));
            l.refilter(&h, &m);
        }
        assert_eq!(l.shown(), 4, "alice, alan, carol, malice");
        l.query.handle(&crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char('i'),
        ));
        l.refilter(&h, &m);
        let mut shown: Vec<&str> = l.view.iter().map(|&i| h[i].as_str()).collect();
        shown.sort();
        assert_eq!(shown, ["alice", "malice"]);
        l.clear_filter(&h, &m);
        assert_eq!(l.shown(), 5);
    }

    #[test]
    fn the_window_follows_the_selection() {
        let mut l = FilteredList::new(100);
        let (offset, rows) = l.window(10);
        assert_eq!((offset, rows.len()), (0, 10));
        l.move_by(25);
        let (offset, rows) = l.window(10);
        assert_eq!(offset, 16);
        assert_eq!(rows[9], 25);
        l.end();
        let (offset, _) = l.window(10);
        assert_eq!(offset, 90);
        let (_, rows) = l.window(0);
        assert!(rows.is_empty());
    }
}
