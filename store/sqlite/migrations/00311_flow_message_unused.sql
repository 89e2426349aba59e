-- +goose Up
-- A flow's message is found through message_refs (the flow's id); these
-- columns were never written by anything but their own store test.
ALTER TABLE action_flows DROP COLUMN message_channel;
ALTER TABLE action_flows DROP COLUMN message_ts;

-- +goose Down
ALTER TABLE action_flows ADD COLUMN message_channel TEXT NOT NULL DEFAULT '';
ALTER TABLE action_flows ADD COLUMN message_ts TEXT NOT NULL DEFAULT '';
