"""Reusable Streamlit widgets and the page registry."""
