"""Launch the Streamlit dashboard (``app_streamlit/app.py``) against an mcvision API.

The dashboard reads only the HTTP API; this module finds the app and runs
``streamlit run`` headless with ``MCVISION_API_URL`` set.

Example:
    >>> argv, env = dashboard_command("http://127.0.0.1:8000", port=8501)
    >>> argv[1:4], env["MCVISION_API_URL"]
    (['-m', 'streamlit', 'run'], 'http://127.0.0.1:8000')
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["API_ENV", "APP_ENV", "dashboard_command", "find_app", "run_dashboard"]

API_ENV = "MCVISION_API_URL"
APP_ENV = "MCVISION_DASHBOARD_APP"


def find_app() -> Path:
    """The dashboard's ``app.py``: ``$MCVISION_DASHBOARD_APP``, else ``app_streamlit/app.py``
    of the source checkout this package runs from, else of the current directory.

    Raises:
        FileNotFoundError: none of them exists (the message lists where it looked).
    """
    env = os.environ.get(APP_ENV)
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[2] / "app_streamlit" / "app.py",
        Path.cwd() / "app_streamlit" / "app.py",
    ]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"the dashboard app was not found (looked at {looked}); run from a source checkout "
        f"or set {APP_ENV} to the path of app_streamlit/app.py"
    )


def dashboard_command(
    api_url: str, port: int = 8501, host: str = "127.0.0.1"
) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` command line and environment for the dashboard.

    Raises:
        ValueError: an API URL that is not http(s), or a port outside 1..65535.
        FileNotFoundError: the app is missing (see :func:`find_app`).
    """
    if not isinstance(api_url, str) or not api_url.startswith(("http://", "https://")):
        raise ValueError(f"api_url must start with http:// or https://, got {api_url!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    if not host:
        raise ValueError("host must not be empty")
    app = find_app()
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless=true",
        f"--server.port={port}",
        f"--server.address={host}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--global.developmentMode=false",
        "--client.toolbarMode=viewer",
    ]
    env = {
        **os.environ,
        API_ENV: api_url.rstrip("/"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    return argv, env


def run_dashboard(api_url: str, port: int = 8501, host: str = "127.0.0.1") -> int:
    """Run the dashboard until it exits or Ctrl-C; returns its exit status.

    Args:
        api_url: base URL of the mcvision HTTP API, e.g. ``http://127.0.0.1:8000``.
        port: port of the dashboard.
        host: address to listen on (``0.0.0.0`` to reach it from other machines).
    """
    argv, env = dashboard_command(api_url, port, host)
    print(f"mcvision dashboard on http://{host}:{port} (API {env[API_ENV]})", file=sys.stderr)
    proc = subprocess.Popen(argv, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
