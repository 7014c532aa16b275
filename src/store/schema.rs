//! The schema, one SQL batch per version. `PRAGMA user_version` holds the number of
//! batches applied; `migrate` in `store/mod.rs` applies the rest, one transaction each.

/// Version 1: catalog, roles, grants, users, settings, append-only audit, the view.
const V1: &str = r#"
CREATE TABLE permissions (
    key         TEXT PRIMARY KEY,
    parent      TEXT REFERENCES permissions(key) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    position    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    name_fold   TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
);

CREATE TABLE role_grants (
    role_id        INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission_key TEXT NOT NULL REFERENCES permissions(key) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_key)
) WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_fold    TEXT NOT NULL UNIQUE,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    position      TEXT NOT NULL DEFAULT '',
    signature     TEXT NOT NULL DEFAULT '',
    timezone      TEXT NOT NULL,
    language      TEXT NOT NULL,
    role_id       INTEGER NOT NULL REFERENCES roles(id),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    owner         INTEGER NOT NULL DEFAULT 0 CHECK (owner IN (0, 1)),
    password_hash TEXT,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
);
CREATE UNIQUE INDEX users_one_owner ON users(owner) WHERE owner = 1;
CREATE INDEX users_by_role ON users(role_id, username);

CREATE TABLE settings (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    default_role_id INTEGER NOT NULL REFERENCES roles(id)
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after  TEXT
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows cannot be changed'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows cannot be deleted'); END;

-- The stable interface for applications (SPEC §7): one row per leaf granted to
-- each active user through their role.
CREATE VIEW user_permissions AS
SELECT u.username AS username, g.permission_key AS permission_key
FROM users u JOIN role_grants g ON g.role_id = u.role_id
WHERE u.active = 1;
"#;

/// Version 2: ids are never reused and versions never restart.
///
/// - `roles` and `users` are rebuilt with `AUTOINCREMENT`, so a deleted row's id is
///   never given to a new one: an editor left open or a script holding an id can
///   only find the row it read, or nothing.
/// - `rolecall_meta.change_seq` is bumped by every write transaction and is the
///   version every row it writes gets, so versions rise across rows: a row deleted
///   and created again under the same name never repeats a version a caller may
///   hold, and `created_seq` tells such a caller what happened.
/// - `catalog_seq` is bumped by triggers on every change to `permissions`, by this
///   program or any other, so a write can tell that grants it was handed were read
///   from another catalog.
const V2: &str = r#"
CREATE TABLE rolecall_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    change_seq  INTEGER NOT NULL,
    catalog_seq INTEGER NOT NULL
);
INSERT INTO rolecall_meta (id, change_seq, catalog_seq)
SELECT 1, max(coalesce((SELECT max(version) FROM roles), 0),
              coalesce((SELECT max(version) FROM users), 0)), 1;

DROP VIEW user_permissions;

CREATE TABLE roles_v2 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    name_fold   TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    version     INTEGER NOT NULL DEFAULT 0,
    created_seq INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
);
INSERT INTO roles_v2 (id, name, name_fold, description, builtin, version, created_at, updated_at, updated_by)
SELECT id, name, name_fold, description, builtin, version, created_at, updated_at, updated_by FROM roles;
DROP TABLE roles;
ALTER TABLE roles_v2 RENAME TO roles;

CREATE TABLE users_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_fold    TEXT NOT NULL UNIQUE,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    position      TEXT NOT NULL DEFAULT '',
    signature     TEXT NOT NULL DEFAULT '',
    timezone      TEXT NOT NULL,
    language      TEXT NOT NULL,
    role_id       INTEGER NOT NULL REFERENCES roles(id),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    owner         INTEGER NOT NULL DEFAULT 0 CHECK (owner IN (0, 1)),
    password_hash TEXT,
    version       INTEGER NOT NULL DEFAULT 0,
    created_seq   INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
);
INSERT INTO users_v2 (id, username, email, email_fold, first_name, last_name, position, signature,
    timezone, language, role_id, active, owner, password_hash, version, created_at, updated_at, updated_by)
SELECT id, username, email, email_fold, first_name, last_name, position, signature,
    timezone, language, role_id, active, owner, password_hash, version, created_at, updated_at, updated_by
FROM users;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
CREATE UNIQUE INDEX users_one_owner ON users(owner) WHERE owner = 1;
CREATE INDEX users_by_role ON users(role_id, username);

-- Ids already handed out must not come back either. Every add wrote an audit row
-- and each new id was at most one above the highest before it, so no id ever used
-- is above the number of adds: the sequences start there.
INSERT INTO sqlite_sequence (name, seq)
SELECT t, 0 FROM (SELECT 'roles' AS t UNION ALL SELECT 'users')
WHERE t NOT IN (SELECT name FROM sqlite_sequence);
UPDATE sqlite_sequence SET seq = max(seq,
    (SELECT count(*) FROM audit WHERE action IN ('role.create', 'import.role.add')))
WHERE name = 'roles';
UPDATE sqlite_sequence SET seq = max(seq,
    (SELECT count(*) FROM audit WHERE action IN ('user.add', 'import.user.add')))
WHERE name = 'users';

CREATE TRIGGER permissions_changed_insert AFTER INSERT ON permissions
BEGIN UPDATE rolecall_meta SET catalog_seq = catalog_seq + 1; END;
CREATE TRIGGER permissions_changed_update AFTER UPDATE ON permissions
BEGIN UPDATE rolecall_meta SET catalog_seq = catalog_seq + 1; END;
CREATE TRIGGER permissions_changed_delete AFTER DELETE ON permissions
BEGIN UPDATE rolecall_meta SET catalog_seq = catalog_seq + 1; END;

CREATE VIEW user_permissions AS
SELECT u.username AS username, g.permission_key AS permission_key
FROM users u JOIN role_grants g ON g.role_id = u.role_id
WHERE u.active = 1;
"#;

/// Version 3: packages (SPEC §10). A package includes roles and has users as members;
/// a user's direct role becomes optional. `user_permissions` keeps its name and
/// columns and becomes the union of the direct role's grants and those of every role
/// of every package the user is in; `user_permission_sources` lists each path.
const V3: &str = r#"
CREATE TABLE packages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    name_fold   TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    version     INTEGER NOT NULL DEFAULT 0,
    created_seq INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- A role a package includes cannot be deleted from under it (no ON DELETE): the
-- store moves packages to another role first, or refuses.
CREATE TABLE package_roles (
    package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    role_id    INTEGER NOT NULL REFERENCES roles(id),
    PRIMARY KEY (package_id, role_id)
) WITHOUT ROWID;
CREATE INDEX package_roles_by_role ON package_roles(role_id, package_id);

CREATE TABLE package_members (
    package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, user_id)
) WITHOUT ROWID;
CREATE INDEX package_members_by_user ON package_members(user_id, package_id);

DROP VIEW user_permissions;

CREATE TABLE users_v3 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_fold    TEXT NOT NULL UNIQUE,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    position      TEXT NOT NULL DEFAULT '',
    signature     TEXT NOT NULL DEFAULT '',
    timezone      TEXT NOT NULL,
    language      TEXT NOT NULL,
    role_id       INTEGER REFERENCES roles(id),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    owner         INTEGER NOT NULL DEFAULT 0 CHECK (owner IN (0, 1)),
    password_hash TEXT,
    version       INTEGER NOT NULL DEFAULT 0,
    created_seq   INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
);
INSERT INTO users_v3 SELECT id, username, email, email_fold, first_name, last_name, position,
    signature, timezone, language, role_id, active, owner, password_hash, version, created_seq,
    created_at, updated_at, updated_by FROM users;
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'users'))
WHERE name = 'users_v3';
DROP TABLE users;
ALTER TABLE users_v3 RENAME TO users;
CREATE UNIQUE INDEX users_one_owner ON users(owner) WHERE owner = 1;
CREATE INDEX users_by_role ON users(role_id, username);

-- The stable interface for applications (SPEC §7, §10): one row per leaf an active
-- user holds, through their direct role or any role of any package they are in.
CREATE VIEW user_permissions AS
SELECT u.username AS username, g.permission_key AS permission_key
FROM users u JOIN role_grants g ON g.role_id = u.role_id
WHERE u.active = 1
UNION
SELECT u.username, g.permission_key
FROM users u
JOIN package_members m ON m.user_id = u.id
JOIN package_roles pr ON pr.package_id = m.package_id
JOIN role_grants g ON g.role_id = pr.role_id
WHERE u.active = 1;

-- One row per path: package_name is NULL for the direct role.
CREATE VIEW user_permission_sources AS
SELECT u.username AS username, g.permission_key AS permission_key,
       r.name AS role_name, NULL AS package_name
FROM users u JOIN roles r ON r.id = u.role_id JOIN role_grants g ON g.role_id = r.id
WHERE u.active = 1
UNION ALL
SELECT u.username, g.permission_key, r.name, p.name
FROM users u
JOIN package_members m ON m.user_id = u.id
JOIN packages p ON p.id = m.package_id
JOIN package_roles pr ON pr.package_id = p.id
JOIN roles r ON r.id = pr.role_id
JOIN role_grants g ON g.role_id = r.id
WHERE u.active = 1;
"#;

/// Version 4: resources, exceptions and fixed roles (SPEC §11).
///
/// - `roles.fixed` marks a role a catalog file defines: locked like Administrator.
/// - `resource_types` and their scoped nodes come from the catalog file;
///   `resources` are what the application registers, `package_resources` assigns them
///   to packages (Iterable's teams).
/// - `role_exceptions` is one role's different set of a type's scoped permissions
///   for one resource; the set is in `role_exception_grants` (an exception may grant
///   nothing). Both go with their role or resource.
/// - `user_resource_permissions` answers, for one user and one resource, what the
///   user may do there: it is `domain::resource::decide_on` in SQL.
const V4: &str = r#"
ALTER TABLE roles ADD COLUMN fixed INTEGER NOT NULL DEFAULT 0 CHECK (fixed IN (0, 1));

-- The audit log by time: `audit --since` seeks it, and counting the log (the
-- console's tab bar) walks this narrow index instead of every row's JSON.
CREATE INDEX audit_by_time ON audit(at);

CREATE TABLE resource_types (
    key        TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    team_owned INTEGER NOT NULL DEFAULT 0 CHECK (team_owned IN (0, 1)),
    bypass     TEXT REFERENCES permissions(key) ON DELETE SET NULL,
    position   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE resource_type_scopes (
    type_key TEXT NOT NULL REFERENCES resource_types(key) ON DELETE CASCADE,
    node_key TEXT NOT NULL REFERENCES permissions(key) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (type_key, node_key)
) WITHOUT ROWID;

-- A type with resources is removed only by the store, which removes them first.
CREATE TABLE resources (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type_key   TEXT NOT NULL REFERENCES resource_types(key),
    key        TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (type_key, key)
);

CREATE TABLE package_resources (
    package_id  INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, resource_id)
) WITHOUT ROWID;
CREATE INDEX package_resources_by_resource ON package_resources(resource_id, package_id);

CREATE TABLE role_exceptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id     INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    UNIQUE (role_id, resource_id)
);
CREATE INDEX role_exceptions_by_resource ON role_exceptions(resource_id, role_id);

CREATE TABLE role_exception_grants (
    exception_id   INTEGER NOT NULL REFERENCES role_exceptions(id) ON DELETE CASCADE,
    permission_key TEXT NOT NULL REFERENCES permissions(key) ON DELETE CASCADE,
    PRIMARY KEY (exception_id, permission_key)
) WITHOUT ROWID;

-- Every (user, role) path: the direct role, and each role of each package.
CREATE VIEW user_role_paths AS
SELECT u.id AS user_id, u.role_id AS role_id FROM users u WHERE u.role_id IS NOT NULL
UNION ALL
SELECT m.user_id, pr.role_id
FROM package_members m JOIN package_roles pr ON pr.package_id = m.package_id;

-- A leaf is a node no other node names as its parent.
CREATE INDEX permissions_by_parent ON permissions(parent);

-- The stable interface for one resource (SPEC §11): one row per leaf an active user
-- may use on a resource. Per path, a role's exception for the resource replaces its
-- general grants of the leaves the type scopes; a team-owned resource needs a shared
-- package or the type's bypass permission (a general grant). One SELECT, not a
-- UNION, so a query's username and resource reach the unique indexes of users and
-- resources, and the rest is a walk of the catalog's leaves for that one pair.
CREATE VIEW user_resource_permissions AS
SELECT u.username AS username, res.type_key AS resource_type, res.key AS resource_key,
       pm.key AS permission_key
FROM users u
CROSS JOIN resources res
JOIN resource_types t ON t.key = res.type_key
CROSS JOIN permissions pm
WHERE u.active = 1
  AND NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = pm.key)
  AND (t.team_owned = 0
       OR EXISTS (SELECT 1 FROM package_resources pk
                  JOIN package_members m ON m.package_id = pk.package_id
                  WHERE pk.resource_id = res.id AND m.user_id = u.id)
       OR EXISTS (SELECT 1 FROM user_role_paths p2
                  JOIN role_grants g2 ON g2.role_id = p2.role_id
                  WHERE p2.user_id = u.id AND g2.permission_key = t.bypass))
  AND EXISTS (
      SELECT 1 FROM user_role_paths p
      WHERE p.user_id = u.id
        AND CASE
            WHEN EXISTS (SELECT 1 FROM role_exceptions e
                         WHERE e.role_id = p.role_id AND e.resource_id = res.id)
             AND EXISTS (SELECT 1 FROM resource_type_scopes s
                         WHERE s.type_key = t.key
                           AND (pm.key = s.node_key
                                OR substr(pm.key, 1, length(s.node_key) + 1) = s.node_key || '.'))
            THEN EXISTS (SELECT 1 FROM role_exceptions e
                         JOIN role_exception_grants eg ON eg.exception_id = e.id
                         WHERE e.role_id = p.role_id AND e.resource_id = res.id
                           AND eg.permission_key = pm.key)
            ELSE EXISTS (SELECT 1 FROM role_grants g
                         WHERE g.role_id = p.role_id AND g.permission_key = pm.key)
            END);
"#;

/// Version 5: the SSH public keys that identify operators to `rolecall serve`.
/// A key belongs to one user (the key decides who connects), and goes with them.
const V5: &str = r#"
CREATE TABLE user_keys (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL UNIQUE,
    key         TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    added_at    TEXT NOT NULL,
    added_by    TEXT NOT NULL
);
CREATE INDEX user_keys_by_user ON user_keys(user_id, added_at);

-- The permissions a catalog file's [operator] names for the Administration rights;
-- a right without a row keeps the default catalog's permission.
CREATE TABLE operator_permissions (
    right_name TEXT PRIMARY KEY CHECK (right_name IN ('users', 'roles', 'audit')),
    permission TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Version 6: the built-in role holds every leaf, also when another program changes
/// `permissions` (SPEC §3: "always, also leaves added later"). rolecall's own catalog
/// writes already keep it so; these triggers do the same for rows written by anything
/// else: a leaf inserted is granted to it; a key that gains a child is no longer
/// (grants are of leaves only); a category whose last child is deleted is a leaf
/// again, and granted; a statement deleting its grant of a leaf is refused (a
/// permission deleted still takes its grants: the cascade runs once it is gone).
/// The upgrade completes a built-in role that lacks a leaf.
const V6: &str = r#"
CREATE TRIGGER permissions_builtin_holds AFTER INSERT ON permissions
BEGIN
    DELETE FROM role_grants WHERE permission_key = NEW.parent
        AND role_id IN (SELECT id FROM roles WHERE builtin = 1);
    INSERT OR IGNORE INTO role_grants (role_id, permission_key)
        SELECT id, NEW.key FROM roles WHERE builtin = 1
        AND NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = NEW.key);
END;

CREATE TRIGGER permissions_builtin_holds_delete AFTER DELETE ON permissions
WHEN OLD.parent IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO role_grants (role_id, permission_key)
        SELECT r.id, p.key FROM roles r JOIN permissions p ON p.key = OLD.parent
        WHERE r.builtin = 1
        AND NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = p.key);
END;

CREATE TRIGGER role_grants_builtin_keeps BEFORE DELETE ON role_grants
WHEN (SELECT builtin FROM roles WHERE id = OLD.role_id) = 1
    AND EXISTS (SELECT 1 FROM permissions p WHERE p.key = OLD.permission_key)
    AND NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = OLD.permission_key)
BEGIN
    SELECT RAISE(ABORT, 'the built-in role holds every permission: its grant of a permission cannot be deleted');
END;

DELETE FROM role_grants WHERE role_id IN (SELECT id FROM roles WHERE builtin = 1)
    AND permission_key IN (SELECT parent FROM permissions WHERE parent IS NOT NULL);
INSERT OR IGNORE INTO role_grants (role_id, permission_key)
SELECT r.id, p.key FROM roles r CROSS JOIN permissions p
WHERE r.builtin = 1 AND NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = p.key);
"#;

/// The schema version from which role names are keyed with `text::name_key`; the
/// upgrade to it recomputes the keys of existing roles.
pub const ROLE_KEYS_FROM: usize = 2;

/// Every migration, in order; the schema version is `MIGRATIONS.len()`. A migration
/// that rebuilds tables runs with foreign keys off and is checked with
/// `PRAGMA foreign_key_check` before it commits.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The tables a rolecall database must have to be opened, with the schema version
/// that added each.
const REQUIRED_TABLES: &[(&str, i64)] = &[
    ("permissions", 1),
    ("roles", 1),
    ("role_grants", 1),
    ("users", 1),
    ("settings", 1),
    ("audit", 1),
    ("rolecall_meta", 2),
    ("packages", 3),
    ("package_roles", 3),
    ("package_members", 3),
    ("resource_types", 4),
    ("resource_type_scopes", 4),
    ("resources", 4),
    ("package_resources", 4),
    ("role_exceptions", 4),
    ("role_exception_grants", 4),
    ("user_keys", 5),
    ("operator_permissions", 5),
];

/// The tables a file of schema `version` must have.
pub fn required_tables(version: i64) -> impl Iterator<Item = &'static str> {
    REQUIRED_TABLES
        .iter()
        .filter(move |(_, since)| *since <= version)
        .map(|(table, _)| *table)
}

/// The example roles seed 001 describes: name, description, grant specs.
pub const EXAMPLE_ROLES: &[(&str, &str, &[&str])] = &[
    (
        "Basic Access",
        "Minimal permissions for viewing and basic operations.",
        &[
            "contact_lists.view",
            "contacts.view",
            "contacts.view_log",
            "broadcasts.view",
            "statistics.broadcasts",
        ],
    ),
    (
        "Campaign Manager",
        "Manages campaigns without administrative access.",
        &[
            "contact_lists",
            "contacts.add",
            "contacts.view",
            "contacts.view_log",
            "contacts.edit",
            "contacts.import",
            "contacts.export",
            "contacts.bulk_update",
            "custom_fields.view",
            "broadcasts",
            "drip_campaigns",
            "split_tests",
            "statistics",
        ],
    ),
    ("Full Access", "Complete access to all features.", &["all"]),
    (
        "Read Only",
        "View-only access for monitoring; no edit, delete or create permissions.",
        &[
            "contact_lists.view",
            "contacts.view",
            "contacts.view_log",
            "broadcasts.view",
            "statistics",
        ],
    ),
];

/// The role new users get until `roles set-default` says otherwise.
pub const INITIAL_DEFAULT_ROLE: &str = "Read Only";
