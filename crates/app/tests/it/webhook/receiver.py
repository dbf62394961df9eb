# A webhook receiver for the tests, independent of Postkorb's code: Python's standard library
# verifies the Standard Webhooks headers (HMAC-SHA256 over "{id}.{timestamp}.{body}" with the
# base64 key after "whsec_") and logs every request as one JSON line.
# Usage: receiver.py SECRET DIR — prints its port, answers 503 while DIR/down exists, 302 on
# /redirect, 200 otherwise; logs to DIR/log.jsonl.
import base64, hashlib, hmac, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET, DIR = sys.argv[1], sys.argv[2]
KEY = base64.b64decode(SECRET[len("whsec_"):])


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        wid = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        sig = self.headers.get("webhook-signature", "")
        mac = hmac.new(KEY, wid.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(mac).decode()
        valid = any(hmac.compare_digest(expected, s) for s in sig.split(" "))
        down = os.path.exists(os.path.join(DIR, "down"))
        status = 302 if self.path == "/redirect" else 503 if down else 200
        entry = {"path": self.path, "id": wid, "valid": valid, "status": status, "body": body.decode()}
        with open(os.path.join(DIR, "log.jsonl"), "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.send_response(status)
        if status == 302:
            self.send_header("location", "/hook")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
print(server.server_address[1], flush=True)
server.serve_forever()
