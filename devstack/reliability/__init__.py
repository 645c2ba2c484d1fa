"""`make reliability`: the project's own fault matrix (issues 12 and 17).

Every fault is tried on a fresh copy of a synced stack (embedded PostgreSQL, fake API
over loopback, Batigest stand-in): the faulty run, then a clean one; the independent
oracle of `devstack/verify.py` then says whether every healthy slot is in SuiviMO
exactly once, at its current key, with its current values. `python -m
devstack.reliability` prints the table (fault, runs, converged, lost, wrong,
duplicated); `matrix.run_matrix(quick=True)` is the part `make test` runs
(tests/devstack/test_reliability.py).
"""
