"""The admin's legacy import: upload a file, see what it would change (counts, a preview, every
error by row and column), download the error report, confirm. Reads and writes through
apps.imports; a file that cannot be read is one message and nothing is kept."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.imports import selectors, services
from apps.imports.models import ImportJob
from apps.imports.progress import read_progress

IMPORT = "imports.add_importjob"


def _job_or_404(request, job_id):
    job = selectors.import_jobs(actor=request.user).filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job


@login_required
@permission_required(IMPORT, raise_exception=True)
def import_list(request):
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose a file."))
        else:
            try:
                job = services.import_check(kind=request.POST.get("kind", ""), upload=upload, actor=request.user)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                return redirect("workbench:import-detail", job_id=job.pk)
    jobs = selectors.import_jobs(actor=request.user)[:20]
    return render(request, "workbench/imports/import_list.html", {"jobs": jobs, "kinds": ImportJob.Kind.choices})


@login_required
@permission_required(IMPORT, raise_exception=True)
def import_detail(request, job_id):
    job = _job_or_404(request, job_id)
    columns, preview = selectors.preview_table(job)
    changes, changes_capped = selectors.changes_table(job)
    return render(request, "workbench/imports/import_detail.html",
                  {"job": job, "columns": columns, "preview": preview, "changes": changes,
                   "changes_capped": changes_capped, "progress": read_progress(job) if job.is_running else None})


@login_required
@permission_required(IMPORT, raise_exception=True)
def import_progress(request, job_id):
    """What the detail page polls while a large file is checked or imported."""
    return JsonResponse(read_progress(_job_or_404(request, job_id)))


@login_required
@permission_required(IMPORT, raise_exception=True)
@require_POST
def import_confirm(request, job_id):
    job = _job_or_404(request, job_id)
    try:
        job = services.import_confirm(job_id=job.pk, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if job.is_running:
            messages.info(request, _("The import has started; this page follows it."))
        elif job.status == ImportJob.Status.IMPORTED:
            messages.success(request, _("Imported: %(new)d new, %(updated)d updated, %(unchanged)d unchanged.")
                             % {"new": job.new, "updated": job.updated, "unchanged": job.unchanged})
        else:
            messages.error(request, _("Nothing was imported: the file has rows with errors."))
    return redirect("workbench:import-detail", job_id=job.pk)


@login_required
@permission_required(IMPORT, raise_exception=True)
def import_errors(request, job_id):
    job = _job_or_404(request, job_id)
    report = services.job_report(job)
    response = HttpResponse(services.error_report_xlsx(report),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.xlsx"'
    return response
