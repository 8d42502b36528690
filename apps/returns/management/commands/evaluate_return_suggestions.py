"""`manage.py evaluate_return_suggestions`: how often the suggested reasons hold the reason buyers
actually chose, on the latest part of the recorded returns (apps.returns.suggestions.evaluate)."""
import json
import time

from django.core.management.base import BaseCommand, CommandError

from apps.returns.models import ReturnRequest
from apps.returns.suggestions import evaluate


class Command(BaseCommand):
    help = "Top-1/top-3 accuracy of suggested return reasons on the latest requests, held out."

    def add_arguments(self, parser):
        parser.add_argument("--split", type=float, default=0.8,
                            help="share of requests (oldest first) used as history (default %(default)s)")

    def handle(self, *args, **opts):
        if not 0 < opts["split"] < 1:
            raise CommandError("--split must be between 0 and 1")
        requests = list(ReturnRequest.objects.select_related("order").prefetch_related("lines"))
        started = time.perf_counter()
        result = evaluate(requests, split=opts["split"])
        result["seconds"] = round(time.perf_counter() - started, 2)
        self.stdout.write(json.dumps(result))
