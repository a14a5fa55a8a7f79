"""ECM: documents, versions, check-out/check-in, full-text search, records and audit."""
