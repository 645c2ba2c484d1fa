"""Development and test stack: embedded PostgreSQL, fake BatiSimply API, Batigest stand-in."""
