"""Pricing: money in integer cents, quotes, payout splits and market mechanisms.

The modules of this package are pure (no Django); the Django side lives in the app files
(``apps.py``, ``models.py``) and only where something must persist.
"""
