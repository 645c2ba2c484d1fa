"""The foundation every stage stands on: settings, connections, logging, errors.

Imports nothing from the stages (`loader`, `transform`, `export`) nor from what drives
them (`orchestrate`, `tools`, `cli`): `tests/core/test_layers.py` holds it to that.
"""
