-- The quickstart schema, created on first run. Every statement is idempotent.
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    external_id TEXT,
    display_name TEXT,
    nick_name TEXT,
    title TEXT,
    user_type TEXT,
    preferred_language TEXT,
    locale TEXT,
    timezone TEXT,
    profile_url TEXT,
    active INTEGER DEFAULT 1,
    password_hash TEXT,
    formatted_name TEXT,
    given_name TEXT,
    family_name TEXT,
    middle_name TEXT,
    honorific_prefix TEXT,
    honorific_suffix TEXT,
    work_address_formatted TEXT,
    work_street TEXT,
    work_locality TEXT,
    work_region TEXT,
    work_postal_code TEXT,
    work_country TEXT,
    employee_number TEXT,
    cost_center TEXT,
    organization TEXT,
    division TEXT,
    department TEXT,
    manager_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_user_name ON users(lower(user_name));
CREATE INDEX IF NOT EXISTS users_external_id ON users(external_id);
CREATE TABLE IF NOT EXISTS user_emails (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    type TEXT,
    is_primary INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS user_emails_user ON user_emails(user_id);
CREATE INDEX IF NOT EXISTS user_emails_value ON user_emails(lower(value));
CREATE TABLE IF NOT EXISTS user_phones (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    type TEXT,
    is_primary INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS user_phones_user ON user_phones(user_id);
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    external_id TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS groups_display_name ON groups(lower(display_name));
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX IF NOT EXISTS group_members_member ON group_members(member_id);
