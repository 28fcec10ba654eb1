"""polyvec backends: one module per database, imported on first use."""
