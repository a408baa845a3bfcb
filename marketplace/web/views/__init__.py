"""The pages, one module per area; each view reads through selectors, writes through
services, and renders a template under ``web/``."""
