"""Orchestration of the BatiSimply → Batigest sync: settings, runs, summary."""
