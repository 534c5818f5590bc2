"""The results contract (contract: every field, with a schema version), reading and writing
it (io), and where results come from (provenance)."""
