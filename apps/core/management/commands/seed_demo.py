"""`manage.py seed_demo`: fill the database with a reproducible demo (logic in apps.core.demo)."""
import time

from django.core.management.base import BaseCommand, CommandError

from apps.core import demo


class Command(BaseCommand):
    help = "Create demo warehouses, shops, SKUs, customers, orders with their stock, and one user per role."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="random seed (default %(default)s)")
        parser.add_argument("--anchor", help="ISO date the history ends at (default: today, midnight Asia/Shanghai)")
        parser.add_argument("--orders", type=int, default=demo.DEFAULT_ORDERS)
        parser.add_argument("--customers", type=int, default=demo.DEFAULT_CUSTOMERS)
        parser.add_argument("--skus", type=int, default=demo.DEFAULT_SKUS)
        parser.add_argument("--reset", action="store_true", help="delete the demo data first and build it again")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="where the server will answer, for the addresses printed (default %(default)s)")

    def handle(self, *args, **opts):
        password = demo.demo_password()
        started = time.perf_counter()
        try:
            anchor = demo.parse_anchor(opts["anchor"])
            result = demo.seed_demo(
                demo.DemoOptions(
                    seed=opts["seed"], anchor=anchor, orders=opts["orders"],
                    customers=opts["customers"], skus=opts["skus"], password=password,
                ),
                reset=opts["reset"],
            )
        except demo.DemoError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started

        if result is None:
            self.stdout.write("demo data already present (use --reset to rebuild it)")
        else:
            summary = ", ".join(f"{n} {name}" for name, n in result.counts.items())
            self.stdout.write(self.style.SUCCESS(
                f"Demo data created in {elapsed:.1f} s (seed {opts['seed']}, anchor {anchor:%Y-%m-%d %H:%M %Z})"
            ))
            self.stdout.write(f"  {summary}")
            self.stdout.write("  stock: " + ", ".join(f"{n} {name}" for name, n in result.stock.items()))
        self.print_logins(password)
        base = opts["base_url"].rstrip("/")
        self.stdout.write(f"\n  Admin:    {base}/admin/  (staff roles: admin, manager, leads)"
                          f"\n  API:      {base}/api/v1/orders/  (every role; log in at /api/auth/login/)"
                          f"\n  API docs: {base}/api/docs/")
        if result is not None:
            self.stdout.write("\nShop API tokens (shown only now; send as 'Authorization: Bearer <token>'):")
            for code, raw in result.tokens:
                self.stdout.write(f"  {code:<12} {raw}")
        else:
            self.stdout.write("\nShop API tokens were shown when the demo was created; --reset makes new ones.")

    def print_logins(self, password):
        shown = "$DEMO_PASSWORD" if password != demo.DEFAULT_PASSWORD else password
        self.stdout.write("\nLogins:")
        self.stdout.write(f"  {'role':<16} {'username':<16} {'password':<14} sees")
        for role, username, scope in demo.login_rows():
            self.stdout.write(f"  {role:<16} {username:<16} {shown:<14} {scope}")
