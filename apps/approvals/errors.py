from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class ApprovalNotFound(NotFound):
    code = "approval_not_found"
    default_message = _("No such approval request.")


class ApprovalNotPending(Conflict):
    code = "approval_not_pending"
    default_message = _("This approval request is already closed.")


class StepAlreadyDecided(Conflict):
    code = "approval_step_decided"
    default_message = _("This step has already been decided.")


class NotAnApprover(PermissionDenied):
    code = "not_an_approver"
    default_message = _("You are not a signer of this approval step.")


class SelfApproval(PermissionDenied):
    code = "self_approval"
    default_message = _("Nobody may approve an order they entered themselves.")


class IneligibleSigner(ValidationFailed):
    code = "ineligible_signer"
    default_message = _("That person cannot sign this step (inactive, no approval right, outside the shop, "
                        "or the order's own author).")


class AlreadySigner(Conflict):
    code = "already_signer"
    default_message = _("That person is already a signer of this step.")


class CommentRequired(ValidationFailed):
    code = "comment_required"
    default_message = _("Give a comment with every decision.")
