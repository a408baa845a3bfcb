"""Template filters of the marketplace's web pages."""
