#!/usr/bin/env python3
"""An SMTP server for the tests (aiosmtpd): every message it accepts is appended to --out as one
JSON line (sender, recipients, subject, body, Message-ID). With --fail-first N it answers the first
N messages with a temporary failure (451), as a busy mail server does; with --refuse it answers every
message with a permanent one (550), as for an address that does not exist.

    smtp-sink.py --port PORT --out FILE [--fail-first N] [--refuse]
Prints "listening" once it accepts connections.
"""
import argparse
import email
import email.policy
import json
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, fail_first, refuse):
        self.out = out
        self.fail_left = fail_first
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "body": body.get_content() if body else "",
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 2.0.0 Ok: queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--refuse", action="store_true")
    a = p.parse_args()
    controller = Controller(Sink(a.out, a.fail_first, a.refuse), hostname="127.0.0.1", port=a.port)
    controller.start()
    print("listening", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
