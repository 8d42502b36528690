"""`manage.py run_fake_carrier --port 8765`: the local fake of the seven carriers, for the demo.

The carriers' API addresses default to http://127.0.0.1:8765/<code> (fixtures/carriers/), so with
the default port the demo requests e-waybills from it without further setup.
"""
from django.core.management.base import BaseCommand

from apps.fulfillment.fake_carrier import CARRIER_CODES, FakeCarrierServer


class Command(BaseCommand):
    help = "Serve the fake carrier API (SF, ZTO, YTO, Yunda, J&T, Deppon, EMS) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args, host, port, **options):
        server = FakeCarrierServer(host, port)
        self.stdout.write(f"Fake carrier on {server.url}; a carrier's API address is {server.url}/<code>:")
        for code in CARRIER_CODES:
            self.stdout.write(f"  {code:<7} {server.base_url(code)}")
        self.stdout.write("Ctrl-C stops it.")
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
