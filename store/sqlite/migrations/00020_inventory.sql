-- Inventory (per application: identities, app entitlements, relations,
-- identity→employee mappings), findings, tenant-defined rules and the
-- findings endpoint token. Snapshot rows are never deleted by an upload:
-- removed_at marks what the latest snapshot no longer has.

-- +goose Up
CREATE TABLE inv_identities (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    app_id       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    last_seen_at TEXT,
    removed_at   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, app_id, external_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX inv_identities_email ON inv_identities (tenant_id, lower(email));

CREATE TABLE inv_entitlements (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    app_id      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT '',
    labels      TEXT NOT NULL DEFAULT '[]',
    removed_at  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, app_id, external_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE inv_relations (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id         TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    entitlement_id TEXT NOT NULL,
    removed_at     TEXT,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, identity_id, entitlement_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, identity_id) REFERENCES inv_identities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, entitlement_id) REFERENCES inv_entitlements (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX inv_relations_app ON inv_relations (tenant_id, app_id);
CREATE INDEX inv_relations_entitlement ON inv_relations (tenant_id, entitlement_id);

CREATE TABLE inv_mappings (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, identity_id),
    FOREIGN KEY (tenant_id, identity_id) REFERENCES inv_identities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- One finding per (tenant, rule, subject): reruns update it in place.
CREATE TABLE findings (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    rule            TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    subject_kind    TEXT NOT NULL CHECK (subject_kind IN ('employee', 'identity', 'application')),
    subject_id      TEXT NOT NULL,
    subject_display TEXT NOT NULL DEFAULT '',
    details         TEXT,
    status          TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    status_by       TEXT NOT NULL DEFAULT '',
    status_at       TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, rule, subject_kind, subject_id)
);
CREATE INDEX findings_status ON findings (tenant_id, status, opened_at);

CREATE TABLE tenant_rules (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    severity    TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    subject     TEXT NOT NULL CHECK (subject IN ('employee', 'identity')),
    filter      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Only a SHA-256 hash of the token is kept.
CREATE TABLE findings_tokens (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    hash       BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE findings_tokens;
DROP TABLE tenant_rules;
DROP TABLE findings;
DROP TABLE inv_mappings;
DROP TABLE inv_relations;
DROP TABLE inv_entitlements;
DROP TABLE inv_identities;
