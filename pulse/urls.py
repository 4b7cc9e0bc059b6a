from django.urls import include, path

from pulse.web import auth_views as sign_in
from pulse.web import leader, oidc, team_results

urlpatterns = [
    path("", leader.home, name="home"),
    path("login/", sign_in.LoginView.as_view(), name="login"),
    path("login/email/", sign_in.login_link_request_view, name="login_link_request"),
    path("login/email/sent/", sign_in.login_link_sent, name="login_link_sent"),
    # The token is in the path: config.logging_filters removes it from every log line.
    path("login/link/confirm/", sign_in.login_link_confirm, name="login_link_confirm"),
    path("login/link/<str:token>/", sign_in.login_link, name="login_link"),
    path("login/checkin-link/", sign_in.checkin_link_resend_view, name="checkin_link_resend"),
    path("login/checkin-link/sent/", sign_in.checkin_link_resent, name="checkin_link_resent"),
    path("account/email/confirm/", sign_in.email_change_confirm_view, name="email_change_confirm"),
    path("account/email/<str:token>/", sign_in.email_change_link, name="email_change_link"),
    # Single sign-on (pulse/web/oidc.py); the callback's name is the one mozilla-django-oidc reverses.
    path("login/sso/", oidc.StartView.as_view(), name="oidc_authentication_init"),
    path("login/sso/callback/", oidc.CallbackView.as_view(), name="oidc_authentication_callback"),
    path("logout/", oidc.sign_out, name="logout"),
    path("", include("pulse.web.urls")),
    # The leaders' pages: a team's results and the flags inbox; the home view is theirs too.
    path("teams/<int:pk>/", leader.team, name="team_report"),
    path("teams/<int:pk>/print/", leader.team_print, name="team_print"),
    path("teams/<int:pk>/export.csv", leader.team_export, name="team_export"),
    path("teams/<int:pk>/rollup/", leader.team_rollup, name="team_rollup"),
    path("teams/<int:pk>/rollup/print/", leader.team_rollup_print, name="team_rollup_print"),
    path("teams/<int:pk>/rollup/export.csv", leader.team_rollup_export, name="team_rollup_export"),
    path("flags/", leader.flags, name="flags"),
    path("flags/<int:pk>/", leader.flag_detail, name="flag_detail"),
    path("flags/<int:pk>/reopen/", leader.flag_reopen_view, name="flag_reopen"),
    path("help/glossary/", leader.glossary, name="glossary"),
    # A team member's own teams: results and what was done about them (you said, we did).
    path("results/", team_results.my_results, name="team_results"),
    path("results/<int:pk>/", team_results.team_results_detail, name="team_results_detail"),
    path("teams/<int:pk>/rounds/<int:round_pk>/note/", leader.round_note_view, name="round_note"),
    path("flags/<int:pk>/acknowledge/", leader.flag_acknowledge_view, name="flag_acknowledge"),
    path("flags/<int:pk>/plan/", leader.flag_plan_view, name="flag_plan"),
    path("flags/<int:pk>/resolve/", leader.flag_resolve_view, name="flag_resolve"),
]
