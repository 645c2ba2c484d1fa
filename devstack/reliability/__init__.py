"""`make reliability`: the project's own fault matrix (issue 12).

Every fault is tried on a fresh copy of a synced stack (embedded PostgreSQL, fake API
over loopback, Batigest stand-in): the faulty run, then a clean one; the independent
oracle of `devstack/verify.py` then says whether every healthy slot is in SuiviMO
exactly once. `python -m devstack.reliability` prints the table (fault, runs,
converged, lost, duplicated); `matrix.run_matrix(quick=True)` is the part `make test`
runs (tests/devstack/test_reliability.py).
"""
