"""`vqcodec bench`: measurements against baselines, and their plots; an optional extra, never imported by the codec path."""
