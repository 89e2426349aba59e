-- A tenant's upload settings (the tenant file's imports: section): the
-- accidental-removal guard refuses an import that would remove more than
-- max_removed_rows rows and more than max_removed_percent percent of an
-- application's current rows at once.

-- +goose Up
CREATE TABLE import_settings (
    tenant_id           TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    max_removed_rows    INTEGER NOT NULL CHECK (max_removed_rows >= 0),
    max_removed_percent INTEGER NOT NULL CHECK (max_removed_percent BETWEEN 0 AND 100),
    updated_at          TEXT NOT NULL
);

-- +goose Down
DROP TABLE import_settings;
