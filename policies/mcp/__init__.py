"""gqlgov as an MCP server: the agent's governed way in, as tools (tools.py) served over Streamable
HTTP at /mcp by the official SDK (server.py) from the production WSGI server (views.py)."""
