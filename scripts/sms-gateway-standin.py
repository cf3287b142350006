#!/usr/bin/env python3
"""A stand-in for a Chinese SMS gateway's SendSms API, for the tests. It checks each request the way
the provider documents it — every required parameter, the key id, a fresh timestamp, a nonce never
seen before, the registered signature and templates, and the HMAC-SHA1 signature over
GET&%2F&<percent-encoded sorted query> with the key "<secret>&" — and appends each accepted message
to --out as one JSON line. Answers as the provider does: {"Code": "OK", "BizId": ...} or an error
code. With --fail-first N the first N valid requests get the provider's temporary error.

    sms-gateway-standin.py --port PORT --out FILE --key-id ID --secret SECRET --sign-name NAME
                           --templates CODE,CODE,... [--fail-first N]
Prints "listening" once it accepts connections.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUIRED = ["AccessKeyId", "Action", "Format", "PhoneNumbers", "SignName", "SignatureMethod", "SignatureNonce",
            "SignatureVersion", "TemplateCode", "TemplateParam", "Timestamp", "Version"]


def encode(text):
    # The documented rule: only A-Z a-z 0-9 - _ . ~ stay as they are.
    return urllib.parse.quote(text, safe="-_.~")


def signature(params, secret):
    query = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))
    to_sign = "GET&" + encode("/") + "&" + encode(query)
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def main():
    p = argparse.ArgumentParser()
    for name in ["--out", "--key-id", "--secret", "--sign-name", "--templates"]:
        p.add_argument(name, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fail-first", type=int, default=0)
    a = p.parse_args()
    templates = set(a.templates.split(","))
    lock = threading.Lock()
    state = {"fail_left": a.fail_first, "nonces": set(), "sent": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
            params = dict(pairs)
            if len(params) != len(pairs):
                return self.answer(400, {"Code": "isv.INVALID_PARAMETERS", "Message": "a parameter repeats"})
            given = params.pop("Signature", None)
            missing = [k for k in REQUIRED if not params.get(k)]
            if given is None or missing:
                return self.answer(400, {"Code": "MissingParameter", "Message": f"missing {missing or ['Signature']}"})
            if params["AccessKeyId"] != a.key_id:
                return self.answer(404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "unknown key"})
            if not hmac.compare_digest(given, signature(params, a.secret)):
                return self.answer(400, {"Code": "SignatureDoesNotMatch", "Message": "signature mismatch"})
            checks = {
                "Action": "SendSms", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Format": "JSON",
            }
            for k, v in checks.items():
                if params[k] != v:
                    return self.answer(400, {"Code": "isv.INVALID_PARAMETERS", "Message": f"{k} must be {v}"})
            when = datetime.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
            if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
                return self.answer(400, {"Code": "InvalidTimeStamp.Expired", "Message": "stale timestamp"})
            with lock:
                if params["SignatureNonce"] in state["nonces"]:
                    return self.answer(400, {"Code": "SignatureNonceUsed", "Message": "nonce used"})
                state["nonces"].add(params["SignatureNonce"])
                if params["SignName"] != a.sign_name:
                    return self.answer(400, {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "unregistered signature"})
                if params["TemplateCode"] not in templates:
                    return self.answer(400, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "unregistered template"})
                try:
                    template_params = json.loads(params["TemplateParam"])
                    assert isinstance(template_params, dict)
                except Exception:
                    return self.answer(400, {"Code": "isv.INVALID_JSON_PARAM", "Message": "TemplateParam"})
                if state["fail_left"] > 0:
                    state["fail_left"] -= 1
                    return self.answer(200, {"Code": "isp.SYSTEM_ERROR", "Message": "busy, try again"})
                state["sent"] += 1
                biz_id = f"{state['sent']:06d}^0"
                record = {"phone": params["PhoneNumbers"], "sign_name": params["SignName"],
                          "template": params["TemplateCode"], "params": template_params,
                          "out_id": params.get("OutId", ""), "biz_id": biz_id}
                with open(a.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
            return self.answer(200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": biz_id})

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
