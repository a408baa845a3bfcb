"""Reads: what a user may see, shaped for the API and the web pages."""
