"""Live run and task states pushed to the plugin's pages (Server-Sent Events from the api-server)."""
