-- tool_import_rows (0011) is no longer written: an import COPYs its new tools rows into
-- `tools` on its own connection again. Staging them over a second connection made the import
-- slower on a busy machine, not faster (100,000 generated tools, two interleaved pairs at load
-- 5-8: 40.7 / 46.9 s staged against 37.8 / 31.7 s direct; the re-import right after 11.6 /
-- 12.5 s against 6.3 / 6.4 s; docs/performance.md, session 14). Unlogged, it holds no rows
-- worth keeping: at most the batches of an import whose process was killed.
SET LOCAL search_path = tool_catalog, public;

DROP TABLE tool_import_rows;
