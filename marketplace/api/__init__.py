"""The REST API: thin views over the services and selectors, one module per area."""
