"""nginx (Debian's package) on loopback, round-robin over ``review serve`` replicas.

No sticky sessions: every request may go to any replica (logins live in the database).
The configuration is the one a deployment needs, with temporary paths:

* ``proxy_set_header Host $http_host``: the app checks ``Origin`` against the ``Host`` it
  is served under;
* ``X-Forwarded-For $remote_addr``: nginx replaces whatever the client sent with the address
  it saw; uvicorn, which trusts a proxy on 127.0.0.1 (``FORWARDED_ALLOW_IPS`` for one
  elsewhere), takes the client's address from it for the login throttle, so a client cannot
  forge or add addresses of its own (appending, ``$proxy_add_x_forwarded_for``, would let a
  client on the proxy's own host rotate addresses);
* ``proxy_buffering off``: answers go to the client as they come;
* upstream keep-alive connections closed by nginx after 4 s, before uvicorn's own 5 s
  timeout, so nginx never sends a request on a connection uvicorn is closing (a 502);
* ``X-Review-Upstream``: which replica answered (for tests and benchmarks).

Example::

    with nginx_proxy(["http://127.0.0.1:7861/", "http://127.0.0.1:7862/"]) as proxy:
        httpx.get(proxy.url + "api/v1/health")
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

NGINX_CONF = """\
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream review {{
        {servers}
        keepalive 64;
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        location / {{
            proxy_pass http://review;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
            add_header X-Review-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """The nginx executable, or None when it is not installed."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


@dataclass
class Proxy:
    url: str
    pids: list[int] = field(default_factory=list)  # master and worker, for CPU figures


@contextmanager
def nginx_proxy(bases: list[str]) -> Iterator[Proxy]:
    """nginx on a free loopback port in front of ``bases``; stopped on exit."""
    import httpx
    import psutil

    from benchmarks.serving import _free_port

    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
    port = _free_port()
    servers = "\n        ".join(f"server {base.split('//')[1].rstrip('/')};" for base in bases)
    with tempfile.TemporaryDirectory(prefix="review-nginx-") as folder:
        conf = Path(folder) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(folder=folder, servers=servers, port=port))
        process = subprocess.Popen([binary, "-p", folder, "-c", str(conf), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        proxy = Proxy(url=f"http://127.0.0.1:{port}/")
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {process.stderr.read()[-2000:]}")
                try:
                    httpx.get(proxy.url + "api/v1/health", timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not answer within 30 s") from None
                    time.sleep(0.1)
            proxy.pids = [process.pid, *(c.pid for c in psutil.Process(process.pid).children())]
            yield proxy
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
