-- Outcome telemetry reported by agents (POST /api/v1/telemetry) and its hourly rollups.
--
-- tool_telemetry (from 0001) keeps each event for TOOLCATALOG_TELEMETRY_RETENTION_DAYS; it
-- gains what an agent reports beside the figures: the selection it followed (selection_id,
-- not checked against anything here), a short error class, the environment, and the key
-- that reported it. BRIN on observed_at: retention deletes by age, and a BRIN index costs
-- ingest almost nothing on an append-mostly table, where a btree is updated per row.
--
-- tool_telemetry_hourly: one row per pattern per hour, updated in the transaction that
-- writes the events, kept for TOOLCATALOG_TELEMETRY_ROLLUP_RETENTION_DAYS, so that a year of
-- outcomes is read from ~9,000 rows per pattern instead of every event. Durations are kept
-- as counts per fixed logarithmic bucket (model/telemetry.py, DURATION_BOUNDS_MS: 2^(k/4) ms),
-- so percentiles of any set of hours are computed from summed counts (error < 10 %).

SET LOCAL search_path = tool_catalog, public;

ALTER TABLE tool_telemetry
    ADD COLUMN selection_id text,
    ADD COLUMN error        text,
    ADD COLUMN environment  text,
    ADD COLUMN reporter     text,
    ADD CONSTRAINT tool_telemetry_error_format_check
        CHECK (error IS NULL OR error ~ '^[A-Za-z][A-Za-z0-9_.:-]{0,63}$'),
    ADD CONSTRAINT tool_telemetry_selection_id_format_check
        CHECK (selection_id IS NULL OR selection_id ~ '^[A-Za-z0-9_-]{1,64}$');
CREATE INDEX tool_telemetry_observed_brin ON tool_telemetry USING brin (observed_at);
CREATE INDEX tool_telemetry_selection_idx ON tool_telemetry (selection_id)
    WHERE selection_id IS NOT NULL;

CREATE TABLE tool_telemetry_hourly (
    hour              timestamptz NOT NULL,
    tool_name         text NOT NULL,
    capability        text NOT NULL,
    pattern           text NOT NULL,
    calls             bigint NOT NULL,
    successes         bigint NOT NULL,
    duration_sum_ms   double precision NOT NULL,
    duration_counts   bigint[] NOT NULL,
    cost_sum          double precision NOT NULL DEFAULT 0,
    cost_calls        bigint NOT NULL DEFAULT 0,
    CONSTRAINT tool_telemetry_hourly_pkey PRIMARY KEY (tool_name, capability, pattern, hour),
    CONSTRAINT tool_telemetry_hourly_hour_check CHECK (extract(epoch FROM hour) % 3600 = 0),
    CONSTRAINT tool_telemetry_hourly_calls_check CHECK (calls >= successes AND successes >= 0)
);
CREATE INDEX tool_telemetry_hourly_hour_idx ON tool_telemetry_hourly (hour);

-- Element-wise sum of two bucket-count arrays (the longer one's tail kept), for the upsert
-- that adds a batch's counts to an hour's row.
CREATE FUNCTION tool_telemetry_add_counts(a bigint[], b bigint[]) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
        FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
    $$;

ALTER TABLE tool_api_keys DROP CONSTRAINT tool_api_keys_role_check;
ALTER TABLE tool_api_keys ADD CONSTRAINT tool_api_keys_role_check
    CHECK (role IN ('reporter', 'reader', 'editor', 'admin'));

-- Sums bucket-count arrays over rows (the hours of a window), element-wise.
CREATE AGGREGATE tool_telemetry_sum_counts(bigint[]) (
    SFUNC = tool_telemetry_add_counts,
    STYPE = bigint[],
    INITCOND = '{}'
);
