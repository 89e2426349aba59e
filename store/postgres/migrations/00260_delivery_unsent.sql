-- +goose Up
-- unsent_through: every claim of the delivery up to this attempt is known to
-- have posted nothing (released by a send refused before it left, e.g. by
-- the Slack pace), so the next claim need not look for an earlier post.
ALTER TABLE deliveries ADD COLUMN unsent_through INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN unsent_through;
