-- +goose Up
-- The Slack channel a request was made in (issue 16): its channel route
-- may have chosen the chain, so "Why these approvers?" and an extension of
-- the access it granted route it the same way again. NULL for requests
-- stored before: where they were made is not known; '' for a DM, Home or
-- a button.
ALTER TABLE access_requests ADD COLUMN channel_id TEXT;

-- +goose Down
ALTER TABLE access_requests DROP COLUMN channel_id;
