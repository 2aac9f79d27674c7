"""Telling open streams about job changes: fan-out, the Redis relay, messages, SSE encoding."""
