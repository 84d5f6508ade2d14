"""Run nginx (Debian package ``nginx``) as a reverse proxy in front of given backends."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.lb_cpu import started

CONFIG = """\
worker_processes {workers};
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream backends {{
{servers}
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
        }}
    }}
}}
"""


def require_nginx() -> str:
    """Return nginx's path, or exit with how to install it."""
    path = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if path is None:
        raise SystemExit("nginx is needed: apt-get install nginx")
    return path


@contextmanager
def nginx(port: int, backends: list[str], *, workers: str = "auto") -> Iterator[int]:
    """Run nginx on ``port`` in front of ``backends`` (``host:port``); yield its master's pid."""
    folder = Path(tempfile.mkdtemp(prefix="mcsim-nginx-"))
    folder.chmod(0o755)
    servers = "\n".join(f"        server {backend};" for backend in backends)
    config = folder / "nginx.conf"
    config.write_text(CONFIG.format(folder=folder, port=port, servers=servers, workers=workers))
    try:
        with started(
            [require_nginx(), "-c", str(config)], health_url=f"http://127.0.0.1:{port}/health"
        ) as pid:
            yield pid
    finally:
        shutil.rmtree(folder, ignore_errors=True)
