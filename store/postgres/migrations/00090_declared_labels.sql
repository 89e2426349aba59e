-- Applications and connections carry labels declared in the tenant file
-- (e.g. ["privileged"]), which apply to the matching inventory entitlements.

-- +goose Up
ALTER TABLE applications ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE connections ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE connections DROP COLUMN labels;
ALTER TABLE applications DROP COLUMN labels;
