"""HTTP routes: each module parses requests, calls the backend and serializes."""
