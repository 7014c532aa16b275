//! The role editor: name, description, search, the counter and the permission tree.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use tui_tree_widget::Tree;

use crate::text::display_safe;
use crate::tui::app::App;
use crate::tui::editor::{Focus, RoleEditor};

pub fn draw(app: &App, editor: &RoleEditor, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let catalog = app.store.catalog();
    let counter = format!(
        " {} of {} granted ",
        editor.grants.count(),
        catalog.leaf_count()
    );
    let dirty = if editor.is_dirty() { " · unsaved" } else { "" };
    let lock = if editor.builtin {
        " · built-in, read-only"
    } else {
        ""
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(
            format!(
                " Role: {}{lock}{dirty} ",
                display_safe(&editor.original_name)
            ),
            t.title,
        ))
        .title_top(Line::from(Span::styled(counter, t.header)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 5 {
        return;
    }
    let [name_area, desc_area, search_area, note_area, tree_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);

    let field = |label: &str, input: &crate::tui::widgets::input::TextInput, focus: Focus| {
        let focused = editor.focus == focus;
        let mut spans = vec![Span::styled(
            format!("{label:<13}"),
            if focused { t.key } else { t.header },
        )];
        spans.extend(input.line(focused, t.normal, t.cursor).spans);
        Line::from(spans)
    };
    frame.render_widget(
        Paragraph::new(field("Name", &editor.name, Focus::Name)),
        name_area,
    );
    frame.render_widget(
        Paragraph::new(field(
            "Description",
            &editor.description,
            Focus::Description,
        )),
        desc_area,
    );
    let mut search = field("Search", &editor.search, Focus::Search);
    if editor.is_searching() {
        search.spans.push(Span::styled(
            format!("   {} permissions shown", editor.shown_leaf_count(catalog)),
            t.dim,
        ));
    } else if editor.focus != Focus::Search {
        search.spans.push(Span::styled(
            "/ to search labels, keys and descriptions",
            t.dim,
        ));
    }
    frame.render_widget(Paragraph::new(search), search_area);

    let note = if editor.builtin {
        Span::styled(
            "Built in: Administrator always holds every permission, also ones added later. Clone it (c in Roles) to edit a copy.",
            t.partial,
        )
    } else if editor.users > 0 {
        Span::styled(
            format!(
                "{} user{} hold this role: changes apply to them at once.",
                editor.users,
                if editor.users == 1 { "" } else { "s" }
            ),
            t.dim,
        )
    } else {
        Span::styled("No user holds this role yet.", t.dim)
    };
    frame.render_widget(Paragraph::new(Line::from(note)), note_area);

    let mut hit = app.hit.get();
    hit.tree = tree_area;
    app.hit.set(hit);
    if let Ok(tree) = Tree::new(editor.items()) {
        let tree = tree
            .highlight_symbol("> ")
            .highlight_style(t.selected)
            .node_closed_symbol("▸ ")
            .node_open_symbol("▾ ")
            .node_no_children_symbol("  ");
        frame.render_stateful_widget(tree, tree_area, &mut editor.tree.borrow_mut());
    }
    if editor.items().is_empty() && editor.is_searching() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no permission matches; Esc clears the search",
                t.dim,
            )),
            tree_area,
        );
    }
}
