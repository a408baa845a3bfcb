"""valuation.core — the pure data-valuation engine (numpy/scipy/scikit-learn; never Django)."""
