"""Tools a person runs around the sync: `doctor` (is every system reachable and fit?) and
the recette (`debug-heures`: where is each hour, what would the export do?)."""
