-- +goose Up
-- Provisioning (flows/provision): each application's action chains, per
-- relationship type, as the tenant file declares them.
ALTER TABLE applications ADD COLUMN provisioning TEXT NOT NULL DEFAULT '{}';

-- An ActionFlow carries out one approved relationship (or ends one): 1:1
-- with what it acts on, named by key (unique per tenant), so starting it twice
-- finds the first. Its steps are action_flow_scripts, made from the chain.
CREATE TABLE action_flows (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    flow_key       TEXT NOT NULL,
    request_id     TEXT NOT NULL DEFAULT '',
    entitlement_id TEXT NOT NULL DEFAULT '',
    app_id         TEXT NOT NULL DEFAULT '',
    connection_id  TEXT NOT NULL DEFAULT '',
    user_id        TEXT NOT NULL DEFAULT '',
    relationship   TEXT NOT NULL,
    direction      TEXT NOT NULL,
    status         TEXT NOT NULL,
    current_step   INTEGER NOT NULL DEFAULT 0,
    fields         TEXT NOT NULL DEFAULT '{}',
    outputs        TEXT NOT NULL DEFAULT '{}',
    actor_id       TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    message_channel TEXT NOT NULL DEFAULT '',
    message_ts     TEXT NOT NULL DEFAULT '',
    version        INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    finished_at    TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, flow_key)
);
-- The Home tab's failed and waiting flows; a request's flows.
CREATE INDEX action_flows_status ON action_flows (tenant_id, status, updated_at);
CREATE INDEX action_flows_request ON action_flows (tenant_id, request_id);

CREATE TABLE action_flow_scripts (
    tenant_id   TEXT NOT NULL,
    flow_id     TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}',
    timeout_ns  INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    outputs     TEXT NOT NULL DEFAULT '{}',
    answered_by TEXT NOT NULL DEFAULT '',
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (tenant_id, flow_id, idx),
    FOREIGN KEY (tenant_id, flow_id) REFERENCES action_flows (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE action_flow_scripts;
DROP TABLE action_flows;
ALTER TABLE applications DROP COLUMN provisioning;
