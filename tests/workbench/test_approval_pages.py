"""The manager's approval inbox and detail pages: scope, roles, actions, CSRF, query counts."""
import pytest
from django.test import Client
from django.urls import reverse

from apps.approvals.models import ApprovalDecision, ApprovalRequest
from apps.orders.models import Order
from tests.approvals.test_approvals import Team
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return Team()


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def inbox(tab="mine"):
    return reverse("workbench:approval-inbox") + f"?tab={tab}"


def test_login_page_and_home(team):
    client = Client()
    assert client.get("/").status_code == 302
    page = client.get(reverse("workbench:login"))
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()
    response = client.post(reverse("workbench:login"), {"username": "wang", "password": "test-pass-123"})
    assert response.status_code == 302 and response["Location"] == reverse("workbench:home")
    home = client.get("/").content.decode()
    assert reverse("workbench:approval-inbox") in home


def test_the_inbox_lists_what_waits_for_me_in_my_shops_only(team):
    mine = team.order("8000.00")
    big = team.order("80000.00")
    page = browser(team.wang).get(inbox()).content.decode()
    assert mine.external_id in page and big.external_id in page
    assert "区域经理审批" in page and "双经理会签" in page
    outsider_page = browser(team.outsider).get(inbox("pending")).content.decode()
    assert mine.external_id not in outsider_page and big.external_id not in outsider_page
    # The director is nobody's signer yet and approves for no shop.
    assert mine.external_id not in browser(team.director).get(inbox()).content.decode()


def test_the_inbox_runs_a_fixed_number_of_queries(team, django_assert_max_num_queries):
    for amount in ("8000.00", "9000.00", "80000.00"):
        team.order(amount)
    client = browser(team.wang)
    client.get(inbox())  # warm the session and permission caches
    with django_assert_max_num_queries(14) as captured:
        client.get(inbox())
    few = len(captured)
    for amount in ("8100.00", "8200.00", "8300.00", "90000.00"):
        team.order(amount)
    with django_assert_max_num_queries(few):
        client.get(inbox())


def test_detail_shows_the_approvers_context(team):
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    page = browser(team.wang).get(reverse("workbench:approval-detail", args=[request.pk])).content.decode()
    for text in ("金额 8000.00 大于 5000.00", "信用评分 60 低于 90", "区域经理审批", "信用额度", "近 12 个月"):
        assert text in page
    assert 'name="comment"' in page and "approve/" in page


def test_out_of_scope_detail_and_actions_are_404(team):
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    client = browser(team.outsider)
    assert client.get(reverse("workbench:approval-detail", args=[request.pk])).status_code == 404
    response = client.post(reverse("workbench:approval-act", args=[request.pk, "approve"]), {"comment": "ok"})
    assert response.status_code == 404
    assert not ApprovalDecision.objects.exists()


@pytest.mark.parametrize("role, status", [("cs_agent", 403), ("warehouse_clerk", 403), ("warehouse_lead", 403),
                                          ("cs_lead", 200), ("finance", 200), ("manager", 200)])
def test_which_roles_open_the_inbox(team, role, status):
    assert browser(make_user(role)).get(inbox()).status_code == status


def test_approving_from_the_page(team):
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    step = request.steps.get()
    client = browser(team.li)
    act = reverse("workbench:approval-act", args=[request.pk, "approve"])
    response = client.post(act, {"comment": "", "step_id": step.pk}, follow=True)
    assert '<li class="error">' in response.content.decode()  # the coded error, shown as a message
    assert not ApprovalDecision.objects.exists()
    client.post(act, {"comment": "同意发货", "step_id": step.pk})
    assert Order.objects.get(pk=order.pk).status == "ready"
    # A second answer to the same step is refused with a message, nothing changes.
    response = browser(team.wang).post(act, {"comment": "我也同意", "step_id": step.pk}, follow=True)
    assert ApprovalDecision.objects.count() == 1
    assert '<li class="error">' in response.content.decode()


def test_actions_need_the_csrf_token(team):
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.wang)
    response = client.post(reverse("workbench:approval-act", args=[request.pk, "approve"]), {"comment": "ok"})
    assert response.status_code == 403
    assert not ApprovalDecision.objects.exists()
