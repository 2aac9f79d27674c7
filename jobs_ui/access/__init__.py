"""Who is asking, and what they may do: principals, credentials, limits, the request guard."""
