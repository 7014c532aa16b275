//! A save refused because someone else saved first (or the catalog changed): reload
//! theirs, overwrite with yours when that is possible, or keep editing.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{keys_line, safe, show};
use crate::error::{Conflict, ConflictKind};
use crate::tui::app::App;

pub fn draw(app: &App, conflict: &Conflict, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut keys = vec![("r", "reload theirs (drops your edit)")];
    if conflict.can_overwrite() {
        keys.push((
            "o",
            match conflict.kind {
                ConflictKind::Catalog => "save again on the new catalog",
                _ => "overwrite with yours",
            },
        ));
    }
    keys.push(("Esc", "keep editing"));
    let title = match conflict.kind {
        ConflictKind::Changed => "Someone else saved first",
        ConflictKind::Deleted => "It was deleted",
        ConflictKind::Recreated => "It was deleted and created again",
        ConflictKind::NeverHad => "It never had the version you read",
        ConflictKind::Catalog => "The permission catalog changed",
    };
    let body = vec![Line::from(safe(&conflict.to_string()))];
    show(t, frame, area, title, body, keys_line(t, &keys), None);
}
