"""volunteers package."""
