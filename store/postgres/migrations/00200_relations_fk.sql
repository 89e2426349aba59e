-- Issue 18: a relations upload inserts up to a million rows in one
-- statement, and every foreign key fired a check per row (four per row,
-- two thirds of the insert's time). Only the key to the application stays:
-- it cascades the application's (and so the tenant's) deletion, and its
-- check locks the application row against a concurrent delete until the
-- upload commits. The identity and entitlement ids need no check: the one
-- writer (sqlstore ReplaceRelationsFrom) takes them from a join on the
-- application's current identities and entitlements in the same
-- transaction, and those rows are never deleted except by their
-- application's deletion, which cascades here too. The entitlement index
-- only served the dropped key's cascade.

-- +goose Up
ALTER TABLE inv_relations
    DROP CONSTRAINT inv_relations_tenant_id_fkey,
    DROP CONSTRAINT inv_relations_tenant_id_identity_id_fkey,
    DROP CONSTRAINT inv_relations_tenant_id_entitlement_id_fkey;
DROP INDEX inv_relations_entitlement;

-- +goose Down
CREATE INDEX inv_relations_entitlement ON inv_relations (tenant_id, entitlement_id);
ALTER TABLE inv_relations
    ADD CONSTRAINT inv_relations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    ADD CONSTRAINT inv_relations_tenant_id_identity_id_fkey FOREIGN KEY (tenant_id, identity_id) REFERENCES inv_identities (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT inv_relations_tenant_id_entitlement_id_fkey FOREIGN KEY (tenant_id, entitlement_id) REFERENCES inv_entitlements (tenant_id, id) ON DELETE CASCADE;
