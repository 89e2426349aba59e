-- Access reviews: campaign definitions (tenant file), launched campaigns,
-- review items (one per identity, entitlement and level), pending
-- revocations and the one-shot notice log behind reminders and escalations.
-- Reviewer and employee ids are not foreign keys: items keep their history
-- when a user is deleted.

-- +goose Up
CREATE TABLE review_definitions (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    levels       TEXT NOT NULL,
    cron         TEXT NOT NULL DEFAULT '',
    time_zone    TEXT NOT NULL DEFAULT '',
    due_at       TEXT,
    due_after_ns BIGINT NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE review_campaigns (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    levels       TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'completed')),
    created_by   TEXT NOT NULL,
    definition   TEXT,
    slot_at      TEXT,
    launched_at  TEXT NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, definition, slot_at)
);
CREATE INDEX review_campaigns_status ON review_campaigns (tenant_id, status);

CREATE TABLE review_items (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    level            INTEGER NOT NULL CHECK (level >= 0),
    parent_id        TEXT NOT NULL DEFAULT '',
    app_id           TEXT NOT NULL,
    identity_id      TEXT NOT NULL,
    entitlement_id   TEXT NOT NULL,
    user_id          TEXT NOT NULL DEFAULT '',
    reviewer_id      TEXT NOT NULL,
    subject          TEXT NOT NULL DEFAULT '',
    app_name         TEXT NOT NULL DEFAULT '',
    entitlement_name TEXT NOT NULL DEFAULT '',
    privileged       BOOLEAN NOT NULL DEFAULT FALSE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'kept', 'revoked')),
    comment          TEXT NOT NULL DEFAULT '',
    decided_by       TEXT NOT NULL DEFAULT '',
    decided_at       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, campaign_id, level, identity_id, entitlement_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES review_campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX review_items_reviewer ON review_items (tenant_id, reviewer_id, status);

CREATE TABLE review_revocations (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    item_id        TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    entitlement_id TEXT NOT NULL,
    owner_id       TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('pending', 'done')),
    created_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, item_id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES review_items (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE review_notices (
    tenant_id   TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    notice      TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, user_id, notice),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES review_campaigns (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE review_notices;
DROP TABLE review_revocations;
DROP TABLE review_items;
DROP TABLE review_campaigns;
DROP TABLE review_definitions;
