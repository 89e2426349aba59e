-- A review definition remembers who manages it: the tenant file ('file')
-- or Slack ('slack', a repeat started with /access review new), so apply
-- deletes only the definitions the file manages.

-- +goose Up
ALTER TABLE review_definitions ADD COLUMN source TEXT NOT NULL DEFAULT 'file' CHECK (source IN ('file', 'slack'));

-- +goose Down
ALTER TABLE review_definitions DROP COLUMN source;
