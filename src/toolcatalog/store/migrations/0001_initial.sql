-- 0001: the catalog schema. Forward-only: never edit once landed; add 0002_... instead.
-- Every constraint is named so that a violation maps to a JSON path and a readable message.

CREATE SCHEMA IF NOT EXISTS tool_catalog;
SET LOCAL search_path = tool_catalog, public;

-- One row per catalog write: its generation is the catalog version a selection reports.
CREATE TABLE catalog_state (
    id          boolean PRIMARY KEY DEFAULT true CONSTRAINT catalog_state_single_row_check CHECK (id),
    generation  bigint NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO catalog_state (id) VALUES (true);

-- tools: the current definition of each tool. `definition` is the full validated document
-- (the source of truth for reads); the columns beside it are projections for filters,
-- constraints and indexes. `revision` counts writes and is the tool's version number in
-- tool_versions; `etag` is derived from the definition and revision.
CREATE TABLE tools (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL,
    version       text NOT NULL,
    display_name  text,
    description   text NOT NULL,
    platform      text NOT NULL,
    category      text NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'active',
    enabled       boolean NOT NULL DEFAULT true,
    owner         text,
    docs_url      text,
    examples      text[] NOT NULL DEFAULT '{}',
    definition    jsonb NOT NULL,
    search_text   text NOT NULL DEFAULT '',
    search        tsvector GENERATED ALWAYS AS (to_tsvector('english', search_text)) STORED,
    revision      integer NOT NULL DEFAULT 1,
    etag          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tools_name_key UNIQUE (name),
    CONSTRAINT tools_name_format_check CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'),
    CONSTRAINT tools_name_reserved_check CHECK (name NOT IN (
        'health', 'metrics', 'performance', 'search', 'platform', 'category', 'capabilities',
        'reload', 'import', 'export', 'validate', 'bulk', 'select', 'audit', 'versions', 'diff',
        'rollback', 'enable', 'disable', 'keys', 'openapi', 'docs')),
    CONSTRAINT tools_version_format_check CHECK (version ~ '^\d+\.\d+\.\d+'),
    CONSTRAINT tools_platform_check CHECK (platform IN (
        'linux', 'windows', 'macos', 'cross-platform', 'container', 'kubernetes', 'cloud', 'custom')),
    CONSTRAINT tools_status_check CHECK (status IN ('active', 'experimental', 'deprecated', 'disabled')),
    CONSTRAINT tools_category_format_check CHECK (category ~ '^[a-z][a-z0-9_]{0,63}$'),
    CONSTRAINT tools_description_check CHECK (length(description) BETWEEN 1 AND 10000),
    CONSTRAINT tools_revision_check CHECK (revision >= 1)
);
CREATE INDEX tools_platform_idx ON tools (platform);
CREATE INDEX tools_category_idx ON tools (category);
CREATE INDEX tools_status_idx ON tools (status);
CREATE INDEX tools_enabled_idx ON tools (enabled);
CREATE INDEX tools_updated_at_idx ON tools (updated_at, id);
CREATE INDEX tools_tags_idx ON tools USING gin (tags);
CREATE INDEX tools_search_idx ON tools USING gin (search);

-- tool_capabilities: what each tool can do (names from the shared vocabulary).
CREATE TABLE tool_capabilities (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tool_id      bigint NOT NULL CONSTRAINT tool_capabilities_tool_fkey
                   REFERENCES tools (id) ON DELETE CASCADE,
    name         text NOT NULL,
    description  text NOT NULL,
    position     smallint NOT NULL,
    CONSTRAINT tool_capabilities_tool_name_key UNIQUE (tool_id, name),
    CONSTRAINT tool_capabilities_name_format_check CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$')
);
CREATE INDEX tool_capabilities_name_idx ON tool_capabilities (name);

-- tool_patterns: the ways of using a capability, with profile and policy as columns so that
-- the database itself refuses impossible profiles. Estimates keep their expression text and
-- the value at the inputs' defaults.
CREATE TABLE tool_patterns (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    capability_id           bigint NOT NULL CONSTRAINT tool_patterns_capability_fkey
                              REFERENCES tool_capabilities (id) ON DELETE CASCADE,
    tool_id                 bigint NOT NULL CONSTRAINT tool_patterns_tool_fkey
                              REFERENCES tools (id) ON DELETE CASCADE,
    name                    text NOT NULL,
    description             text NOT NULL,
    typical_use_cases       text[] NOT NULL DEFAULT '{}',
    time_estimate_ms        double precision,  -- at the inputs' defaults; NULL if undefined
    time_estimate_expr      text,
    cost_estimate           double precision,
    cost_estimate_expr      text,
    complexity              real NOT NULL,
    accuracy                real NOT NULL,
    completeness            real NOT NULL,
    production_safe         boolean NOT NULL,
    requires_approval       boolean NOT NULL,
    max_cost                double precision,
    max_execution_time_ms   bigint,
    requires_background_if  text,
    allowed_environments    text[],
    position                smallint NOT NULL,
    CONSTRAINT tool_patterns_capability_name_key UNIQUE (capability_id, name),
    CONSTRAINT tool_patterns_name_format_check CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    CONSTRAINT tool_patterns_time_estimate_check CHECK (time_estimate_ms IS NULL OR time_estimate_ms >= 0),
    CONSTRAINT tool_patterns_cost_estimate_check CHECK (cost_estimate IS NULL OR cost_estimate >= 0),
    CONSTRAINT tool_patterns_complexity_check CHECK (complexity BETWEEN 0 AND 1),
    CONSTRAINT tool_patterns_accuracy_check CHECK (accuracy BETWEEN 0 AND 1),
    CONSTRAINT tool_patterns_completeness_check CHECK (completeness BETWEEN 0 AND 1),
    CONSTRAINT tool_patterns_max_cost_check CHECK (max_cost IS NULL OR max_cost >= 0),
    CONSTRAINT tool_patterns_max_execution_time_check
        CHECK (max_execution_time_ms IS NULL OR max_execution_time_ms >= 0)
);
CREATE INDEX tool_patterns_tool_idx ON tool_patterns (tool_id);

-- tool_versions: every revision of every tool's full definition, for history, diff and
-- rollback. Rows are only ever appended; a rollback appends a copy of an old revision.
-- Purging a tool removes its rows here too (its history stays in tool_audit_log).
CREATE TABLE tool_versions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tool_id      bigint NOT NULL CONSTRAINT tool_versions_tool_fkey
                   REFERENCES tools (id) ON DELETE CASCADE,
    revision     integer NOT NULL,
    definition   jsonb NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    comment      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_versions_tool_revision_key UNIQUE (tool_id, revision),
    CONSTRAINT tool_versions_revision_check CHECK (revision >= 1)
);

-- tool_audit_log: append-only record of every write: who, what, before/after and a diff.
-- No foreign key to tools: the trail outlives a purged tool.
CREATE TABLE tool_audit_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    actor            text NOT NULL,
    action           text NOT NULL,
    tool_name        text,
    revision_before  integer,
    revision_after   integer,
    diff             jsonb NOT NULL DEFAULT '[]',
    request_id       text,
    client_address   text,
    CONSTRAINT tool_audit_log_action_check CHECK (action IN (
        'create', 'update', 'patch', 'delete', 'purge', 'rollback', 'enable', 'disable',
        'import', 'key_create', 'key_revoke', 'reload'))
);
CREATE INDEX tool_audit_log_tool_idx ON tool_audit_log (tool_name, occurred_at DESC);
CREATE INDEX tool_audit_log_occurred_idx ON tool_audit_log (occurred_at DESC, id DESC);
CREATE INDEX tool_audit_log_actor_idx ON tool_audit_log (actor);

-- tool_telemetry: what happened when the pipeline ran a pattern; feeds profile calibration.
-- Names, not ids: telemetry outlives renames and purges and is written by other systems.
CREATE TABLE tool_telemetry (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    observed_at   timestamptz NOT NULL DEFAULT now(),
    tool_name     text NOT NULL,
    capability    text NOT NULL,
    pattern       text NOT NULL,
    duration_ms   double precision NOT NULL,
    cost          double precision,
    success       boolean NOT NULL,
    inputs        jsonb NOT NULL DEFAULT '{}',
    request_id    text,
    experiment    text,
    variant       text,
    CONSTRAINT tool_telemetry_duration_check CHECK (duration_ms >= 0),
    CONSTRAINT tool_telemetry_cost_check CHECK (cost IS NULL OR cost >= 0)
);
CREATE INDEX tool_telemetry_pattern_idx
    ON tool_telemetry (tool_name, capability, pattern, observed_at DESC);

-- tool_cache: derived, recomputable artefacts shared by all replicas, keyed by a content hash
-- of their input (e.g. the embedding vectors of a tool's text for semantic retrieval), so that
-- an expensive derivation is done once per content, not once per replica start. Deleting any
-- row is always safe. It is NOT the request cache: that lives in each process's memory.
CREATE TABLE tool_cache (
    kind          text NOT NULL,
    content_hash  text NOT NULL,
    payload       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_cache_pkey PRIMARY KEY (kind, content_hash)
);

-- tool_ab_tests: experiments comparing variants (e.g. scoring weights or profiles).
CREATE TABLE tool_ab_tests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'draft',
    variants     jsonb NOT NULL,
    traffic      jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz,
    ended_at     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_ab_tests_name_key UNIQUE (name),
    CONSTRAINT tool_ab_tests_status_check CHECK (status IN ('draft', 'running', 'stopped', 'completed')),
    CONSTRAINT tool_ab_tests_window_check CHECK (ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at)
);

-- tool_vocabulary: the shared capability vocabulary (canonical names and their aliases), so
-- that Stage A's capability names resolve against what the catalog calls them.
CREATE TABLE tool_vocabulary (
    name         text PRIMARY KEY,
    description  text NOT NULL,
    aliases      text[] NOT NULL DEFAULT '{}',
    CONSTRAINT tool_vocabulary_name_format_check CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$')
);

-- tool_api_keys: API keys, stored only as SHA-256 hashes; the prefix lets people tell keys apart.
CREATE TABLE tool_api_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL,
    role          text NOT NULL,
    key_hash      bytea NOT NULL,
    key_prefix    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    CONSTRAINT tool_api_keys_name_key UNIQUE (name),
    CONSTRAINT tool_api_keys_hash_key UNIQUE (key_hash),
    CONSTRAINT tool_api_keys_role_check CHECK (role IN ('reader', 'editor', 'admin')),
    CONSTRAINT tool_api_keys_name_format_check CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
);

CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER tools_touch_updated_at BEFORE UPDATE ON tools
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER tool_ab_tests_touch_updated_at BEFORE UPDATE ON tool_ab_tests
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
