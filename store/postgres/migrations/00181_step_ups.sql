-- Step-up re-authentication (issue 16): one row per Approve click on a
-- high-risk request. id is the sha256 of the single-use link's token;
-- started_at is set once when the link is opened (with the OIDC state and
-- nonce), completed_at once when the provider's answer is accepted, so a
-- replayed link or callback finds the row already used.

-- +goose Up
CREATE TABLE step_ups (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    level        INTEGER NOT NULL,
    approver_id  TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    state        TEXT,
    nonce        TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, state)
);

-- +goose Down
DROP TABLE step_ups;
