"""Reading and writing tool definitions as YAML/JSON, keeping file and line for errors."""
