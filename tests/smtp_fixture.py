"""Local SMTP servers on 127.0.0.1 for the publishing tests: one that accepts and records every
message with its envelope, one that trickles its greeting a byte at a time, and a port that
refuses connections."""

import socket
import socketserver
import threading
import time
from contextlib import contextmanager


class RecordingSMTPHandler(socketserver.StreamRequestHandler):
    """Accepts every command (but RCPT of an address in server.refuse); appends {"rcpt": [...],
    "data": text} per message to server.messages."""

    def handle(self):
        def send(line):
            self.wfile.write((line + "\r\n").encode())
        send("220 localhost test SMTP")
        data_mode, lines, rcpt = False, [], []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            if data_mode:
                if line == ".":
                    data_mode = False
                    self.server.messages.append({"rcpt": rcpt, "data": "\n".join(lines)})
                    lines, rcpt = [], []
                    send("250 OK")
                else:
                    lines.append(line)
                continue
            cmd = line.split(" ")[0].upper()
            if cmd in ("EHLO", "HELO"):
                send("250 localhost")
            elif cmd == "RCPT":
                address = line.split(":", 1)[1].strip().strip("<>")
                if address in getattr(self.server, "refuse", ()):
                    send("550 no such mailbox")
                else:
                    rcpt.append(address)
                    send("250 OK")
            elif cmd == "DATA":
                data_mode = True
                send("354 go ahead")
            elif cmd == "QUIT":
                send("221 bye")
                return
            else:
                send("250 OK")


class TricklingSMTPHandler(socketserver.StreamRequestHandler):
    """Sends its greeting one byte every 0.3 s (a per-read timeout never fires), for at most 30 s."""

    def handle(self):
        for ch in ("220 " + "x" * 100)[:100]:
            try:
                self.wfile.write(ch.encode())
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.3)


@contextmanager
def smtp_server(handler=RecordingSMTPHandler):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.messages = []
    server.refuse = set()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def refused_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
