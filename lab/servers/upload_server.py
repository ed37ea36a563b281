#!/usr/bin/python3
"""Lab upload server (Python standard library only).

Runs in a real-server namespace next to nginx:
    /usr/bin/python3 upload_server.py --name rs1 [--port 8080] [--bind 0.0.0.0 | --bind ::]

POST /upload  reads the whole body (Content-Length or chunked) and answers
              "<name> <sha256hex> <length>\n".
GET (any path) answers "<name>\n".

It listens on 0.0.0.0 so it also answers on the VIP held on lo in DR mode.
One log line per request goes to stderr with the peer address and port.
"""

import argparse
import hashlib
import http.server
import signal
import socket
import sys

CHUNK = 64 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; also answers Expect: 100-continue
    server_version = "lab-upload"
    sys_version = ""

    def _reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/flap":
            # Alternates 200 and 503 on every request: a backend that flaps faster than any rise/fall.
            self.server.flaps = getattr(self.server, "flaps", 0) + 1
            self._reply(200 if self.server.flaps % 2 else 503, self.server.lab_name + "\n")
            return
        self._reply(200, self.server.lab_name + "\n")

    def do_HEAD(self):
        self._reply(200, self.server.lab_name + "\n")

    def _read_body(self, digest):
        """Feeds the request body to digest; returns its length, or None if malformed."""
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return None
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    # Trailers end with an empty line.
                    while True:
                        t = self.rfile.readline(8192)
                        if not t or t in (b"\r\n", b"\n"):
                            return total
                while size > 0:
                    data = self.rfile.read(min(CHUNK, size))
                    if not data:
                        return None
                    digest.update(data)
                    total += len(data)
                    size -= len(data)
                self.rfile.readline(8)  # CRLF after the chunk
        length = self.headers.get("Content-Length")
        if length is None:
            return 0
        try:
            remaining = int(length)
        except ValueError:
            return None
        while remaining > 0:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                return None
            digest.update(data)
            total += len(data)
            remaining -= len(data)
        return total

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path != "/upload":
            self.close_connection = True
            self._reply(404, "not found\n")
            return
        digest = hashlib.sha256()
        total = self._read_body(digest)
        if total is None:
            self.close_connection = True
            self._reply(400, "bad body\n")
            return
        self._reply(200, "%s %s %d\n" % (self.server.lab_name, digest.hexdigest(), total))

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s:%d %s\n" % (self.server.lab_name, self.client_address[0],
                                            self.client_address[1], fmt % args))
        sys.stderr.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class Server6(Server):
    """IPv6 only, so an IPv4 instance can hold 0.0.0.0 on the same port beside it."""
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="0.0.0.0")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with (Server6 if ":" in args.bind else Server)((args.bind, args.port), Handler) as srv:
        srv.lab_name = args.name
        sys.stderr.write("%s listening on %s:%d\n" % (args.name, args.bind, args.port))
        sys.stderr.flush()
        try:
            srv.serve_forever(poll_interval=0.5)
        except (KeyboardInterrupt, SystemExit):
            pass


if __name__ == "__main__":
    main()
