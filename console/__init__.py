"""The township console (issue 13, docs/console.md): web pages for the township, the village committees and
auditors, served by the same FastAPI application and database as the sync API.

``console.site.create_site`` is the whole server: the central record's API (``sync.server.app``) with
these pages at ``/`` and their static files at ``/static``. Pages are rendered on the server (``web``)
and call the central record's services (``pages``); nothing here writes SQL.
"""
