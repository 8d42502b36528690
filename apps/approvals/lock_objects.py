"""Row locks for approvals. They come after the order in the project-wide lock order (see
apps.orders.lock_objects): every approval write locks the order first, then its request."""
from .errors import ApprovalNotFound
from .models import ApprovalRequest


def lock_request(request_id: int) -> ApprovalRequest:
    request = ApprovalRequest.objects.select_for_update(of=("self",)).filter(pk=request_id).first()
    if request is None:
        raise ApprovalNotFound(details={"request_id": request_id})
    return request


def lock_pending_requests_of(order) -> list[ApprovalRequest]:
    return list(ApprovalRequest.objects.select_for_update(of=("self",))
                .filter(order=order, state=ApprovalRequest.State.PENDING).order_by("pk"))
