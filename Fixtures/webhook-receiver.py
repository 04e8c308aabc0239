#!/usr/bin/env python3
"""A webhook receiver for Depot's tests, on 127.0.0.1.

Records every POST (its headers and body) as one JSON line in LOG, in the order they arrive,
then answers as MODE says:
  ok             200
  fail-first:N   500 to the first N requests, then 200
  silent         never answers (holds the connection open)
  redirect       302 to another address
  huge           200 with a 50 MiB body
Prints its port on the first line of standard output.

usage: webhook-receiver.py MODE LOG [PORT]
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode, log_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()
received = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        global received
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            received += 1
            number = received
            with open(log_path, "a", encoding="utf-8") as log:
                headers = {name.lower(): value for name, value in self.headers.items()}
                record = {"number": number, "headers": headers, "body": body.decode("utf-8")}
                log.write(json.dumps(record) + "\n")
        if mode == "silent":
            time.sleep(3600)
        elif mode.startswith("fail-first:") and number <= int(mode.split(":")[1]):
            self.answer(500, b"not yet\n")
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(50 << 20))
            self.end_headers()
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(50):
                    self.wfile.write(chunk)
            except OSError:
                pass
        else:
            self.answer(200, b"ok\n")

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
