"""CRM "iNeed": the service desk (incidents, requests, problems, CIs, SLAs, email, reports)."""
