"""`jobs-ui`: imports and exports from a terminal, a script or CI, with a live progress bar.

Built on `jobs_ui.client` alone (the same follower the pages use: SSE, falling back to
polling by itself). `main` holds the commands, `session` the server address, credentials
and the kept visitor cookie, `display` the live bar and the plain lines, `outcome` the
summary of a finished job and the exit codes.
"""
