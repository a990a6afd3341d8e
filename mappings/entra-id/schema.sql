-- An existing application schema that scimgate did not create: integer keys, a status
-- code for `active`, per-type columns for emails and phones, a role table with a join
-- table. Create it yourself (sqlite3 app.db < schema.sql); the gateway never runs DDL here.
CREATE TABLE IF NOT EXISTS app_user (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE COLLATE NOCASE,
    source_key TEXT,
    first_name TEXT,
    last_name TEXT,
    display_name TEXT,
    job_title TEXT,
    department TEXT,
    employee_id TEXT,
    email TEXT,
    mobile TEXT,
    phone TEXT,
    fax TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    zip TEXT,
    country TEXT,
    office TEXT,
    preferred_language TEXT,
    manager_user_id INTEGER REFERENCES app_user(user_id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'A' CHECK (status IN ('A', 'I')),
    row_version INTEGER NOT NULL DEFAULT 1,
    created_on TEXT,
    changed_on TEXT
);
CREATE TABLE IF NOT EXISTS app_role (
    role_id INTEGER PRIMARY KEY AUTOINCREMENT,
    role_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    source_key TEXT,
    row_version INTEGER NOT NULL DEFAULT 1,
    created_on TEXT,
    changed_on TEXT
);
CREATE TABLE IF NOT EXISTS app_user_role (
    role_id INTEGER NOT NULL REFERENCES app_role(role_id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES app_user(user_id) ON DELETE CASCADE,
    granted_by TEXT,
    PRIMARY KEY (role_id, user_id)
);
