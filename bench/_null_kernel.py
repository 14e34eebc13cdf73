"""A do-nothing kernel: the ceiling the bench client can measure on this machine (`native.py --calibrate`).

It speaks just enough of the protocol for native.py's steps, with no IPython and no scheduling: each request gets
busy, its reply and idle; an execute also gets execute_input; a `print` loop becomes one stream message;
every comm_msg is echoed.  Whatever the bench reports for it is client, pyzmq and OS cost, not kernel cost.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import zmq
from _wire import Codec

PRINT_LOOP = re.compile(r"for i in range\((\d+)\): print\(i\)")


def main(connection_file: str) -> None:
    info = json.loads(Path(connection_file).read_text())
    codec = Codec(info["key"].encode(), info["signature_scheme"], "null")
    ctx = zmq.Context()
    url = f"{info['transport']}://{info['ip']}:"
    shell, control = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
    iopub, stdin, hb = ctx.socket(zmq.PUB), ctx.socket(zmq.ROUTER), ctx.socket(zmq.REP)
    for sock, port in (
        (shell, "shell_port"),
        (control, "control_port"),
        (iopub, "iopub_port"),
        (stdin, "stdin_port"),
        (hb, "hb_port"),
    ):
        sock.bind(url + str(info[port]))
    poller = zmq.Poller()
    for sock in (shell, control, hb):
        poller.register(sock, zmq.POLLIN)
    count = 0
    while True:
        for sock, _ in poller.poll():
            if sock is hb:
                hb.send(hb.recv())
                continue
            try:
                idents, msg = codec.decode(sock.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                continue
            kind = msg["msg_type"]

            def pub(msg_type: str, content: dict[str, Any], parent: dict[str, Any] = msg) -> None:
                iopub.send_multipart(codec.encode(msg_type, content, parent)[1])

            pub("status", {"execution_state": "busy"})
            reply: dict[str, Any] | None = {"status": "ok"}
            if kind == "execute_request":
                count += 1
                pub("execute_input", {"code": msg["content"]["code"], "execution_count": count})
                if m := PRINT_LOOP.fullmatch(msg["content"]["code"]):
                    pub("stream", {"name": "stdout", "text": "".join(f"{i}\n" for i in range(int(m[1])))})
                reply.update(execution_count=count, user_expressions={})
            elif kind == "complete_request":
                reply.update(matches=["print"], cursor_start=0, cursor_end=msg["content"]["cursor_pos"], metadata={})
            elif kind == "kernel_info_request":
                reply.update(
                    protocol_version="5.4",
                    implementation="null",
                    implementation_version="0",
                    language_info={"name": "python"},
                    banner="",
                )
            elif kind == "comm_msg":
                pub("comm_msg", {"comm_id": msg["content"]["comm_id"], "data": msg["content"]["data"]})
                reply = None
            elif kind in ("comm_open", "comm_close"):
                reply = None
            if reply is not None:
                sock.send_multipart(codec.encode(kind.replace("_request", "_reply"), reply, msg, idents)[1])
            pub("status", {"execution_state": "idle"})
            if kind == "shutdown_request":
                return


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("-f") + 1])
