//! Key bindings as data. The key handler, the footer and the help overlay all read
//! [`BINDINGS`]; the footer and the help also ask the focused screen which actions
//! work *now* ([`crate::tui::app::App::available`]), so neither promises a key that
//! would be ignored.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies. The focused screen lists the scopes active right now,
/// innermost first; the first binding found in them wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every place without a text field in focus.
    Anywhere,
    /// Users, Roles, Packages and Audit lists.
    List,
    /// The Roles list.
    Roles,
    /// The Users list.
    Users,
    /// The Packages list.
    Packages,
    /// The Resources list.
    Resources,
    /// The package editor's lists of roles and members.
    Checklist,
    /// A filterable list of roles to pick from (assign, compare).
    Pick,
    /// A non-text field of the user form (role, active flag, permissions).
    Form,
    /// A permission tree being edited.
    Tree,
    /// The tree while a search is active.
    TreeSearch,
    /// The role editor (any field).
    Editor,
    /// A text field: name, description, filter or search.
    TextField,
    /// A yes/no dialog.
    Confirm,
    /// "Discard unsaved changes?": only `y` discards.
    Discard,
    /// The blocked-delete warning with its role picker.
    Picker,
    /// A dialog that only shows text: help, compare, users in a role, an audit entry.
    Scroll,
    /// A save refused because someone else saved first.
    Conflict,
    /// A dialog that asks something: `?` opens the help over it.
    Dialog,
    /// A status message too long for its two rows: a key shows it whole.
    Message,
}

/// What a key asks for; the focused screen gives it meaning.
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
    TagAll,
    Password,
    Reload,
    Overwrite,
    AssignRole,
    /// Put users into a package or take them out.
    Packages,
    /// The role editor's exceptions: pick a resource, edit its scoped tree.
    Exceptions,
    /// Drop an exception: the role's general grants apply to the resource again.
    ClearException,
    /// Who may do a permission on the selected resource.
    WhoCan,
    EnableDisable,
    MakeOwner,
    Compare,
    RoleUsers,
    SetDefault,
    AuditOf,
    Expand,
    Collapse,
    Save,
    Back,
    ClearSearch,
    NextField,
    PrevField,
    Confirm,
    Cancel,
    /// Enter in a text field: keep what was typed and leave the field.
    Accept,
    /// Show the whole status message (it was cut with `…`).
    ShowStatus,
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

/// The movement keys every list, tree and scrolling dialog shares.
macro_rules! moves {
    ($scope:ident) => {
        [
            bind!($scope, Action::Up, "↑/k", "up", false, [Up, NONE; Char('k'), NONE]),
            bind!($scope, Action::Down, "↓/j", "down", false, [Down, NONE; Char('j'), NONE]),
            bind!($scope, Action::PageUp, "PgUp", "page up", false, [PageUp, NONE]),
            bind!($scope, Action::PageDown, "PgDn", "page down", false, [PageDown, NONE]),
            bind!($scope, Action::Home, "Home/g", "first", false, [Home, NONE; Char('g'), NONE]),
            bind!($scope, Action::End, "End/G", "last", false, [End, NONE; Char('G'), NONE]),
        ]
    };
}

static CONFIRM: &[Binding] = &[
    bind!(Confirm, Action::Confirm, "y/Enter", "confirm", true, [Char('y'), NONE; Enter, NONE]),
    bind!(Confirm, Action::Cancel, "n/Esc", "cancel", true, [Char('n'), NONE; Esc, NONE]),
    bind!(
        Discard,
        Action::Confirm,
        "y",
        "discard the changes",
        true,
        [Char('y'), NONE]
    ),
    bind!(Discard, Action::Cancel, "n/Esc/Enter", "keep editing", true, [Char('n'), NONE; Esc, NONE; Enter, NONE]),
];

static PICKER: &[Binding] = &[
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
];

static DIALOG: &[Binding] = &[bind!(
    Dialog,
    Action::Help,
    "?",
    "help",
    false,
    [Char('?'), NONE]
)];

static MESSAGE: &[Binding] = &[bind!(
    Message,
    Action::ShowStatus,
    "Ctrl-L",
    "whole message",
    true,
    [Char('l'), CTRL]
)];

static SCROLL: &[Binding] = &[
    bind!(Scroll, Action::Cancel, "Esc", "close", true, [Esc, NONE; Char('q'), NONE; Enter, NONE; Char('?'), NONE]),
];

static TEXT: &[Binding] = &[
    bind!(
        TextField,
        Action::Accept,
        "Enter",
        "done",
        true,
        [Enter, NONE]
    ),
    bind!(TextField, Action::Cancel, "Esc", "back", true, [Esc, NONE]),
];

static EDITOR: &[Binding] = &[
    bind!(
        Editor,
        Action::Save,
        "Ctrl-S",
        "save",
        true,
        [Char('s'), CTRL]
    ),
    bind!(
        TreeSearch,
        Action::ClearSearch,
        "Esc",
        "clear the search",
        true,
        [Esc, NONE]
    ),
    bind!(Editor, Action::Back, "Esc", "back", true, [Esc, NONE]),
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
        "toggle",
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
    bind!(Tree, Action::Filter, "/", "search", true, [Char('/'), NONE]),
    bind!(
        Tree,
        Action::Open,
        "Enter",
        "open / close a category",
        false,
        [Enter, NONE]
    ),
    bind!(Tree, Action::Expand, "→/l", "expand", false, [Right, NONE; Char('l'), NONE]),
    bind!(Tree, Action::Collapse, "←/h", "collapse / go to parent", false, [Left, NONE; Char('h'), NONE]),
];

static EXCEPTIONS: &[Binding] = &[
    bind!(
        Tree,
        Action::Exceptions,
        "e",
        "exceptions for a resource",
        true,
        [Char('e'), NONE]
    ),
    bind!(
        Tree,
        Action::ClearException,
        "x",
        "back to the general grants",
        true,
        [Char('x'), NONE]
    ),
];

static RESOURCES: &[Binding] = &[
    bind!(
        Resources,
        Action::WhoCan,
        "w",
        "who can … on this resource",
        true,
        [Char('w'), NONE]
    ),
    bind!(
        Resources,
        Action::AuditOf,
        "f",
        "audit of this resource",
        false,
        [Char('f'), NONE]
    ),
];

static CONFLICT: &[Binding] = &[
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
];

static FORM: &[Binding] = &[
    bind!(
        Form,
        Action::Open,
        "Enter",
        "edit / choose",
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
];

static PICK: &[Binding] = &[
    bind!(Pick, Action::Up, "↑", "previous", false, [Up, NONE]),
    bind!(Pick, Action::Down, "↓", "next", false, [Down, NONE]),
    bind!(
        Pick,
        Action::PageUp,
        "PgUp",
        "page up",
        false,
        [PageUp, NONE]
    ),
    bind!(
        Pick,
        Action::PageDown,
        "PgDn",
        "page down",
        false,
        [PageDown, NONE]
    ),
    bind!(
        Pick,
        Action::Confirm,
        "Enter",
        "choose",
        true,
        [Enter, NONE]
    ),
    bind!(Pick, Action::Cancel, "Esc", "cancel", true, [Esc, NONE]),
];

static USERS: &[Binding] = &[
    bind!(Users, Action::New, "n", "new", true, [Char('n'), NONE]),
    bind!(Users, Action::Tag, "Space", "tag", true, [Char(' '), NONE]),
    bind!(
        Users,
        Action::TagAll,
        "Ctrl-A",
        "tag every row shown",
        false,
        [Char('a'), CTRL]
    ),
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
        Action::Packages,
        "g",
        "packages",
        true,
        [Char('g'), NONE]
    ),
    // `g` is packages here, so Home alone goes to the first row.
    bind!(Users, Action::Home, "Home", "first", false, [Home, NONE]),
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
        Action::Password,
        "p",
        "password",
        true,
        [Char('p'), NONE]
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
        Users,
        Action::AuditOf,
        "f",
        "audit of this user",
        false,
        [Char('f'), NONE]
    ),
];

static ROLES: &[Binding] = &[
    bind!(Roles, Action::New, "n", "new", true, [Char('n'), NONE]),
    bind!(Roles, Action::Clone, "c", "clone", true, [Char('c'), NONE]),
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
    bind!(
        Roles,
        Action::SetDefault,
        "*",
        "make default",
        true,
        [Char('*'), NONE]
    ),
    bind!(
        Roles,
        Action::Delete,
        "d",
        "delete",
        true,
        [Char('d'), NONE]
    ),
    bind!(
        Roles,
        Action::AuditOf,
        "f",
        "audit of this role",
        false,
        [Char('f'), NONE]
    ),
];

static PACKAGES: &[Binding] = &[
    bind!(Packages, Action::New, "n", "new", true, [Char('n'), NONE]),
    bind!(
        Packages,
        Action::Delete,
        "d",
        "delete",
        true,
        [Char('d'), NONE]
    ),
    bind!(
        Packages,
        Action::AuditOf,
        "f",
        "audit of this package",
        false,
        [Char('f'), NONE]
    ),
];

static CHECKLIST: &[Binding] = &[
    bind!(
        Checklist,
        Action::Toggle,
        "Space",
        "include / leave out the role",
        true,
        [Char(' '), NONE]
    ),
    bind!(
        Checklist,
        Action::New,
        "a",
        "add a member",
        true,
        [Char('a'), NONE]
    ),
    bind!(
        Checklist,
        Action::Delete,
        "d",
        "take the member out",
        true,
        [Char('d'), NONE]
    ),
    bind!(
        Checklist,
        Action::Filter,
        "/",
        "filter",
        true,
        [Char('/'), NONE]
    ),
];

static LIST: &[Binding] = &[
    bind!(List, Action::Open, "Enter", "open", true, [Enter, NONE]),
    bind!(List, Action::Filter, "/", "filter", true, [Char('/'), NONE]),
    bind!(
        List,
        Action::Back,
        "Esc",
        "clear the filter, then the tags",
        true,
        [Esc, NONE]
    ),
    bind!(List, Action::Quit, "q", "quit", true, [Char('q'), NONE]),
];

static ANYWHERE: &[Binding] = &[
    bind!(Anywhere, Action::Help, "?", "help", true, [Char('?'), NONE]),
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
        "Packages",
        false,
        [Char('3'), NONE]
    ),
    bind!(
        Anywhere,
        Action::Tab(3),
        "4",
        "Audit",
        false,
        [Char('4'), NONE]
    ),
    bind!(
        Anywhere,
        Action::Tab(4),
        "5",
        "Resources (when the catalog has resource types)",
        false,
        [Char('5'), NONE]
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
];

static MOVES: [[Binding; 6]; 6] = [
    moves!(List),
    moves!(Checklist),
    moves!(Tree),
    moves!(Form),
    moves!(Picker),
    moves!(Scroll),
];

/// Every key the console knows, grouped by where it works.
pub fn bindings() -> impl Iterator<Item = &'static Binding> {
    CONFIRM
        .iter()
        .chain(PICKER)
        .chain(DIALOG)
        .chain(MESSAGE)
        .chain(SCROLL)
        .chain(TEXT)
        .chain(EDITOR)
        .chain(EXCEPTIONS)
        .chain(CONFLICT)
        .chain(FORM)
        .chain(PICK)
        .chain(USERS)
        .chain(ROLES)
        .chain(PACKAGES)
        .chain(RESOURCES)
        .chain(CHECKLIST)
        .chain(LIST)
        .chain(ANYWHERE)
        .chain(MOVES.iter().flatten())
}

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
        bindings()
            .filter(|b| b.scope == *scope)
            .find(|b| b.keys.iter().any(|(code, mods)| matches(key, *code, *mods)))
            .map(|b| b.action)
    })
}

/// The bindings of the active scopes that work now, innermost first, one per key and
/// per action: a key an inner scope binds hides the same key further out.
pub fn active(scopes: &[Scope], works: impl Fn(Action) -> bool) -> Vec<&'static Binding> {
    let mut out: Vec<&'static Binding> = Vec::new();
    for scope in scopes {
        for b in bindings().filter(|b| b.scope == *scope) {
            let shadowed = out
                .iter()
                .any(|o| o.action == b.action || o.keys.iter().any(|k| b.keys.contains(k)));
            if !shadowed && works(b.action) {
                out.push(b);
            }
        }
    }
    out
}

/// Key names as the terminal can show them: under `TERM=linux` the arrows become
/// words, so `↓` can never be read as `v` (compare).
pub fn hint(label: &str, ascii: bool) -> String {
    if !ascii {
        return label.to_string();
    }
    label
        .replace('↑', "Up")
        .replace('↓', "Down")
        .replace('←', "Left")
        .replace('→', "Right")
}

/// A heading for each scope in the help overlay.
pub fn scope_title(scope: Scope) -> &'static str {
    match scope {
        Scope::Anywhere => "Anywhere (but a text field)",
        Scope::List => "Lists",
        Scope::Roles => "Roles list",
        Scope::Users => "Users list",
        Scope::Packages => "Packages list",
        Scope::Resources => "Resources list",
        Scope::Checklist => "Package editor: roles and members",
        Scope::Pick => "Pick a role",
        Scope::Conflict => "Edit conflict",
        Scope::Form => "User form",
        Scope::Tree => "Permission tree",
        Scope::TreeSearch => "Under a search or filter",
        Scope::Editor => "Editors and the user form",
        Scope::TextField => "Text fields (Ctrl-U clears, Ctrl-W deletes a word)",
        Scope::Confirm => "Confirm dialogs",
        Scope::Discard => "Discard unsaved changes?",
        Scope::Picker => "Blocked delete",
        Scope::Scroll => "Help and other text dialogs",
        Scope::Dialog => "Any dialog that asks",
        Scope::Message => "A status cut short with …",
    }
}

/// Every scope, in the order the help lists the ones not in focus.
pub const ALL_SCOPES: [Scope; 20] = [
    Scope::Anywhere,
    Scope::List,
    Scope::Users,
    Scope::Roles,
    Scope::Packages,
    Scope::Resources,
    Scope::Editor,
    Scope::Checklist,
    Scope::Tree,
    Scope::TreeSearch,
    Scope::Form,
    Scope::TextField,
    Scope::Confirm,
    Scope::Discard,
    Scope::Picker,
    Scope::Pick,
    Scope::Conflict,
    Scope::Scroll,
    Scope::Dialog,
    Scope::Message,
];

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
    fn only_y_discards() {
        assert_eq!(
            resolve(&key(Enter), &[Scope::Discard]),
            Some(Action::Cancel)
        );
        assert_eq!(
            resolve(&key(Char('y')), &[Scope::Discard]),
            Some(Action::Confirm)
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
    fn every_action_shown_is_bound_in_its_scopes() {
        for scopes in [
            &[Scope::Users, Scope::List, Scope::Anywhere][..],
            &[Scope::Roles, Scope::List, Scope::Anywhere],
            &[
                Scope::TreeSearch,
                Scope::Tree,
                Scope::Editor,
                Scope::Anywhere,
            ],
            &[Scope::Confirm],
            &[Scope::Discard],
            &[Scope::Scroll],
        ] {
            for b in active(scopes, |_| true) {
                for (code, mods) in b.keys {
                    let ev = KeyEvent::new(*code, *mods);
                    assert_eq!(resolve(&ev, scopes), Some(b.action), "{}", b.label);
                }
            }
        }
    }

    #[test]
    fn arrows_are_words_on_the_linux_console() {
        assert_eq!(hint("↑/k", true), "Up/k");
        assert_eq!(hint("↓/j", false), "↓/j");
    }
}
