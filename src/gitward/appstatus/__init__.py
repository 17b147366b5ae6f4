"""Status (pure): aggregate sync and health, conditions, history into the Application's status."""
