"""Calls of the chaos run to a stack whose processes are being killed are sent again."""

import socket
import threading

import httpx

from rosca.chaos.patience import PatientTransport

CUT_SHORT = b"HTTP/1.1 200 OK\r\nContent-Length: 59\r\n\r\n{"
UNAVAILABLE = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 2\r\n\r\n{}"
ANSWER = b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"ok": true}'


def serve(answers: list[bytes]) -> int:
    """A server giving each connection the next of ``answers``; returns its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(len(answers))

    def answer_each() -> None:
        for answer in answers:
            connection, _ = server.accept()
            connection.recv(65536)
            connection.sendall(answer)
            connection.close()
        server.close()

    threading.Thread(target=answer_each, daemon=True).start()
    port: int = server.getsockname()[1]
    return port


def test_an_answer_cut_short_and_a_502_are_asked_again_until_the_answer_comes() -> None:
    port = serve([CUT_SHORT, UNAVAILABLE, ANSWER])

    with httpx.Client(transport=PatientTransport()) as client:
        answer = client.post(f"http://127.0.0.1:{port}/onboarding/members", json={})

    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
