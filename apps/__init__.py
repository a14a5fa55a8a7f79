"""The two enterprise applications the estate protects: ECM (documents) and CRM "iNeed"."""
