"""The admin web UI's custom pages (overview, schemas, rule editing, review, simulator, agents, exports)."""
