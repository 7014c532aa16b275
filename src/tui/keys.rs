//! Key bindings as data. The footer, the help overlay and the key handler all read
//! [`BINDINGS`], so what the screen says a key does is what it does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies. The app computes the scopes active right now, innermost
/// first; the first binding found in them wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every screen without a text field or dialog in focus.
    Anywhere,
    /// Users, Roles and Audit lists.
    List,
    /// The Roles list.
    Roles,
    /// The Users list.
    Users,
    /// A filterable list of roles to pick from (assign, compare).
    Pick,
    /// A non-text field of the user form (role, active flag, permissions).
    Form,
    /// A permission tree being edited.
    Tree,
    /// The role editor (any field).
    Editor,
    /// A text field: name, description, filter or search.
    TextField,
    /// A yes/no dialog.
    Confirm,
    /// The blocked-delete warning with its role picker.
    Picker,
    /// The help overlay.
    Help,
    /// A save refused because someone else saved first.
    Conflict,
}

/// What a key asks for; `App::update` gives it meaning in the current context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ForceQuit,
    Tab(usize),
    NextTab,
    PrevTab,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Filter,
    Open,
    New,
    Delete,
    Clone,
    Toggle,
    CheckAll,
    Tag,
    Password,
    Reload,
    Overwrite,
    AssignRole,
    EnableDisable,
    MakeOwner,
    Compare,
    RoleUsers,
    Expand,
    Collapse,
    Save,
    Back,
    NextField,
    PrevField,
    Confirm,
    Cancel,
    /// Enter in a text field: keep what was typed and leave the field.
    Accept,
}

/// One row of the key table.
pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the key is written in the footer and help.
    pub label: &'static str,
    /// What it does, in a few words.
    pub what: &'static str,
    pub scope: Scope,
    pub action: Action,
    /// Shown in the footer (the help overlay shows every binding).
    pub footer: bool,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

macro_rules! bind {
    ($scope:ident, $action:expr, $label:literal, $what:literal, $footer:literal, [$($code:expr, $mods:expr);+]) => {
        Binding {
            keys: &[$(($code, $mods)),+],
            label: $label,
            what: $what,
            scope: Scope::$scope,
            action: $action,
            footer: $footer,
        }
    };
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

/// Every key the console knows, grouped by where it works.
pub static BINDINGS: &[Binding] = &[
    bind!(Confirm, Action::Confirm, "y/Enter", "confirm", true, [Char('y'), NONE; Enter, NONE]),
    bind!(Confirm, Action::Cancel, "n/Esc", "cancel", true, [Char('n'), NONE; Esc, NONE]),
    bind!(Picker, Action::Up, "↑/k", "previous role", false, [Up, NONE; Char('k'), NONE]),
    bind!(Picker, Action::Down, "↓/j", "next role", false, [Down, NONE; Char('j'), NONE]),
    bind!(
        Picker,
        Action::Confirm,
        "Enter",
        "move the users there and delete",
        true,
        [Enter, NONE]
    ),
    bind!(
        Picker,
        Action::Cancel,
        "Esc",
        "cancel, delete nothing",
        true,
        [Esc, NONE]
    ),
    bind!(Help, Action::Cancel, "Esc/?", "close", true, [Esc, NONE; Char('?'), NONE; Char('q'), NONE; Enter, NONE]),
    bind!(Help, Action::Up, "↑/k", "scroll up", false, [Up, NONE; Char('k'), NONE]),
    bind!(Help, Action::Down, "↓/j", "scroll down", false, [Down, NONE; Char('j'), NONE]),
    bind!(
        TextField,
        Action::Accept,
        "Enter",
        "done",
        true,
        [Enter, NONE]
    ),
    bind!(
        TextField,
        Action::Cancel,
        "Esc",
        "cancel",
        true,
        [Esc, NONE]
    ),
    bind!(
        Editor,
        Action::Save,
        "Ctrl-S",
        "save (shows what changes)",
        true,
        [Char('s'), CTRL]
    ),
    bind!(
        Editor,
        Action::NextField,
        "Tab",
        "next field",
        true,
        [Tab, NONE]
    ),
    bind!(Editor, Action::PrevField, "Shift-Tab", "previous field", false, [BackTab, SHIFT; BackTab, NONE]),
    bind!(
        Tree,
        Action::Toggle,
        "Space",
        "toggle (a category toggles its permissions)",
        true,
        [Char(' '), NONE]
    ),
    bind!(
        Tree,
        Action::CheckAll,
        "a",
        "check all / uncheck all",
        true,
        [Char('a'), NONE]
    ),
    bind!(Tree, Action::Expand, "→/l", "expand", false, [Right, NONE; Char('l'), NONE]),
    bind!(Tree, Action::Collapse, "←/h", "collapse / go to parent", false, [Left, NONE; Char('h'), NONE]),
    bind!(
        Tree,
        Action::Filter,
        "/",
        "search labels, keys, descriptions",
        true,
        [Char('/'), NONE]
    ),
    bind!(Tree, Action::Up, "↑/k", "up", false, [Up, NONE; Char('k'), NONE]),
    bind!(Tree, Action::Down, "↓/j", "down", false, [Down, NONE; Char('j'), NONE]),
    bind!(
        Tree,
        Action::PageUp,
        "PgUp",
        "page up",
        false,
        [PageUp, NONE]
    ),
    bind!(
        Tree,
        Action::PageDown,
        "PgDn",
        "page down",
        false,
        [PageDown, NONE]
    ),
    bind!(Tree, Action::Home, "Home", "first", false, [Home, NONE]),
    bind!(Tree, Action::End, "End", "last", false, [End, NONE]),
    bind!(
        Editor,
        Action::Back,
        "Esc",
        "back (asks when unsaved)",
        true,
        [Esc, NONE]
    ),
    bind!(
        Conflict,
        Action::Reload,
        "r",
        "reload theirs (drops your edit)",
        true,
        [Char('r'), NONE]
    ),
    bind!(
        Conflict,
        Action::Overwrite,
        "o",
        "overwrite with yours",
        true,
        [Char('o'), NONE]
    ),
    bind!(
        Conflict,
        Action::Cancel,
        "Esc",
        "keep editing",
        true,
        [Esc, NONE]
    ),
    bind!(
        Form,
        Action::Open,
        "Enter",
        "choose / switch",
        true,
        [Enter, NONE]
    ),
    bind!(
        Form,
        Action::Toggle,
        "Space",
        "choose / switch",
        false,
        [Char(' '), NONE]
    ),
    bind!(Form, Action::Up, "↑/k", "up", false, [Up, NONE; Char('k'), NONE]),
    bind!(Form, Action::Down, "↓/j", "down", false, [Down, NONE; Char('j'), NONE]),
    bind!(
        Form,
        Action::PageUp,
        "PgUp",
        "page up",
        false,
        [PageUp, NONE]
    ),
    bind!(
        Form,
        Action::PageDown,
        "PgDn",
        "page down",
        false,
        [PageDown, NONE]
    ),
    bind!(Form, Action::Home, "Home", "first", false, [Home, NONE]),
    bind!(Form, Action::End, "End", "last", false, [End, NONE]),
    bind!(Users, Action::New, "n", "new", true, [Char('n'), NONE]),
    bind!(
        Users,
        Action::Password,
        "p",
        "password",
        true,
        [Char('p'), NONE]
    ),
    bind!(Pick, Action::Up, "↑", "previous", false, [Up, NONE]),
    bind!(Pick, Action::Down, "↓", "next", false, [Down, NONE]),
    bind!(
        Pick,
        Action::Confirm,
        "Enter",
        "choose",
        true,
        [Enter, NONE]
    ),
    bind!(Pick, Action::Cancel, "Esc", "cancel", true, [Esc, NONE]),
    bind!(Users, Action::Tag, "Space", "tag", true, [Char(' '), NONE]),
    bind!(
        Users,
        Action::AssignRole,
        "r",
        "role",
        true,
        [Char('r'), NONE]
    ),
    bind!(
        Users,
        Action::EnableDisable,
        "x",
        "enable/disable",
        true,
        [Char('x'), NONE]
    ),
    bind!(
        Users,
        Action::MakeOwner,
        "o",
        "owner",
        true,
        [Char('o'), NONE]
    ),
    bind!(
        Users,
        Action::Delete,
        "d",
        "delete",
        true,
        [Char('d'), NONE]
    ),
    bind!(
        Roles,
        Action::Compare,
        "v",
        "compare",
        true,
        [Char('v'), NONE]
    ),
    bind!(
        Roles,
        Action::RoleUsers,
        "u",
        "users",
        true,
        [Char('u'), NONE]
    ),
    bind!(Roles, Action::Clone, "c", "clone", true, [Char('c'), NONE]),
    bind!(Roles, Action::New, "n", "new", true, [Char('n'), NONE]),
    bind!(
        Roles,
        Action::Delete,
        "d",
        "delete",
        true,
        [Char('d'), NONE]
    ),
    bind!(List, Action::Open, "Enter", "open", true, [Enter, NONE]),
    bind!(List, Action::Filter, "/", "filter", true, [Char('/'), NONE]),
    bind!(
        List,
        Action::Back,
        "Esc",
        "clear the filter",
        false,
        [Esc, NONE]
    ),
    bind!(List, Action::Up, "↑/k", "up", false, [Up, NONE; Char('k'), NONE]),
    bind!(List, Action::Down, "↓/j", "down", false, [Down, NONE; Char('j'), NONE]),
    bind!(
        List,
        Action::PageUp,
        "PgUp",
        "page up",
        false,
        [PageUp, NONE]
    ),
    bind!(
        List,
        Action::PageDown,
        "PgDn",
        "page down",
        false,
        [PageDown, NONE]
    ),
    bind!(List, Action::Home, "Home", "first", false, [Home, NONE]),
    bind!(List, Action::End, "End", "last", false, [End, NONE]),
    bind!(List, Action::Quit, "q", "quit", true, [Char('q'), NONE]),
    bind!(
        Anywhere,
        Action::Tab(0),
        "1",
        "Users",
        false,
        [Char('1'), NONE]
    ),
    bind!(
        Anywhere,
        Action::Tab(1),
        "2",
        "Roles",
        false,
        [Char('2'), NONE]
    ),
    bind!(
        Anywhere,
        Action::Tab(2),
        "3",
        "Audit",
        false,
        [Char('3'), NONE]
    ),
    bind!(
        Anywhere,
        Action::NextTab,
        "Tab",
        "next tab",
        false,
        [Tab, NONE]
    ),
    bind!(Anywhere, Action::PrevTab, "Shift-Tab", "previous tab", false, [BackTab, SHIFT; BackTab, NONE]),
    bind!(Anywhere, Action::Help, "?", "help", true, [Char('?'), NONE]),
];

/// Ctrl-C quits from anywhere, text fields and dialogs included.
pub fn is_force_quit(key: &KeyEvent) -> bool {
    key.code == Char('c') && key.modifiers.contains(CTRL)
}

fn matches(key: &KeyEvent, code: KeyCode, mods: KeyModifiers) -> bool {
    let want = match code {
        // Terminals report Shift with upper-case letters and some symbols; ignore it.
        Char(_) => key.modifiers - SHIFT == mods - SHIFT,
        _ => key.modifiers == mods || (code == BackTab && key.modifiers - SHIFT == mods - SHIFT),
    };
    key.code == code && want
}

/// The action bound to `key` in the first of `scopes` that binds it.
pub fn resolve(key: &KeyEvent, scopes: &[Scope]) -> Option<Action> {
    if is_force_quit(key) {
        return Some(Action::ForceQuit);
    }
    scopes.iter().find_map(|scope| {
        BINDINGS
            .iter()
            .filter(|b| b.scope == *scope)
            .find(|b| b.keys.iter().any(|(code, mods)| matches(key, *code, *mods)))
            .map(|b| b.action)
    })
}

/// The footer bindings for the active scopes, innermost first, one per action.
pub fn footer(scopes: &[Scope]) -> Vec<&'static Binding> {
    let mut out: Vec<&'static Binding> = Vec::new();
    for scope in scopes {
        for b in BINDINGS.iter().filter(|b| b.scope == *scope && b.footer) {
            if !out
                .iter()
                .any(|o| o.action == b.action || o.label == b.label)
            {
                out.push(b);
            }
        }
    }
    out
}

/// A heading for each scope in the help overlay.
pub fn scope_title(scope: Scope) -> &'static str {
    match scope {
        Scope::Anywhere => "Anywhere (but a text field)",
        Scope::List => "Lists",
        Scope::Roles => "Roles list",
        Scope::Users => "Users list",
        Scope::Pick => "Pick a role",
        Scope::Conflict => "Edit conflict",
        Scope::Form => "User form",
        Scope::Tree => "Permission tree",
        Scope::Editor => "Role editor",
        Scope::TextField => "Text fields",
        Scope::Confirm => "Confirm dialogs",
        Scope::Picker => "Blocked delete",
        Scope::Help => "Help",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, NONE)
    }

    #[test]
    fn inner_scopes_win() {
        assert_eq!(
            resolve(&key(Esc), &[Scope::Editor, Scope::List]),
            Some(Action::Back)
        );
        assert_eq!(
            resolve(&key(Esc), &[Scope::Confirm, Scope::Editor]),
            Some(Action::Cancel)
        );
        assert_eq!(
            resolve(&key(Char('q')), &[Scope::Tree, Scope::Editor]),
            None
        );
        assert_eq!(
            resolve(&key(Char('q')), &[Scope::List, Scope::Anywhere]),
            Some(Action::Quit)
        );
    }

    #[test]
    fn ctrl_c_quits_even_in_text_fields() {
        let ctrl_c = KeyEvent::new(Char('c'), CTRL);
        assert_eq!(
            resolve(&ctrl_c, &[Scope::TextField]),
            Some(Action::ForceQuit)
        );
    }

    #[test]
    fn every_action_in_the_footer_is_bound_in_its_scope() {
        for scope in [
            Scope::List,
            Scope::Roles,
            Scope::Tree,
            Scope::Editor,
            Scope::Confirm,
        ] {
            for b in footer(&[scope]) {
                for (code, mods) in b.keys {
                    let ev = KeyEvent::new(*code, *mods);
                    assert_eq!(resolve(&ev, &[scope]), Some(b.action), "{}", b.label);
                }
            }
        }
    }
}
