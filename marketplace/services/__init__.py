"""Business logic that writes: one module per area, functions named ``<entity>_<action>``."""
