"""Why a whole file is refused before any row is looked at: one clear message, nothing written."""
from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError


class ImportFileError(DomainError):
    code = "import_file_invalid"
    http_status = 400
    default_message = _("The file cannot be imported.")


class UnsupportedFileType(ImportFileError):
    code = "unsupported_file_type"
    default_message = _("Upload an .xlsx, .xls or .csv file.")


class EncryptedWorkbook(ImportFileError):
    code = "encrypted_workbook"
    default_message = _("The workbook is password-protected: save it without a password and upload it again.")


class EmptyFile(ImportFileError):
    code = "empty_file"
    default_message = _("The file is empty.")


class UnreadableFile(ImportFileError):
    code = "unreadable_file"
    default_message = _("The file cannot be read as a spreadsheet: is it really .xlsx, .xls or .csv?")


class NoHeaderRow(ImportFileError):
    code = "no_header_row"
    default_message = _("No header row was recognised in the first 10 rows (expected columns such as %(columns)s).")
