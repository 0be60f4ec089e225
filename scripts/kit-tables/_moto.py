"""A real moto server on a free loopback port, for the kit-table scripts (from the project's
.venv, next to the running Python)."""
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

MOTO = pathlib.Path(sys.executable).parent / "moto_server"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto():
    """Starts moto_server; returns (process, endpoint URL). Terminate the process when done."""
    port = free_port()
    proc = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("moto_server did not start")
