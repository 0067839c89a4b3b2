"""Web tier: FastAPI app, routes, reply dispatcher."""
