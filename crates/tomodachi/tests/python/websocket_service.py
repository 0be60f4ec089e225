"""The Python tomodachi equivalent of examples/websocket_service.rs, for the websocket parity
test and the websocket benchmark: a chat-room echo on `/websocket/<room>` (each text message
`t` is answered with `"<room>: <t>"`), a close callback counting closed sockets, and
`GET /stats` with `{"opened": ..., "closed": ...}`.

HTTP_PORT  the port (default 9703), on 127.0.0.1
OUT_FILE   if set: OUT_FILE.ready is created once the service started
"""
import json
import os

import tomodachi


class WebsocketService(tomodachi.Service):
    name = "websocket-service"
    options = tomodachi.Options(
        http=tomodachi.Options.HTTP(port=int(os.environ.get("HTTP_PORT", "9703")), host="127.0.0.1")
    )
    opened = 0
    closed = 0

    @tomodachi.websocket(r"/websocket/(?P<room>[^/]+?)")
    async def chat(self, websocket, request, room):
        self.opened += 1

        async def _receive(data):
            await websocket.send_str("{}: {}".format(room, data))

        async def _close():
            self.closed += 1

        return _receive, _close

    @tomodachi.http("GET", r"/stats")
    async def stats(self, request):
        return json.dumps({"opened": self.opened, "closed": self.closed})

    async def _started_service(self):
        out = os.environ.get("OUT_FILE")
        if out:
            with open(out + ".ready", "w") as f:
                f.write("ready")
