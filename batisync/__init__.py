"""BatiSimply time slots into Sage Batigest SuiviMO.

Layers (docs/ARCHITECTURE.md), each importing only those below it:
`cli` > `tools` > `orchestrate` > the stages `loader`, `transform`, `export` > `core`.
"""
