-- Initial schema. Every row carries tenant_id; references between tenant rows
-- are composite (tenant_id, id) foreign keys so they can never cross tenants.
-- Times are TEXT in fixed-width RFC 3339 UTC with microseconds, so they sort.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One tenant, one workspace: tenant_id is the key and team_id is unique.
CREATE TABLE workspaces (
    tenant_id        TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    team_id          TEXT NOT NULL UNIQUE,
    team_name        TEXT NOT NULL,
    bot_token_secret TEXT NOT NULL DEFAULT '',
    bot_user_id      TEXT NOT NULL DEFAULT '',
    installed_at     TEXT NOT NULL
);

CREATE TABLE users (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    manager_id     TEXT,
    department     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('active', 'terminated')),
    terminated_at  TEXT,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    delegate_id    TEXT,
    delegate_until TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, manager_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, delegate_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email));
CREATE INDEX users_tenant_manager ON users (tenant_id, manager_id);

-- Deleting a user clears manager and delegate references to it in the same
-- statement, so a delete that fails on another reference changes nothing.
-- +goose StatementBegin
CREATE TRIGGER users_clear_refs BEFORE DELETE ON users
BEGIN
    UPDATE users SET manager_id = NULL WHERE tenant_id = OLD.tenant_id AND manager_id = OLD.id;
    UPDATE users SET delegate_id = NULL, delegate_until = NULL WHERE tenant_id = OLD.tenant_id AND delegate_id = OLD.id;
END;
-- +goose StatementEnd

CREATE TABLE applications (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    connector          TEXT NOT NULL DEFAULT '',
    primary_owner_id   TEXT,
    secondary_owner_id TEXT,
    max_duration_ns    INTEGER NOT NULL DEFAULT 0,
    connection_schema  TEXT NOT NULL DEFAULT '[]',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, primary_owner_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, secondary_owner_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX applications_tenant_name ON applications (tenant_id, lower(name));

CREATE TABLE connections (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    app_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, app_id, name),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE resources (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, app_id, name),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE approval_chains (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    app_id        TEXT,
    connection_id TEXT,
    levels        TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- Requests keep app/connection ids without foreign keys: their history must
-- outlive a deleted connection (a connection_delete request names it).
CREATE TABLE access_requests (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    requester_id   TEXT NOT NULL,
    target_user_id TEXT,
    app_id         TEXT NOT NULL DEFAULT '',
    connection_id  TEXT NOT NULL DEFAULT '',
    payload        TEXT,
    duration_ns    INTEGER NOT NULL DEFAULT 0,
    justification  TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')),
    level          INTEGER NOT NULL DEFAULT 0,
    levels         TEXT NOT NULL DEFAULT '[]',
    open_key       TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    decided_at     TEXT,
    reminded_at    TEXT,
    escalated_at   TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, requester_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, target_user_id) REFERENCES users (tenant_id, id)
);
-- A duplicate open request is refused; open_key is NULL once decided.
CREATE UNIQUE INDEX access_requests_open_key ON access_requests (tenant_id, open_key) WHERE open_key IS NOT NULL;
CREATE INDEX access_requests_status ON access_requests (tenant_id, status, created_at);
CREATE INDEX access_requests_requester ON access_requests (tenant_id, requester_id, created_at);

CREATE TABLE entitlements (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    request_id    TEXT,
    granted_at    TEXT NOT NULL,
    expires_at    TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, user_id, connection_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, request_id) REFERENCES access_requests (tenant_id, id)
);
CREATE INDEX entitlements_expires ON entitlements (tenant_id, expires_at);

CREATE TABLE decisions (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    level       INTEGER NOT NULL,
    approver_id TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    reason      TEXT NOT NULL DEFAULT '',
    decided_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, request_id, level, approver_id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES access_requests (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    before_state TEXT,
    after_state  TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_object ON audit_log (tenant_id, object_id, at);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- Secrets hold ciphertext and the id of the key that made it, never plaintext.
CREATE TABLE secrets (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A Slack message is identified by channel and ts.
CREATE TABLE message_refs (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    object_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    channel_id TEXT NOT NULL,
    ts         TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, ts)
);
CREATE INDEX message_refs_object ON message_refs (tenant_id, object_id);

-- +goose Down
DROP TABLE message_refs;
DROP TABLE secrets;
DROP TABLE audit_log;
DROP TABLE decisions;
DROP TABLE entitlements;
DROP TABLE access_requests;
DROP TABLE approval_chains;
DROP TABLE resources;
DROP TABLE connections;
DROP TABLE applications;
DROP TABLE users;
DROP TABLE workspaces;
DROP TABLE tenants;
