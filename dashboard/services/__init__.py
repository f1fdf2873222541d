"""Business logic. Nothing in this package imports streamlit: services take a Session and plain values."""
