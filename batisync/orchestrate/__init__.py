"""Driving the stages: one sync run under the lock, its history (`sync_runs`) and summary."""
