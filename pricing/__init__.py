"""Pricing: money in integer cents, quotes, payout splits and market mechanisms.

The modules of this package are pure (no Django, no ``valuation.core``): they take plain
numbers — contribution values with standard errors, lifts with intervals, coalition
utilities — and return JSON-serialisable results. The Django side lives in the app files
(``apps.py``, ``models.py``) and only where something must persist.

- ``money``: exact fractions, floored fees, the largest-remainder split.
- ``shares``: who is paid (harmful and null contributors are left out) and in what share.
- ``replication``: the Shapley-Robust near-duplicate penalty.
- ``settlement``: fee, payouts and withheld money for one charge, conserved to the cent.
- ``lift``: a bundle's lift over the baseline and its bootstrap interval.
- ``quote``: lift pricing with pruning, reserves and re-valuation; plain-language lines.
- ``bundle``: surplus-maximising bundle choice and the lift-versus-spend curve.
- ``arbitrage``: monotone/subadditive checks of posted bundle price lists.
- ``least_core``: certificate for least-core payoff vectors.
- ``mechanisms``: Myerson payment RF* and multiplicative-weights posted prices.

See ``docs/pricing.md`` for the policies in plain words.
"""
