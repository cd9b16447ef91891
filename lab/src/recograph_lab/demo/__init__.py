"""The TechHeaven demo store: catalogue, deterministic generator and measurements."""
