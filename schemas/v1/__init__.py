"""Version 1 of the wire contract. ``schemas.export`` writes the JSON Schemas into ``docs/schemas``."""
