"""Global identities across cameras, visits and zone dwell, the daily reset."""
