"""The BatiSimply API (CONTRACT.md), laid out as dlt's own REST client helpers are:
`client` (GETs, retries, endpoints), `auth` (the OAuth2 token), `paging` (an answer's
JSON, its records and its next page), `errors` (`ApiError` and the wording of a cause).
"""
