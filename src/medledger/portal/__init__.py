"""The patient's web page (`medledger portal`): who may see what, a timeline of every access,
grant / narrow / extend / revoke with the CLI's confirmation, break-glass preferences, records.

Starlette + Jinja2 pages rendered on the server, served by uvicorn on loopback; no script, no
request to any other site. See app.py for the pages, security.py and sessions.py for the wall.
"""

from medledger.portal.app import create_app
from medledger.portal.config import LOOPBACK_HOSTS, PortalConfig
from medledger.portal.server import PortalThread, serve

__all__ = ["LOOPBACK_HOSTS", "PortalConfig", "PortalThread", "create_app", "serve"]
