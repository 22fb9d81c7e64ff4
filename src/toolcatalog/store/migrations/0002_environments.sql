-- tool_environments: environment policy as data (catalog/environments.yaml, PUT
-- /api/v1/environments/{name}): per environment, what each effect may do, limits, exclusions.
-- `rules` is the validated EnvironmentRules document; `revision` counts its writes, each of
-- which is also an audit entry (action 'environment', tool_name NULL, the environment in diff).

SET LOCAL search_path = tool_catalog, public;
CREATE TABLE tool_environments (
    name        text PRIMARY KEY,
    rules       jsonb NOT NULL,
    revision    integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_environments_name_format_check CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    CONSTRAINT tool_environments_revision_check CHECK (revision >= 1)
);

ALTER TABLE tool_audit_log DROP CONSTRAINT tool_audit_log_action_check;
ALTER TABLE tool_audit_log ADD CONSTRAINT tool_audit_log_action_check CHECK (action IN (
    'create', 'update', 'patch', 'delete', 'purge', 'rollback', 'enable', 'disable',
    'import', 'key_create', 'key_revoke', 'reload', 'environment'));
