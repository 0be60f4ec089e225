# The Python tomodachi twin of examples/static_service.rs (tests/it/static_files.rs compares the
# two): the folder comes from $STATIC_DIR (upstream resolves a relative folder against this
# file's directory, and the test runs a copy of this file in a temporary folder), the port from
# $HTTP_PORT; $OUT_FILE.ready is created once the service accepts requests.
import os
import pathlib

import tomodachi


class StaticService(tomodachi.Service):
    name = "static-service"
    options = tomodachi.Options(http=tomodachi.Options.HTTP(port=int(os.environ.get("HTTP_PORT", "0"))))

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
