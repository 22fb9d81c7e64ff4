-- Tool names reserved only where a fixed route really takes the tool's path (model/tool.py,
-- RESERVED_NAMES): `search`, `import`, `select`, ... become valid tool names.

SET LOCAL search_path = tool_catalog, public;

ALTER TABLE tools DROP CONSTRAINT tools_name_reserved_check;
ALTER TABLE tools ADD CONSTRAINT tools_name_reserved_check
    CHECK (name <> ALL (ARRAY['health', 'metrics', 'platform', 'category']));
