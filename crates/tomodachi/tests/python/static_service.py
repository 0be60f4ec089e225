# The Python tomodachi twin of examples/static_service.rs (tests/it/static_files.rs compares the
# two): the folder comes from $STATIC_DIR (upstream resolves a relative folder against this
# file's directory, and the test runs a copy of this file in a temporary folder), the port from
# $HTTP_PORT; $OUT_FILE.ready is created once the service accepts requests. benches/static_compare.sh
# runs it too, with $HTTP_ACCESS_LOG (1, as upstream's default, or 0) and $HTTP_KEEPALIVE_TIMEOUT
# (seconds, 0 = keep-alive off as upstream's default).
import os
import pathlib

import tomodachi


class StaticService(tomodachi.Service):
    name = "static-service"
    options = tomodachi.Options(
        http=tomodachi.Options.HTTP(
            host="127.0.0.1",
            port=int(os.environ.get("HTTP_PORT", "0")),
            access_log=os.environ.get("HTTP_ACCESS_LOG", "1") != "0",
            keepalive_timeout=int(os.environ.get("HTTP_KEEPALIVE_TIMEOUT", "0")),
        )
    )

    @tomodachi.http_static(os.environ["STATIC_DIR"], r"/static/")
    async def static_files(self) -> None:
        pass

    @tomodachi.http_static(os.environ["STATIC_DIR"], r"/download/(?P<filename>[^/]+?)/image")
    async def download(self) -> None:
        pass

    @tomodachi.http_error(status_code=404)
    async def error_404(self, request):
        return "error 404"

    async def _started_service(self) -> None:
        out = os.environ.get("OUT_FILE")
        if out:
            pathlib.Path(out + ".ready").touch()
