-- What an approved connection_assign request granted to a connection: other
-- connections and resources of the same application, by type and name
-- (flows/provision records them when the request's chain finishes; a
-- revoke deletes the row). They go with the connection.

-- +goose Up
CREATE TABLE connection_assignments (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    member_type   TEXT NOT NULL,
    member_name   TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    granted_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, member_type, member_name),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE connection_assignments;
