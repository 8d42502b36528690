"""`manage.py import_legacy customers FILE [--dry-run]`: the same import as the admin's, from the shell."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.imports.services import IMPORTERS, import_file


class Command(BaseCommand):
    help = "Import a legacy spreadsheet (.xlsx, .xls, .csv): all rows or none; --dry-run only reports."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(IMPORTERS))
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--errors-to", type=Path, help="write the error report (.xlsx) here")

    def handle(self, *args, kind, file, dry_run, errors_to, **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        try:
            report = import_file(kind=kind, content=file.read_bytes(), filename=file.name, dry_run=dry_run)
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        self.stdout.write(f"{file.name}: {report.rows} rows - new {report.new}, updated {report.updated}, "
                          f"unchanged {report.unchanged}, rows with errors {report.error_rows}")
        for error in report.errors[:50]:
            self.stdout.write(f"  row {error.row} {error.column}: {error.message}")
        if errors_to and report.errors:
            from apps.imports.services import error_report_xlsx

            errors_to.write_bytes(error_report_xlsx(report))
            self.stdout.write(f"error report: {errors_to}")
        if report.errors:
            raise CommandError("nothing was imported: fix the rows above and import the file again")
        self.stdout.write(self.style.SUCCESS("dry run: nothing written" if dry_run else "imported"))
