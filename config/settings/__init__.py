"""Settings package: ``base`` holds everything; ``local``, ``test`` and ``production`` adjust it.

Every setting comes from the environment with a safe local default (see ``.env.example``).
"""
