"""Market mechanisms beyond lift pricing: Agarwal–Dahleh–Sarkar's truthful auction.

:mod:`~pricing.mechanisms.myerson` charges a buyer the Myerson payment RF* for the gain curve
of their task; :mod:`~pricing.mechanisms.mwu` learns the posted price with multiplicative
weights. The revenue they produce is split with :func:`pricing.settlement.settle`.
"""
