"""Running jobs: the store of job rows, the access decisions, the runners and what they run."""
