#!/usr/bin/env python3
"""moto_server for the tests, with DynamoDB's atomicity.

moto serves each request on its own thread and does not make a conditional write atomic: two
`UpdateItem`s with `attribute_not_exists(...)` sent at the same moment can both succeed. DynamoDB
documents that a conditional write is atomic, and the project's limits and version checks rely on
that, so the tests run moto's own WSGI application here with one lock around every DynamoDB write
(reads, SQS and the rest stay concurrent, as moto_server runs them). Usage is moto_server's:
-H HOST -p PORT.
"""
# The DynamoDB operations that change items.
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
import argparse
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    moto_app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_") and target.rsplit(".", 1)[-1] in WRITES:
            with lock:
                # The whole answer is made under the lock, so the write it reports is complete.
                return list(moto_app(environ, start_response))
        return moto_app(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
