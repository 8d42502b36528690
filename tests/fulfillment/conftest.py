import socket
import threading

import pytest

from apps.fulfillment.fake_carrier import FakeCarrierServer
from apps.fulfillment.models import Carrier

from tests.fulfillment.factories import configure_accounts


@pytest.fixture(scope="session")
def fake_carrier_server():
    """The fake carrier on 127.0.0.1 with a port the OS picks, for the whole run."""
    server = FakeCarrierServer("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def fake_carrier(db, fake_carrier_server):
    """Every carrier pointed at the running fake, with the company's accounts filled in."""
    for code in Carrier.objects.values_list("code", flat=True):
        Carrier.objects.filter(code=code).update(api_base_url=fake_carrier_server.base_url(code))
    configure_accounts()
    return fake_carrier_server


@pytest.fixture
def closed_port_url():
    """An address where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_server_url():
    """A server that accepts the connection and the request but never answers (a carrier that hangs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held, stop = [], threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    sock.close()
