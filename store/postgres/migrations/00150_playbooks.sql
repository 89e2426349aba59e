-- Playbooks: external servers that receive signed events (issue 13), the
-- runs that are their audit trail.
-- A run's event_id is unique per tenant: emitting an event twice (a retried
-- job) queues it once.

-- +goose Up
CREATE TABLE playbooks (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    type           TEXT NOT NULL CHECK (type IN ('finding', 'request', 'review')),
    on_sync        BOOLEAN NOT NULL DEFAULT FALSE,
    url            TEXT NOT NULL,
    app_id         TEXT,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    token_secret   TEXT NOT NULL DEFAULT '',
    signing_secret TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL DEFAULT 'slack' CHECK (source IN ('file', 'slack')),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX playbooks_tenant_name ON playbooks (tenant_id, lower(name));

CREATE TABLE playbook_runs (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    playbook_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    object_type     TEXT NOT NULL DEFAULT '',
    object_id       TEXT NOT NULL DEFAULT '',
    trigger_kind    TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    event           TEXT NOT NULL,
    event_at        TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER NOT NULL DEFAULT 0,
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    response_body   TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    reply_to        TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, playbook_id) REFERENCES playbooks (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX playbook_runs_event ON playbook_runs (tenant_id, event_id);
CREATE INDEX playbook_runs_recent ON playbook_runs (tenant_id, playbook_id, created_at);


-- +goose Down
DROP TABLE playbook_runs;
DROP TABLE playbooks;
