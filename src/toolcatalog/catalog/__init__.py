"""The catalog service: owns every write transaction, the caches and change publication."""
