"""`vqcodec bench`: measurements against baselines, and their plots (an optional extra; the codec never imports it)."""
