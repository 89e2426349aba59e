-- +goose Up
-- The Home version's bump also notifies (channel accessbot_home, payload
-- "schema/tenant id"), so that a process keeping versions in memory drops
-- them when another process writes (store/sqlstore/homecache.go,
-- store/postgres/homelisten.go). NOTIFY is delivered at commit, and the bump
-- runs once per transaction and tenant.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump_id(t TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('accessbot.home_bumped', true) IS NOT DISTINCT FROM t THEN
        RETURN;
    END IF;
    INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    PERFORM set_config('accessbot.home_bumped', t, true);
    PERFORM pg_notify('accessbot_home', current_schema() || '/' || t);
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump_id(t TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('accessbot.home_bumped', true) IS NOT DISTINCT FROM t THEN
        RETURN;
    END IF;
    INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    PERFORM set_config('accessbot.home_bumped', t, true);
END $$;
-- +goose StatementEnd
