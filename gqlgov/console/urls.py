"""The custom admin pages, mounted by GqlgovAdminSite.get_urls under /admin/ (names: admin:gqlgov_*)."""

from django.urls import path

from gqlgov.console import agents, approvals, editing, exports, lockstep, records, review, schemas, simulator


def custom_urls(site):
    def page(route, view, name):
        return path(route, site.admin_view(view), name=f"gqlgov_{name}")

    return [
        page("schemas/", schemas.schema_list, "schemas"),
        page("schemas/register/", schemas.schema_register_view, "schema_register"),
        page("schemas/<slug:name>/", schemas.schema_detail, "schema"),
        page("schemas/<slug:name>/versions/<int:number>/", schemas.schema_version, "schema_version"),
        page("schemas/<slug:name>/versions/<int:number>/draft/", lockstep.version_draft, "schema_version_draft"),
        page("schemas/<slug:name>/versions/<int:number>/fix/", lockstep.stale_fix, "stale_fix"),
        page("schemas/<slug:name>/diff/", schemas.schema_diff, "schema_diff"),
        page("schemas/<slug:name>/sdl/", editing.schema_sdl, "schema_sdl"),
        page("schemas/<slug:name>/operations/<str:operation>/", schemas.operation_detail, "operation"),
        page("schemas/<slug:name>/operations/<str:operation>/rules/add/", schemas.rule_add, "rule_add"),
        page(
            "schemas/<slug:name>/operations/<str:operation>/rules/<str:rule_id>/edit/",
            schemas.rule_edit,
            "rule_edit",
        ),
        page(
            "schemas/<slug:name>/operations/<str:operation>/rules/<str:rule_id>/delete/",
            schemas.rule_delete_view,
            "rule_delete",
        ),
        page("schemas/<slug:name>/policy/<int:number>/", review.policy_detail, "policy"),
        page("schemas/<slug:name>/policy/<int:number>/<str:action>/", review.policy_action, "policy_action"),
        page("reviews/", review.review_list, "reviews"),
        page("approvals/", approvals.approval_list, "approvals"),
        page("approvals/<str:approval_id>/", approvals.approval_detail, "approval"),
        page("approvals/<str:approval_id>/<str:decision>/", approvals.approval_decide, "approval_decide"),
        page("simulator/", simulator.simulator, "simulator"),
        page("agents/", records.agent_list, "agents"),
        page("tokens/", records.token_list, "tokens"),
        page("decisions/", records.decision_list, "decisions"),
        page("decisions/<uuid:decision_id>/", records.decision_detail, "decision"),
        page("audit/", records.audit_list, "audit"),
        page("audit/<int:event_id>/", records.audit_detail, "audit_event"),
        page("agent/<slug:name>/", agents.agent_detail, "agent"),
        page("agent/<slug:name>/status/<str:change>/", agents.agent_status, "agent_status"),
        page("agent/<slug:name>/tokens/issue/", agents.token_issue, "token_issue"),
        page("agent/<slug:name>/tokens/<int:token_id>/revoke/", agents.token_revoke, "token_revoke"),
        page("agent/<slug:name>/tokens/<int:token_id>/rotate/", agents.token_rotate, "token_rotate"),
        page("exports/", exports.export_overview, "exports"),
        page("exports/targets/<int:target_id>/<str:action>/", exports.target_action, "export_action"),
        page("exports/runs/<int:run_id>/", exports.run_detail, "export_run"),
        page("exports/runs/<int:run_id>/status/", exports.run_status, "export_run_status"),
        page("exports/targets/<int:target_id>/download/<str:fmt>/", exports.iac_download, "export_download"),
    ]
