#!/usr/bin/env python3
"""Tiny bounded HTTP server for the doctor tests (loopback only).

  httpd.py PORT DIR [MODE]     (PORT 0: the kernel picks a free port; the
                                port is printed on stdout once listening)
MODE: serve (default: files of DIR with CDP content types), redirect (every
GET redirects to itself: a loop), endless (200 with an endless body), stall
(accepts, never answers), html (200 text/html page), 404 (everything 404),
skew (serve, but with a Date header two hours behind).
The process exits by itself after 120 s so a crashed test leaves nothing behind.
"""
import http.server, os, socketserver, sys, threading, time

port, root = int(sys.argv[1]), sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "serve"
TYPES = {".crl": "application/pkix-crl", ".crt": "application/pkix-cert"}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def date_time_string(self, timestamp=None):
        if mode == "skew":
            timestamp = time.time() - 7200
        return super().date_time_string(timestamp)

    def do_GET(self):
        if mode == "stall":
            time.sleep(60)
            return
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.end_headers()
            chunk = b"\x30" * 65536
            try:
                while True:
                    self.wfile.write(chunk)
            except Exception:
                return
        if mode == "html":
            body = b"<html><body>It works!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = os.path.normpath(os.path.join(root, self.path.lstrip("/")))
        if mode == "404" or not path.startswith(os.path.abspath(root)) or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", TYPES.get(os.path.splitext(path)[1], "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


root = os.path.abspath(root)
srv = S(("127.0.0.1", port), H)
print(srv.server_address[1], flush=True)
threading.Timer(120, lambda: os._exit(0)).start()
srv.serve_forever()
