"""Make sure the local services a developer machine needs are up (used by ``make run`` / ``make test``).

RabbitMQ: if ``AMQP_URL`` points at this machine and nothing answers, start the locally installed
``rabbitmq-server -detached`` and wait for it; otherwise fail with a message saying how to get one.
MongoDB needs nothing here: without ``MONGO_URL`` the service and the tests start an embedded SecantusDB.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def _reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_rabbitmq(url: str, wait_s: float = 90.0) -> str:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if _reachable(host, port):
        return f"RabbitMQ reachable at {host}:{port}"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"RabbitMQ at {host}:{port} (AMQP_URL) is not reachable; start it or fix AMQP_URL")
    server = shutil.which("rabbitmq-server")
    if server is None:
        raise SystemExit(
            "RabbitMQ is not running on 127.0.0.1:5672 and is not installed here.\n"
            "  Debian/Ubuntu: sudo apt-get install rabbitmq-server && sudo rabbitmq-server -detached\n"
            "  Docker:        docker compose up -d rabbitmq\n"
            "  or set AMQP_URL to a broker you have."
        )
    subprocess.run([server, "-detached"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if _reachable(host, port):
            # the port opens slightly before the broker accepts logins; give it a moment to settle
            ctl = shutil.which("rabbitmq-diagnostics")
            if (
                ctl is None
                or subprocess.run([ctl, "-q", "check_running"], check=False, capture_output=True).returncode
                == 0
            ):
                return f"started RabbitMQ ({server} -detached)"
        time.sleep(1.0)
    raise SystemExit(f"started {server} -detached but nothing answered on {host}:{port} within {wait_s:.0f}s")


def main() -> int:
    print(ensure_rabbitmq(os.environ.get("AMQP_URL", DEFAULT_AMQP)))
    if os.environ.get("MONGO_URL"):
        print("MongoDB: using MONGO_URL")
    else:
        print("MongoDB: MONGO_URL unset, an embedded SecantusDB is started on demand")
    return 0


if __name__ == "__main__":
    sys.exit(main())
