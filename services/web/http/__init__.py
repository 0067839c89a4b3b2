"""The HTTP server (uvicorn, one process or several on one port) and its connection guard."""
