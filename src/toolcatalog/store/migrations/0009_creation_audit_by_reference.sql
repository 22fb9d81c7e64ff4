-- A creation's audit diff adds each top-level field of the tool's first version, so it was
-- the whole document written a third time (row, version, audit): at 20,000 generated tools
-- its COPY was ~25 % of an import's PostgreSQL CPU (jsonb parsing and compression of ~4 KB a
-- tool). Such an entry may now keep, instead of the diff, the names of the fields it adds in
-- the document's order (`added_fields`, with `diff` left '[]'); store/audit.py's reader
-- expands it from the version `revision_after` of the tool named `tool_name` into the same
-- diff as before, and a purge, which cascades the versions away, writes the entries it would
-- orphan in full first. NULL (every entry before this migration, and every other entry): `diff`
-- is the entry's diff in full.
SET LOCAL search_path = tool_catalog, public;

ALTER TABLE tool_audit_log ADD COLUMN added_fields text[];
ALTER TABLE tool_audit_log ADD CONSTRAINT tool_audit_log_added_fields_check CHECK (
    added_fields IS NULL
    OR (tool_name IS NOT NULL AND revision_after IS NOT NULL AND diff = '[]'::jsonb)
);
