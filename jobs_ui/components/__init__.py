"""Small, reusable page parts. Each is a plain function; see the README's Extending section."""
