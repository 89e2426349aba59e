-- +goose Up
-- review_progress: where the updates of a reviewer's review DMs about a
-- campaign stand. A change of their pending count bumps gen in its own
-- transaction; an update (a review_progress job) claims the row until
-- lease_until, shows the count it then reads and records sent_gen = the gen
-- it claimed. Updates of one reviewer run one at a time, so an older count
-- never lands after a newer; jobs that find sent_gen >= gen have nothing
-- left to show.
CREATE TABLE review_progress (
    tenant_id   TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    gen         INTEGER NOT NULL DEFAULT 0,
    sent_gen    INTEGER NOT NULL DEFAULT 0,
    claim       INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, reviewer_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES review_campaigns (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE review_progress;
