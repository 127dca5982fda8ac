"""Where orders go: one connector interface for every venue, encrypted credentials, throttling
and the domain errors exchanges are mapped to."""
