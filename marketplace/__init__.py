"""The two-sided market: accounts, datasets, tasks, orders, wallet and ledger, API and web UI."""
