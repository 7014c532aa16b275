//! The Users tab: the list (tags, filter, loading 100,000 rows in the background) and
//! what its keys do to the selected or tagged users: the role picker (starting on the
//! user's role, asking before a role that grants more), packages (`g`),
//! enable/disable, owner, password, delete, and the user form.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use crossterm::event::KeyEvent;
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::domain::catalog::Grants;
use crate::domain::user::{User, UserRow};
use crate::error::Error;
use crate::store::{PackageRef, RoleRef, Store, UserRef};
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, role_pick};
use crate::tui::keys::Action;
use crate::tui::screens::user_form::UserForm;
use crate::tui::screens::{Ctx, Effect, ListView, Look, READ_ONLY};
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// Most users a bulk dialog names; the rest are counted.
pub const NAMED: usize = 10;

/// Tags cleared with Esc without asking, up to this many.
pub const CLEAR_TAGS_SILENTLY: usize = 5;

/// Above this many users the list loads in two steps: the first page at once, for
/// the first frame, and the whole list on a background thread.
pub const LOAD_IN_BACKGROUND_ABOVE: usize = 20_000;

/// The first page loaded when the list loads in the background.
const FIRST_PAGE: usize = 300;

/// The whole users list and its haystacks, read on another thread.
type UsersLoad = Result<(Arc<Vec<UserRow>>, Arc<Vec<String>>), Error>;

/// What the background read brings: the whole list and, when asked for, the audit
/// log's row count for the tab bar (a large log takes tens of milliseconds to count
/// on a server, so the first frame does not wait for it either).
struct Arrival {
    users: UsersLoad,
    audit_count: Option<Result<usize, Error>>,
}

/// What the users filter matches: username, name and email, lowercased once.
pub(crate) fn haystack(u: &UserRow) -> String {
    format!(
        "{} {} {} {}",
        u.username, u.first_name, u.last_name, u.email
    )
    .to_lowercase()
}

/// The Users tab's state.
pub struct UsersScreen {
    pub view: ListView<UserRow>,
    /// Users tagged with Space (ids); `r`, `g` and `x` act on all of them.
    pub tagged: BTreeSet<i64>,
    /// Users in the database (the list may still be loading).
    pub total: usize,
    /// Lists longer than this load in the background ([`LOAD_IN_BACKGROUND_ABOVE`]).
    pub load_in_background_above: usize,
    /// The whole list, while a background thread reads it.
    loading: Option<Receiver<Arrival>>,
}

impl Default for UsersScreen {
    fn default() -> Self {
        UsersScreen {
            view: ListView::default(),
            tagged: BTreeSet::new(),
            total: 0,
            load_in_background_above: LOAD_IN_BACKGROUND_ABOVE,
            loading: None,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "adam, bella, chen and 4 more": up to [`NAMED`] names.
pub fn name_users(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(NAMED)
        .map(|n| format!("\"{}\"", crate::text::display_safe(n)))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMED {
        out.push_str(&format!(" and {} more", names.len() - NAMED));
    }
    out
}

/// The whole users list and its filter texts, as last read by a served console of
/// this process, with the database and change number it was read at.
struct SharedList {
    path: PathBuf,
    change_seq: i64,
    rows: Arc<Vec<UserRow>>,
    haystacks: Arc<Vec<String>>,
}

static SHARED_LIST: Mutex<Option<SharedList>> = Mutex::new(None);

/// The users list for a served console: read once for every session of the server
/// while no change lands (100,000 users take about 40 MB; fifty sessions would
/// otherwise hold fifty copies). Every change through rolecall, from any process,
/// moves the change number on, so a session never gets a list older than the
/// change number it read. The lock is held while reading, so sessions that start
/// together wait for one read instead of making their own.
fn shared_rows(store: &Store) -> UsersLoad {
    let change_seq = store.change_seq()?;
    let mut shared = SHARED_LIST
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(list) = shared.as_ref()
        && list.path == store.path()
        && list.change_seq == change_seq
    {
        return Ok((list.rows.clone(), list.haystacks.clone()));
    }
    let rows = Arc::new(store.user_rows()?);
    let haystacks: Arc<Vec<String>> = Arc::new(rows.iter().map(haystack).collect());
    *shared = Some(SharedList {
        path: store.path().to_path_buf(),
        change_seq,
        rows: rows.clone(),
        haystacks: haystacks.clone(),
    });
    Ok((rows, haystacks))
}

impl UsersScreen {
    /// Loads the list: at once when it is small; otherwise the first page now and the
    /// rest from a background thread with its own read-only connection, so the first
    /// frame never waits for 100,000 rows. `total` is the number of users, as just
    /// counted. True when the rest comes from the background; that read counts the
    /// audit log too when `count_audit` is set ([`UsersScreen::poll`] hands the
    /// count over).
    pub fn load(
        &mut self,
        store: &Store,
        matcher: &SkimMatcherV2,
        total: usize,
        count_audit: bool,
    ) -> Result<bool, Error> {
        self.total = total;
        if self.total <= self.load_in_background_above {
            let users = store.user_rows()?;
            self.view.load(users, haystack, |u| u.id, matcher);
            self.forget_gone_tags();
            self.loading = None;
            return Ok(false);
        }
        if self.view.rows.is_empty() {
            let page = store.user_rows_page(FIRST_PAGE)?;
            self.view.load(page, haystack, |u| u.id, matcher);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let reopen = store.opener(crate::store::Access::ReadOnly);
        let served = store.operator().is_some();
        std::thread::spawn(move || {
            let read = |store: &Store| -> UsersLoad {
                if served {
                    return shared_rows(store);
                }
                let rows = store.user_rows()?;
                let haystacks: Vec<String> = rows.iter().map(haystack).collect();
                Ok((Arc::new(rows), Arc::new(haystacks)))
            };
            let arrival = match reopen() {
                Err(e) => Arrival {
                    users: Err(e),
                    audit_count: None,
                },
                Ok(store) => Arrival {
                    users: read(&store),
                    audit_count: count_audit.then(|| store.audit_count()),
                },
            };
            let _ = tx.send(arrival);
        });
        self.loading = Some(rx);
        Ok(true)
    }

    /// True while the whole list is still being read.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Takes the background load when it has arrived (waiting for it when `block`
    /// is set: tests, benchmarks): whether the list loaded, and the audit count when
    /// one was asked for. `None` when nothing arrived.
    #[allow(clippy::type_complexity)]
    pub fn poll(
        &mut self,
        block: bool,
        matcher: &SkimMatcherV2,
    ) -> Option<(Result<(), Error>, Option<Result<usize, Error>>)> {
        let rx = self.loading.as_ref()?;
        let arrival = if block {
            rx.recv().ok()
        } else {
            rx.try_recv().ok()
        }?;
        self.loading = None;
        let users = arrival.users.map(|(rows, haystacks)| {
            self.total = rows.len();
            self.view.load_with(rows, haystacks, |u| u.id, matcher);
            self.forget_gone_tags();
        });
        Some((users, arrival.audit_count))
    }

    fn forget_gone_tags(&mut self) {
        let ids: HashSet<i64> = self.view.rows.iter().map(|u| u.id).collect();
        self.tagged.retain(|id| ids.contains(id));
    }

    /// The users `r`, `g` and `x` act on: every tagged user, else the selected one.
    pub fn targets(&self) -> Vec<&UserRow> {
        if self.tagged.is_empty() {
            return self.view.selected().into_iter().collect();
        }
        self.view
            .rows
            .iter()
            .filter(|u| self.tagged.contains(&u.id))
            .collect()
    }

    /// The targets as the rows they are: a change is made to these rows or refused,
    /// never to another user who has since been given one of their names.
    fn chosen(&self) -> Vec<UserRef> {
        self.targets().into_iter().map(row_ref).collect()
    }

    /// Says when tagged users are hidden by the filter, so an action on "all tagged"
    /// never surprises.
    fn note_hidden_tags(&self) -> String {
        let list = &self.view.list;
        let shown: HashSet<usize> = (0..list.shown())
            .filter_map(|p| list.source_at_position(p))
            .collect();
        let hidden = self
            .view
            .rows
            .iter()
            .enumerate()
            .filter(|(i, u)| self.tagged.contains(&u.id) && !shown.contains(i))
            .count();
        match hidden {
            0 => String::new(),
            n => format!(" ({n} of them not shown by the filter)"),
        }
    }

    /// "alice" or "3 tagged users", with a note on tags the filter hides.
    fn who(&self, users: &[UserRef]) -> String {
        match users {
            [one] => format!("\"{}\"", one.username()),
            many => format!("{} tagged users{}", many.len(), self.note_hidden_tags()),
        }
    }

    /// What a key does on the Users tab.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        if let Some(effects) = self.view.on_key(action, cx.matcher) {
            return effects;
        }
        let changes = matches!(
            action,
            Action::New
                | Action::Delete
                | Action::AssignRole
                | Action::Packages
                | Action::EnableDisable
                | Action::MakeOwner
                | Action::Password
        );
        if changes && cx.read_only() {
            return vec![Effect::Refuse(READ_ONLY.into())];
        }
        match action {
            Action::Back if !self.tagged.is_empty() => self.clear_tags(false),
            Action::Open => self.open_form(cx),
            Action::New => self.new_form(cx),
            Action::Delete => self.ask_delete(cx),
            Action::Tag => self.toggle_tag(),
            Action::TagAll => self.tag_all_shown(),
            Action::Password => self.ask_password(),
            Action::AssignRole => self.pick_role(cx),
            Action::Packages => self.pick_package(cx),
            Action::EnableDisable => self.ask_enable_disable(cx),
            Action::MakeOwner => self.ask_make_owner(cx),
            Action::AuditOf => self
                .view
                .selected()
                .map(|u| vec![Effect::AuditOf(u.username.clone())])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// A key typed into the filter.
    pub fn on_input(&mut self, key: &KeyEvent, matcher: &SkimMatcherV2) {
        self.view.typed(key, matcher);
    }

    fn tagged_note(&self) -> Vec<Effect> {
        let n = self.tagged.len();
        vec![Effect::Info(format!(
            "{n} user{} tagged; r, g and x act on all of them, Esc clears the tags",
            plural(n)
        ))]
    }

    fn toggle_tag(&mut self) -> Vec<Effect> {
        let Some(id) = self.view.selected().map(|u| u.id) else {
            return Vec::new();
        };
        if !self.tagged.remove(&id) {
            self.tagged.insert(id);
        }
        self.view.list.move_by(1);
        self.tagged_note()
    }

    /// Ctrl-A: tags every row the filter shows.
    fn tag_all_shown(&mut self) -> Vec<Effect> {
        let list = &self.view.list;
        for p in 0..list.shown() {
            if let Some(i) = list.source_at_position(p) {
                self.tagged.insert(self.view.rows[i].id);
            }
        }
        self.tagged_note()
    }

    /// Esc on the list with tags and no filter: clears them, asking when many
    /// (`confirmed` once asked).
    pub fn clear_tags(&mut self, confirmed: bool) -> Vec<Effect> {
        let n = self.tagged.len();
        if n > CLEAR_TAGS_SILENTLY && !confirmed {
            return vec![Effect::confirm(
                format!("Clear {n} tags?"),
                vec!["Nothing changes but the tags.".into()],
                Pending::ClearTags,
            )];
        }
        self.tagged.clear();
        vec![Effect::Info(format!("cleared {n} tag{}", plural(n)))]
    }

    fn ask_password(&self) -> Vec<Effect> {
        let Some(username) = self.view.selected().map(|u| u.username.clone()) else {
            return Vec::new();
        };
        let empty = || TextInput::new("", crate::domain::validate::MAX_PASSWORD);
        vec![Effect::Open(Overlay::Password {
            username,
            first: empty(),
            second: empty(),
            on_second: false,
        })]
    }

    /// The password dialog's answer: the first entry is checked, then the second
    /// must match it, then it is stored.
    pub fn password_entered(
        &mut self,
        username: String,
        first: TextInput,
        second: TextInput,
        on_second: bool,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let empty = || TextInput::new("", crate::domain::validate::MAX_PASSWORD);
        if !on_second {
            if let Err(e) = crate::domain::validate::password(first.text()) {
                let again = Overlay::Password {
                    username,
                    first: empty(),
                    second,
                    on_second: false,
                };
                return vec![Effect::Error(e), Effect::Open(again)];
            }
            return vec![Effect::Open(Overlay::Password {
                username,
                first,
                second,
                on_second: true,
            })];
        }
        if first.text() != second.text() {
            let again = Overlay::Password {
                username,
                first: empty(),
                second: empty(),
                on_second: false,
            };
            return vec![
                Effect::Refuse("password: the two entries differ; type it again".into()),
                Effect::Open(again),
            ];
        }
        Effect::from_result(cx.store.set_password(&username, first.text()), |()| {
            vec![
                Effect::Info(format!("set the password of \"{username}\"")),
                Effect::Reload,
            ]
        })
    }

    /// `r`: the role picker, on the role the users hold now (when they share one).
    fn pick_role(&self, cx: &mut Ctx) -> Vec<Effect> {
        let targets = self.targets();
        let Some(first) = targets.first() else {
            return Vec::new();
        };
        let current = first.role_id;
        let same = targets.iter().all(|u| u.role_id == current);
        let users = self.chosen();
        let title = match users.as_slice() {
            [one] => format!("Role for \"{}\"", one.username()),
            many => format!(
                "Role for {} tagged users{}",
                many.len(),
                self.note_hidden_tags()
            ),
        };
        vec![Effect::Open(role_pick(
            PickPurpose::AssignRole { users },
            title,
            cx.names.roles.clone(),
            same.then_some(current),
        ))]
    }

    /// A role picked for users: given at once when it grants nothing new to any of
    /// them, else after a dialog naming who gains what.
    pub fn give_role(
        &mut self,
        users: Vec<UserRef>,
        role_id: i64,
        role_name: String,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let role = match cx.store.role_by_id(role_id) {
            Ok(r) => r,
            Err(e) => return vec![Effect::Error(e)],
        };
        let chosen: Vec<&UserRow> = self
            .view
            .rows
            .iter()
            .filter(|u| users.iter().any(|c| c.is_row(u.id)))
            .collect();
        let mut gaining: Vec<String> = Vec::new();
        let mut gains = Grants::none(cx.store.catalog());
        for u in chosen.iter().filter(|u| u.role_id != role_id) {
            let now = cx.store.role_by_id(u.role_id).map(|r| r.grants);
            let added = match &now {
                Ok(g) => role.grants.diff(g).0,
                Err(_) => role.grants.ordinals().collect(),
            };
            if !added.is_empty() {
                gaining.push(u.username.clone());
                for o in added {
                    gains.set(o, true);
                }
            }
        }
        if gaining.is_empty() {
            return self.set_role_now(users, role_id, role_name, cx);
        }
        let what = if role.builtin {
            "every permission, also ones added to the catalog later".to_string()
        } else {
            format!(
                "{} permission{} they do not have now",
                gains.count(),
                plural(gains.count())
            )
        };
        let n = gaining.len();
        let changing = chosen.iter().filter(|u| u.role_id != role_id).count();
        let lines = vec![
            format!(
                "{n} user{} {what}:",
                if n == 1 { " gains" } else { "s gain" }
            ),
            format!("  {}", name_users(&gaining)),
            format!(
                "{changing} of {} chosen user{} {}.",
                users.len(),
                plural(users.len()),
                if changing == 1 {
                    "changes role"
                } else {
                    "change role"
                }
            ),
        ];
        vec![Effect::confirm(
            format!("Give \"{role_name}\"? It grants more"),
            lines,
            Pending::GiveRole {
                users,
                role_id,
                role_name,
            },
        )]
    }

    pub fn set_role_now(
        &mut self,
        users: Vec<UserRef>,
        role_id: i64,
        role_name: String,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        Effect::from_result(cx.store.set_role_for(&users, role_id), |n| {
            self.tagged.clear();
            vec![
                Effect::Info(format!(
                    "gave \"{role_name}\" to {n} user{} ({} already had it)",
                    plural(n),
                    users.len() - n
                )),
                Effect::Reload,
            ]
        })
    }

    /// `g`: a package to put the users into, or take them out of when every one of
    /// them is in it already. Each package says how many of the users are in it.
    fn pick_package(&self, cx: &mut Ctx) -> Vec<Effect> {
        let targets = self.targets();
        if targets.is_empty() {
            return Vec::new();
        }
        if cx.names.packages.is_empty() {
            return vec![Effect::Refuse(
                "no packages yet: n on the Packages tab (3) makes one".into(),
            )];
        }
        // A few users: their packages one by one; many (Ctrl-A on 100,000): every
        // membership in one query.
        let all = if targets.len() > 50 {
            match cx.store.memberships() {
                Ok(m) => Some(m),
                Err(e) => return vec![Effect::Error(e)],
            }
        } else {
            None
        };
        let mut counts = vec![0usize; cx.names.packages.len()];
        for u in &targets {
            let theirs = match &all {
                Some(all) => all.get(&u.id).cloned().unwrap_or_default(),
                None => match cx.store.packages_of(u.id) {
                    Ok(p) => p,
                    Err(e) => return vec![Effect::Error(e)],
                },
            };
            for (i, (_, name)) in cx.names.packages.iter().enumerate() {
                if theirs.contains(name) {
                    counts[i] += 1;
                }
            }
        }
        let n = targets.len();
        let choices = cx
            .names
            .packages
            .iter()
            .zip(&counts)
            .map(|((id, name), in_it)| {
                let note = match *in_it {
                    0 => String::new(),
                    k if k == n && n == 1 => "  (member: Enter takes out)".to_string(),
                    k if k == n => "  (all in it: Enter takes them out)".to_string(),
                    k => format!("  ({k} of {n} in it)"),
                };
                (*id, format!("{name}{note}"))
            })
            .collect();
        let users = self.chosen();
        let title = format!("Package for {}", self.who(&users));
        vec![Effect::Open(role_pick(
            PickPurpose::Package { users },
            title,
            choices,
            None,
        ))]
    }

    /// A package picked with `g`: everyone in it already leaves it; otherwise the rest
    /// join it, after a dialog when that gives someone permissions they lack.
    pub fn package_picked(
        &mut self,
        users: Vec<UserRef>,
        package_id: i64,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let package = match cx.store.package(PackageRef::Id(package_id)) {
            Ok(p) => p,
            Err(e) => return vec![Effect::Error(e)],
        };
        let outside: Vec<UserRef> = users
            .iter()
            .filter(|u| !package.members.iter().any(|m| m == u.username()))
            .cloned()
            .collect();
        if outside.is_empty() {
            return self.set_membership(users, package_id, false, cx);
        }
        let gains = match gains_from_package(cx, &outside, &package.roles) {
            Ok(g) => g,
            Err(e) => return vec![Effect::Error(e)],
        };
        if gains.gaining.is_empty() {
            return self.set_membership(outside, package_id, true, cx);
        }
        let n = gains.gaining.len();
        let lines = vec![
            format!(
                "{n} user{} {} permission{} they do not have now:",
                if n == 1 { " gains" } else { "s gain" },
                gains.permissions,
                plural(gains.permissions)
            ),
            format!("  {}", name_users(&gains.gaining)),
            format!(
                "{} of {} chosen user{} {}.",
                outside.len(),
                users.len(),
                plural(users.len()),
                match users.len() - outside.len() {
                    0 if outside.len() == 1 => "joins",
                    0 => "join",
                    _ if outside.len() == 1 => "joins; the rest are in it already",
                    _ => "join; the rest are in it already",
                }
            ),
        ];
        vec![Effect::confirm(
            format!("Put users into \"{}\"? It grants more", package.name),
            lines,
            Pending::JoinPackage {
                users: outside,
                package_id,
            },
        )]
    }

    /// Puts users into (`join`) or takes them out of a package, in one transaction.
    pub fn set_membership(
        &mut self,
        users: Vec<UserRef>,
        package_id: i64,
        join: bool,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let before = cx
            .store
            .package(PackageRef::Id(package_id))
            .map(|p| p.members.len());
        let result = before.and_then(|before| {
            cx.store
                .set_package_members(PackageRef::Id(package_id), &users, join)
                .map(|p| (before, p))
        });
        Effect::from_result(result, |(before, package)| {
            self.tagged.clear();
            let n = package.members.len().abs_diff(before);
            let text = if join {
                format!("put {n} user{} into \"{}\"", plural(n), package.name)
            } else {
                format!("took {n} user{} out of \"{}\"", plural(n), package.name)
            };
            vec![Effect::Info(text), Effect::Reload]
        })
    }

    fn ask_enable_disable(&self, cx: &mut Ctx) -> Vec<Effect> {
        let chosen: Vec<(UserRef, bool, bool)> = self
            .targets()
            .into_iter()
            .map(|u| (row_ref(u), u.active, u.owner))
            .collect();
        if chosen.is_empty() {
            return Vec::new();
        }
        // Mixed selections are disabled: the safe direction.
        let active = chosen.iter().all(|(_, a, _)| !a);
        if let Some((owner, _, _)) = chosen.iter().find(|(_, _, o)| *o && !active) {
            let refusal = cx
                .store
                .user_by_ref(owner)
                .and_then(|o| crate::domain::user::ensure_owner_kept(&o, &o.role, false));
            if let Err(err) = refusal {
                return vec![Effect::Error(err)];
            }
        }
        let changing: Vec<String> = chosen
            .iter()
            .filter(|(_, a, _)| *a != active)
            .map(|(u, _, _)| u.username().to_string())
            .collect();
        let users: Vec<UserRef> = chosen.into_iter().map(|(u, _, _)| u).collect();
        let verb = if active { "Enable" } else { "Disable" };
        let effect = if active {
            "They regain the permissions of their roles at once."
        } else {
            "They lose every permission at once; their data and roles are kept."
        };
        let mut lines = vec![effect.to_string()];
        if users.len() > 1 {
            lines.push(format!(
                "{} change{}: {}",
                changing.len(),
                self.note_hidden_tags(),
                name_users(&changing)
            ));
        }
        vec![Effect::confirm(
            format!("{verb} {}?", self.who(&users)),
            lines,
            Pending::SetActive { users, active },
        )]
    }

    pub fn set_active(&mut self, users: Vec<UserRef>, active: bool, cx: &mut Ctx) -> Vec<Effect> {
        Effect::from_result(cx.store.set_active_for(&users, active), |n| {
            self.tagged.clear();
            let what = if active { "enabled" } else { "disabled" };
            vec![
                Effect::Info(format!("{what} {n} user{}", plural(n))),
                Effect::Reload,
            ]
        })
    }

    /// The selected user as stored (none on an empty list), for the rules that need
    /// the whole record: that row, or a conflict when it is gone.
    fn selected_user(&self, cx: &mut Ctx) -> Result<Option<User>, Error> {
        self.view
            .selected()
            .map(|u| cx.store.user_by_ref(&row_ref(u)))
            .transpose()
    }

    fn ask_make_owner(&self, cx: &mut Ctx) -> Vec<Effect> {
        let user = match self.selected_user(cx) {
            Ok(Some(user)) => user,
            Ok(None) => return Vec::new(),
            Err(e) => return vec![Effect::Error(e)],
        };
        if let Err(e) = crate::domain::user::ensure_can_become_owner(&user) {
            return vec![Effect::Error(e)];
        }
        vec![Effect::confirm(
            format!("Make \"{}\" the owner?", user.username),
            vec![
                "The owner cannot be removed, disabled or moved off Administrator.".into(),
                format!(
                    "\"{}\" is given the Administrator role; the current owner keeps theirs.",
                    user.username
                ),
            ],
            Pending::MakeOwner {
                user: UserRef::Row {
                    id: user.id,
                    username: user.username,
                },
            },
        )]
    }

    fn ask_delete(&self, cx: &mut Ctx) -> Vec<Effect> {
        let user = match self.selected_user(cx) {
            Ok(Some(user)) => user,
            Ok(None) => return Vec::new(),
            Err(e) => return vec![Effect::Error(e)],
        };
        if let Err(e) = crate::domain::user::ensure_removable(&user) {
            return vec![Effect::Error(e)];
        }
        vec![Effect::confirm(
            format!("Delete user \"{}\"?", user.username),
            vec![
                "This cannot be undone; the audit log keeps a record of the user.".into(),
                "To keep the account but remove its access, disable it instead (x).".into(),
            ],
            Pending::DeleteUser {
                user: UserRef::Row {
                    id: user.id,
                    username: user.username,
                },
            },
        )]
    }

    /// What "yes" does in this tab's dialogs.
    pub fn run(&mut self, pending: Pending, cx: &mut Ctx) -> Vec<Effect> {
        match pending {
            Pending::DeleteUser { user } => {
                let username = user.username().to_string();
                Effect::from_result(cx.store.remove_user(user), |()| {
                    vec![
                        Effect::Info(format!("deleted user \"{username}\"")),
                        Effect::Reload,
                    ]
                })
            }
            Pending::SetActive { users, active } => self.set_active(users, active, cx),
            Pending::MakeOwner { user } => {
                Effect::from_result(cx.store.transfer_ownership(user), |u| {
                    vec![
                        Effect::Info(format!(
                            "\"{}\" is now the owner, with role \"{}\"",
                            u.username, u.role
                        )),
                        Effect::Reload,
                    ]
                })
            }
            Pending::GiveRole {
                users,
                role_id,
                role_name,
            } => self.set_role_now(users, role_id, role_name, cx),
            Pending::JoinPackage { users, package_id } => {
                self.set_membership(users, package_id, true, cx)
            }
            Pending::ClearTags => self.clear_tags(true),
            _ => Vec::new(),
        }
    }

    /// `n`: a blank form; the first user becomes the owner, on Administrator (SPEC §4).
    fn new_form(&self, cx: &mut Ctx) -> Vec<Effect> {
        let first = self.total == 0;
        let role = if first {
            cx.store
                .role(RoleRef::Typed(crate::domain::role::ADMINISTRATOR.into()))
        } else {
            cx.store.default_role()
        };
        Effect::from_result(role, |role| {
            let form = UserForm::new_user(cx.store, (role.id, role.name, role.grants));
            let mut out = vec![Effect::EditUser(Box::new(form))];
            if first {
                out.push(Effect::Info(
                    "the first user becomes the owner, with the Administrator role".into(),
                ));
            }
            out
        })
    }

    /// Enter: the selected user's form.
    pub fn open_form(&self, cx: &mut Ctx) -> Vec<Effect> {
        let Some(username) = self.view.selected().map(|u| u.username.clone()) else {
            return Vec::new();
        };
        Effect::from_result(UserForm::load(cx.store, &username), |form| {
            let mut out = vec![Effect::EditUser(Box::new(form))];
            if cx.read_only() {
                out.push(Effect::Info(
                    "read-only: browsing only; changes are refused".into(),
                ));
            }
            out
        })
    }

    /// Selects user `id`, clearing a filter that hides them.
    pub fn select(&mut self, id: i64, matcher: &SkimMatcherV2) {
        self.view.select(id, |u| u.id, matcher);
    }

    /// The row actions of the Users list, for the footer: what works on this row now.
    pub fn available(&self, action: Action, read_only: bool) -> bool {
        let row = self.view.selected();
        match action {
            Action::Open => row.is_some(),
            Action::Back => self.view.list.is_filtered() || !self.tagged.is_empty(),
            Action::New => !read_only,
            Action::Tag | Action::TagAll | Action::AuditOf => row.is_some(),
            Action::AssignRole
            | Action::Packages
            | Action::EnableDisable
            | Action::Password
            | Action::Delete => !read_only && row.is_some(),
            Action::MakeOwner => !read_only && row.is_some_and(|u| u.active && !u.owner),
            _ => true,
        }
    }

    pub fn draw(&self, look: &Look, frame: &mut Frame, area: Rect) {
        let columns = [
            Column {
                title: "",
                width: 1,
                min: 1,
            },
            Column {
                title: "USERNAME",
                width: 18,
                min: 12,
            },
            Column {
                title: "NAME",
                width: 0,
                min: 0,
            },
            Column {
                title: "EMAIL",
                width: 0,
                min: 0,
            },
            Column {
                title: "ROLE",
                width: 18,
                min: 12,
            },
            Column {
                title: "STATUS",
                width: 8,
                min: 8,
            },
        ];
        let title = match self.tagged.len() {
            0 => "Users".to_string(),
            n => format!("Users · {n} tagged (Space untags, Esc clears)"),
        };
        let tagged = |src: usize| self.tagged.contains(&self.view.rows[src].id);
        let list_look = ListLook {
            title: &title,
            columns: &columns,
            loading: self.is_loading().then_some(self.total),
            empty: "no users yet: n adds the first, who becomes the owner",
            tagged: &tagged,
        };
        draw_list(look, frame, area, &self.view, list_look, |u| {
            let status = match (u.active, u.owner) {
                (true, true) => "owner",
                (true, false) => "active",
                (false, _) => "disabled",
            };
            let role = match look.names.role(u.role_id) {
                "" => "(no direct role)",
                name => name,
            };
            vec![
                cell(if self.tagged.contains(&u.id) { "*" } else { "" }),
                fuzzy(u.username.clone()),
                fuzzy(u.full_name()),
                fuzzy(u.email.clone()),
                cell(role.to_string()),
                cell(status),
            ]
        });
    }
}

/// Who among `usernames` would gain permissions from a package's roles, and how many
/// permissions are new to at least one of them.
struct Gains {
    gaining: Vec<String>,
    permissions: usize,
}

fn gains_from_package(
    cx: &mut Ctx,
    users: &[UserRef],
    roles: &[(i64, String)],
) -> Result<Gains, Error> {
    let catalog = cx.store.catalog();
    let mut granted = Grants::none(catalog);
    for (id, _) in roles {
        for o in cx.store.role_by_id(*id)?.grants.ordinals() {
            granted.set(o, true);
        }
    }
    let mut new = Grants::none(catalog);
    let mut gaining = Vec::new();
    for who in users {
        let user = cx.store.user_by_ref(who)?;
        if !user.active {
            continue;
        }
        let now = cx.store.effective_grants(&user)?;
        let mut gains = false;
        for o in granted.ordinals().filter(|o| !now.contains(*o)) {
            new.set(o, true);
            gains = true;
        }
        if gains {
            gaining.push(user.username.clone());
        }
    }
    Ok(Gains {
        gaining,
        permissions: new.count(),
    })
}

/// A row of the list as the user it is.
fn row_ref(u: &UserRow) -> UserRef {
    UserRef::Row {
        id: u.id,
        username: u.username.clone(),
    }
}
