//! A scrolling, fuzzy-filtered list model: which source rows are shown, in what
//! order, which is selected and where the window starts. It never draws a row that
//! is off screen, and narrows from the previous result when the query grows.

use std::cell::Cell;

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::tui::widgets::input::TextInput;

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

#[derive(Debug, Default)]
pub struct FilteredList {
    /// Source indices in display order (all of them when no filter is set).
    view: Vec<usize>,
    /// The number of source rows.
    len: usize,
    /// Position of the selection in `view`.
    selected: usize,
    /// First visible position; adjusted when drawing so the selection stays visible.
    offset: Cell<usize>,
    /// Rows that fit on the last draw, for paging.
    page: Cell<usize>,
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
            page: Cell::new(10),
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

    pub fn select_source(&mut self, source: usize) {
        if let Some(pos) = self.view.iter().position(|&i| i == source) {
            self.selected = pos;
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

    pub fn select_position(&mut self, pos: usize) {
        if pos < self.view.len() {
            self.selected = pos;
        }
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
