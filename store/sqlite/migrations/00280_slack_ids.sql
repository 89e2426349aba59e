-- +goose Up
-- slack_ids: the Slack user (and DM channel) of a tenant user, so a DM needs
-- no users.lookupByEmail (Slack Tier 3). email is the address both sides
-- had when the mapping was last verified: the row is valid only while it
-- still equals the user's (lower-cased) email. One Slack user maps to at
-- most one tenant user per tenant.
CREATE TABLE slack_ids (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    team_id       TEXT NOT NULL,
    slack_user_id TEXT NOT NULL,
    email         TEXT NOT NULL,
    dm_channel_id TEXT NOT NULL DEFAULT '',
    verified_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX slack_ids_slack_user ON slack_ids (tenant_id, team_id, slack_user_id);

-- +goose Down
DROP TABLE slack_ids;
