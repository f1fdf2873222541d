"""网格治理指挥平台 — grid governance dashboard."""
