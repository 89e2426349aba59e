-- Purposes (issue 17): just-in-time, purpose-based access. A purpose bundles
-- connections across applications (JSON list of {app_id, connection_id});
-- an assignment says who may start it; a session is one start. A session's
-- user_access requests (request_ids, JSON) provision each connection; the
-- sweep that ends it claims the row (end_claim_until), so of several
-- replicas exactly one ends each session. At most one active or ending
-- session per person and purpose.

-- +goose Up
CREATE TABLE purposes (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    connections  TEXT NOT NULL DEFAULT '[]',
    max_session_ns BIGINT NOT NULL,
    assign_chain TEXT NOT NULL,
    start_chain  TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX purposes_tenant_name ON purposes (tenant_id, name);

CREATE TABLE purpose_assignments (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    purpose_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    request_id  TEXT NOT NULL DEFAULT '',
    assigned_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, purpose_id, user_id),
    FOREIGN KEY (tenant_id, purpose_id) REFERENCES purposes (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE purpose_sessions (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    purpose_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    request_ids     TEXT NOT NULL DEFAULT '[]',
    started_at      TIMESTAMPTZ NOT NULL,
    ends_at         TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'ending', 'ended')),
    ended_by        TEXT NOT NULL DEFAULT '',
    end_reason      TEXT NOT NULL DEFAULT '',
    ending_at       TIMESTAMPTZ,
    ended_at        TIMESTAMPTZ,
    end_claim_until TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX purpose_sessions_open ON purpose_sessions (tenant_id, purpose_id, user_id) WHERE status <> 'ended';
CREATE INDEX purpose_sessions_due ON purpose_sessions (tenant_id, status, ends_at);

-- +goose Down
DROP TABLE purpose_sessions;
DROP TABLE purpose_assignments;
DROP TABLE purposes;
