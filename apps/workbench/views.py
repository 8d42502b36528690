"""Role pages. Views only read through selectors and write through services; a coded error
becomes a message on the page."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.approvals import selectors as approval_selectors
from apps.approvals import services as approval_services
from apps.core.errors import DomainError

from .menu import menu_for

INBOX_PAGE_SIZE = 25


def pager_query(request) -> str:
    """The page's query string without its page number, for the pager's links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


class UncountedPage:
    """A page of a list too long to count on every request (an agent's open orders over a million
    rows: COUNT(*) alone took 0.4 s). It reads one row more than it shows to know whether another
    page follows; the pager then says "page N" without "of M"."""

    paginator = None

    def __init__(self, queryset, number, per_page: int):
        try:
            self.number = max(1, int(number or 1))
        except (TypeError, ValueError):
            self.number = 1
        start = (self.number - 1) * per_page
        rows = list(queryset[start:start + per_page + 1])
        self.object_list = rows[:per_page]
        self._has_next = len(rows) > per_page

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    def has_next(self):
        return self._has_next

    def has_previous(self):
        return self.number > 1

    def has_other_pages(self):
        return self.has_next() or self.has_previous()

    def next_page_number(self):
        return self.number + 1

    def previous_page_number(self):
        return self.number - 1


@login_required
def home(request):
    return render(request, "workbench/home.html", {"menu": menu_for(request.user)})


@login_required
@permission_required("approvals.view_approvalrequest", raise_exception=True)
def approval_inbox(request):
    tab = request.GET.get("tab", "mine")
    if tab not in approval_selectors.INBOX_TABS:
        tab = "mine"
    page = Paginator(approval_selectors.approval_inbox(user=request.user, tab=tab), INBOX_PAGE_SIZE).get_page(
        request.GET.get("page"))
    counts = approval_selectors.inbox_counts(user=request.user)
    return render(request, "workbench/manager/approval_inbox.html",
                  {"tab": tab, "page": page, "counts": counts, "now": timezone.now(),
                   "pager_query": pager_query(request)})


@login_required
@permission_required("approvals.view_approvalrequest", raise_exception=True)
def approval_detail(request, request_id):
    try:
        approval = approval_selectors.approval_detail(user=request.user, request_id=request_id)
    except DomainError:
        raise Http404 from None
    return render(request, "workbench/manager/approval_detail.html", {
        "approval": approval,
        "order": approval.order,
        "context": approval_selectors.approval_context(approval),
        "actions": approval_selectors.actions_for(approval, request.user),
        "candidates": approval_selectors.signer_candidates(approval),
        "now": timezone.now(),
    })


ACTIONS = {
    "approve": lambda rid, user, post: approval_services.approval_decide(
        request_id=rid, actor=user, outcome="approve", comment=post.get("comment", ""), step_id=_int(post, "step_id")),
    "reject": lambda rid, user, post: approval_services.approval_decide(
        request_id=rid, actor=user, outcome="reject", comment=post.get("comment", ""), step_id=_int(post, "step_id")),
    "delegate": lambda rid, user, post: approval_services.approval_delegate(
        request_id=rid, actor=user, to_user_id=_int(post, "user"), comment=post.get("comment", "")),
    "transfer": lambda rid, user, post: approval_services.approval_delegate(
        request_id=rid, actor=user, to_user_id=_int(post, "user"), comment=post.get("comment", ""), transfer=True),
    "add-signer": lambda rid, user, post: approval_services.approval_add_signer(
        request_id=rid, actor=user, user_id=_int(post, "user"), comment=post.get("comment", "")),
    "withdraw": lambda rid, user, post: approval_services.approval_withdraw(
        request_id=rid, actor=user, reason=post.get("comment", "")),
}
DONE_MESSAGES = {
    "approve": _("Approved."),
    "reject": _("Rejected; the order is cancelled."),
    "delegate": _("Delegated."),
    "transfer": _("Transferred."),
    "add-signer": _("Signer added."),
    "withdraw": _("Request withdrawn; the order is cancelled."),
}


@login_required
@permission_required("approvals.view_approvalrequest", raise_exception=True)
@require_POST
def approval_act(request, request_id, act):
    if act not in ACTIONS:
        raise Http404
    try:
        approval_selectors.ensure_in_scope(user=request.user, request_id=request_id)  # out of scope: 404
    except DomainError:
        raise Http404 from None
    try:
        ACTIONS[act](request_id, request.user, request.POST)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, DONE_MESSAGES[act])
    return redirect("workbench:approval-detail", request_id=request_id)


def _int(post, name) -> int | None:
    try:
        return int(post.get(name, ""))
    except ValueError:
        return None
