"""Which requests need a token, and which roles may make them.

One ordered table over method and path, first match wins; a path that no rule
names needs a staff token (officer, emergency, admin), so a new endpoint is closed
until it is listed here. Finer checks that need data (is this case assigned to this
worker?) stay in the endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from command_center.auth.principal import ROLES, STAFF, Principal

ANY_ROLE: frozenset[str] = frozenset(ROLES)
ADMIN: frozenset[str] = frozenset({"admin"})
EMERGENCY_TEAM: frozenset[str] = frozenset({"emergency", "admin"})
HALL: frozenset[str] = frozenset({"officer", "admin"})  # the monitoring hall's desk
BASE_DATA: frozenset[str] = frozenset({"officer", "worker", "admin"})  # 四标四实: the hall and grid workers
READ = frozenset({"GET", "HEAD"})

# (principal, path match, query params) → why it is refused, or None
Check = Callable[[Principal, "re.Match[str]", dict[str, str]], str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method
    roles: frozenset[str] | None  # None: public
    check: Check | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    public: bool
    roles: frozenset[str]
    check: Check | None = None


def _own_worker(principal: Principal, match: re.Match[str], _query: dict[str, str]) -> str | None:
    if principal.is_worker and match["id"] != principal.worker_id:
        return "a worker may look up only their own record"
    return None


def _area_in_path(principal: Principal, match: re.Match[str], _query: dict[str, str]) -> str | None:
    code = match["code"]
    if principal.jurisdiction and not (code.isdigit() and principal.sees_area(code)):
        return f"area {code} is outside your jurisdiction {principal.jurisdiction}"
    return None


def _area_in_query(principal: Principal, _match: re.Match[str], query: dict[str, str]) -> str | None:
    code = query.get("code")  # missing: the endpoint answers 400
    if principal.jurisdiction and code is not None and not principal.sees_area(code):
        return f"area {code} is outside your jurisdiction {principal.jurisdiction}"
    return None


def _city_admin(principal: Principal, _match: re.Match[str], _query: dict[str, str]) -> str | None:
    """What only the city's own administrators do (a district admin's jurisdiction is a prefix)."""
    if principal.jurisdiction:
        return f"only a city-wide administrator may do this (yours is {principal.jurisdiction})"
    return None


def _rule(pattern: str, methods: frozenset[str] | None, roles: frozenset[str] | None, check: Check | None = None) -> Rule:
    return Rule(re.compile(pattern), methods, roles, check)


def rules(public_metrics: bool) -> list[Rule]:
    """The whole table, in order: public and sign-in routes, administration, then the work."""
    return [*_public_rules(public_metrics), *_administration_rules(), *_assessment_rules(), *_work_rules()]


def _public_rules(public_metrics: bool) -> list[Rule]:
    """Pages, static files, the public card, Open311, publishers and the caller's own account."""
    return [
        # pages and their static files: the pages sign in through the API
        _rule(r"^/(wall|desk|chats|basedata|stats|costs|community|terminal|citizen|publish|emergency|admin)?$", READ, None),
        _rule(r"^/api/i18n/[^/]+$", READ, None),  # the pages' message catalogues (the sign-in form's too)
        _rule(r"^/assessment$", READ, None),  # 绩效考核's page (it signs in through the API)
        # 三公开: each grid's public worker card and its printable QR poster, and what they show
        _rule(r"^/grid/[^/]+(/poster)?$", READ, None),
        _rule(r"^/api/public/", READ, None),
        _rule(r"^/ui/", READ, None),
        _rule(r"^/vendor/", READ, None),  # third-party browser libraries (MapLibre, ECharts)
        _rule(r"^/api/health$", READ, None),
        _rule(r"^/api/openapi\.json$", READ, None),  # the API contract, for integrators
        _rule(r"^/metrics$", READ, None if public_metrics else ADMIN),
        _rule(r"^/api/auth/login$", frozenset({"POST"}), None),
        _rule(r"^/api/auth/logout$", frozenset({"POST"}), None),  # clears the cookie, signed in or not
        # citizens: Open311 reports and their status; a report's photo is public only when
        # its reporter agreed to publish it (the endpoint checks, and serves staff the rest)
        _rule(r"^/open311/(v2/|discovery\.(json|xml)$)", None, None),
        _rule(r"^/api/reports/[^/]+/photo\.jpg$", READ, None),
        # a report with photos, a voice note and a video, and the open cases nearby to follow
        # instead (api/report_media*.py: rate-limited, checked; the media go to staff by scope);
        # the citizens' page as an app: its service worker and manifest
        _rule(r"^/api/citizen/reports$", frozenset({"POST"}), None),
        _rule(r"^/api/citizen/nearby$", READ, None),
        _rule(r"^/citizen(-sw\.js|/manifest\.webmanifest)$", READ, None),
        # Publishers (WHIP) and telemetry: no role suffices, so the policy lets them through to
        # the endpoints, which demand a credential for the stream itself: a per-device publish
        # key, or a signed-in user allowed for that stream (command_center/auth/publishers.py).
        _rule(r"^/whip/", None, None),
        _rule(r"^/api/drones/[^/]+/telemetry$", frozenset({"POST"}), None),
        # IoT gateways without MQTT: the endpoint demands a gateway:/device: publish key (api/iot_intake.py)
        _rule(r"^/api/iot/readings$", frozenset({"POST"}), None),
        _rule(r"^/api/auth/(me|password)$", None, ANY_ROLE),
        # Residents (api/residents.py) are no staff principals: their token is under a key of its
        # own, which the middleware does not read. Asking for a code and signing in and out are
        # public; the personal routes (/me…) are resident-only: each endpoint demands a resident
        # token (401 without one, 403 for a staff token), as WHIP endpoints demand their key.
        _rule(r"^/api/residents/code$", frozenset({"POST"}), None),
        _rule(r"^/api/residents/session$", frozenset({"POST", "DELETE"}), None),
        _rule(r"^/api/residents/me(/.*)?$", None, None),
        # 服务超市 and 论坛 (api/marketplace.py, api/forum.py): what a notice board shows is public
        # (visible posts, open services, categories, communities, search); residents write under
        # /api/residents/me/…; the community's officers and admins manage under /api/community-admin/…
        _rule(r"^/api/community/", READ, None),
        _rule(r"^/api/community-admin/", None, HALL),
    ]


def _administration_rules() -> list[Rule]:
    return [
        # A district admin (an admin with a jurisdiction) manages users, the
        # roster, cameras and matter proposals of their district (the endpoints scope each
        # read and change); the rest is the city's own administrators'.
        _rule(r"^/api/(audit|publish-keys)(/.*)?$", None, ADMIN, _city_admin),
        _rule(r"^/api/users(/.*)?$", None, ADMIN),
        _rule(r"^/api/grids$", frozenset({"PUT"}), ADMIN, _city_admin),
        _rule(r"^/api/import/grids$", None, ADMIN, _city_admin),
        _rule(r"^/api/import/[a-z]+$", None, ADMIN),
        _rule(r"^/api/roster(/.*)?$", None, ADMIN),
        # PTZ: the hall moves a camera to a preset (the endpoint scopes by jurisdiction); before
        # the admins' camera rule, which would otherwise take this POST
        _rule(r"^/api/cameras/[^/]+/ptz/preset$", frozenset({"POST"}), HALL),
        _rule(r"^/api/cameras(/.*)?$", frozenset({"POST", "PUT", "PATCH", "DELETE"}), ADMIN),
        # IoT devices (设备, api/devices.py): admins manage them; staff and the grids' workers read
        # them (the endpoints scope every read and write: jurisdiction; a worker: their roster grids)
        _rule(r"^/api/devices(/[^/]+)?$", READ, ANY_ROLE),
        _rule(r"^/api/devices(/[^/]+)?$", frozenset({"POST", "PATCH", "DELETE"}), ADMIN),
        _rule(r"^/api/matters/proposals/[^/]+/(approve|reject)$", None, ADMIN, _city_admin),
        _rule(r"^/api/matters(/.*)?$", READ, frozenset(STAFF)),
        _rule(r"^/api/matters(/.*)?$", None, ADMIN),
        _rule(r"^/api/(calendar|settings)(/.*)?$", READ, frozenset(STAFF)),
        _rule(r"^/api/(calendar|settings)(/.*)?$", None, ADMIN, _city_admin),
    ]


def _assessment_rules() -> list[Rule]:
    """绩效考核 (api/assessment.py, docs/ASSESSMENT.md): staff read (scoped by the endpoints); a
    worker reads their own score and notices; the hall files appeals, admins decide them (in
    their jurisdiction); only the city's administrators freeze or recompute a month."""
    return [
        _rule(r"^/api/assessment/(notices|[^/]+/scores)$", READ, ANY_ROLE),
        _rule(r"^/api/assessment/runs$", frozenset({"POST"}), ADMIN, _city_admin),
        _rule(r"^/api/assessment/[^/]+/appeals$", frozenset({"POST"}), HALL),
        _rule(r"^/api/assessment/appeals/[^/]+/decision$", frozenset({"POST"}), ADMIN),
        _rule(r"^/api/assessment(/.*)?$", READ, frozenset(STAFF)),
        _rule(r"^/api/assessment(/.*)?$", None, ADMIN),
    ]


def _work_rules() -> list[Rule]:
    """The hall's, the workers' and emergency teams' work: maps, cases, verifications, emergencies."""
    return [
        _rule(r"^/api/map/config$", READ, ANY_ROLE),  # the basemap the pages draw under the grids
        _rule(r"^/api/grids/locate$", READ, ANY_ROLE),
        _rule(r"^/api/grids/validate$", None, frozenset(STAFF)),
        _rule(r"^/api/grids/(?P<code>[^/]+)$", READ, frozenset(STAFF), _area_in_path),
        _rule(r"^/api/hotspots/series$", READ, frozenset(STAFF), _area_in_query),
        # cost–benefit (成本效益, api/costs*.py): the hall reads, admins (no finance role) keep the
        # budget lines; the endpoints scope every read and write by jurisdiction
        _rule(r"^/api/costs/lines(/.*)?$", frozenset({"POST", "PATCH", "DELETE"}), ADMIN),
        _rule(r"^/api/costs(/.*)?$", READ, HALL),
        _rule(r"^/api/costs(/.*)?$", None, ADMIN),
        _rule(r"^/api/workers/[^/]+/photo$", frozenset({"POST", "DELETE"}), ADMIN),  # the public card's photo
        _rule(r"^/api/workers/(?P<id>[^/]+)$", READ, ANY_ROLE, _own_worker),
        # a worker's phone reports where they are while they hold an emergency task
        _rule(r"^/api/workers/(?P<id>[^/]+)/position$", frozenset({"POST"}), frozenset({"worker"}), _own_worker),
        # the hall's case desk: search is scoped by the endpoint; these are the hall's alone
        _rule(r"^/api/cases/bulk$", None, HALL),
        _rule(r"^/api/cases/[^/]+/candidates$", READ, HALL),
        # Suggested classes of reports (api/suggestions.py): asking is public like Open311 (the
        # citizens' page; rate-limited), and so is recording the choice (the suggestion's id is
        # the capability); the figures are the hall's; a case's suggestions are staff's (scoped).
        _rule(r"^/api/suggestions/stats$", READ, HALL),
        _rule(r"^/api/suggestions(/[^/]+/choice)?$", frozenset({"POST"}), None),
        _rule(r"^/api/cases/[^/]+/suggestions$", READ, frozenset(STAFF)),
        # video verification (视频核查, api/verifications.py): the hall reads and decides,
        # scoped by the endpoints; its evidence is also the assigned worker's (a case the
        # camera returned shows its frame on the terminal; the endpoint checks the assignment)
        _rule(r"^/api/verifications/[^/]+/(after\.jpg|clip\.mp4)$", READ, ANY_ROLE),
        _rule(r"^/api/verifications(/.*)?$", None, HALL),
        # re-check tasks (定期核实, api/verify_tasks.py): a worker their own, the hall its jurisdiction
        _rule(r"^/api/basedata/tasks$", READ, BASE_DATA),
        # base-data exports (api/basedata_export.py): the hall's, scoped and audited by the endpoint
        # (config basedata.export.roles may narrow it); which export pasted rows came from: the
        # city's administrators, like the audit log it reads
        _rule(r"^/api/basedata-export/trace$", frozenset({"POST"}), ADMIN, _city_admin),
        _rule(r"^/api/basedata-export/[^/]+$", READ, HALL),
        # grid base data (四标四实, api/basedata.py): the hall and the grids' workers; the endpoints
        # scope every read and write (jurisdiction; a worker: their roster grids) and let only
        # config basedata.reveal_roles reveal an ID number or phone
        # 迁出 undone (api/basedata_leave.py): the roles that may mark it, scoped by the endpoint
        _rule(r"^/api/basedata/people/[^/]+/return$", frozenset({"POST"}), BASE_DATA),
        _rule(r"^/api/basedata(/.*)?$", None, BASE_DATA),
        # the special-group ledger (特殊群体, api/care.py): officers and admins add and change
        # memberships; reads and visits also the workers (the endpoints admit only config
        # basedata.care_roles, and a worker only for the people paired with them or in their grids)
        _rule(r"^/api/care/memberships(/[^/]+)?$", frozenset({"POST", "PATCH"}), HALL),
        _rule(r"^/api/care(/.*)?$", None, BASE_DATA),
        # patrols (巡查, api/patrols.py) and attendance (考勤, api/attendance.py): the hall manages key
        # places and reads coverage and months; a worker reads their grids' places, walks the route,
        # checks in, and checks on and off duty (the endpoints scope every read and write)
        _rule(r"^/api/patrols/places(/[^/]+)?$", frozenset({"POST", "PATCH"}), HALL),
        _rule(r"^/api/patrols/places/[^/]+/checkins$", frozenset({"POST"}), frozenset({"worker"})),
        _rule(r"^/api/patrols/route$", READ, frozenset({"worker"})),
        _rule(r"^/api/patrols/(places|coverage)$", READ, BASE_DATA),
        _rule(r"^/api/attendance/(on|off|track)$", frozenset({"POST"}), frozenset({"worker"})),
        _rule(r"^/api/attendance/month$", READ, BASE_DATA),
        # field photos (现场照片, api/field_photos.py): a check-in's, a visit's, a door plate's;
        # uploaded for a grid the caller covers, read by the uploader and those whose scope covers it
        _rule(r"^/api/field-photos$", frozenset({"POST"}), BASE_DATA),
        _rule(r"^/api/field-photos/[^/]+$", READ, BASE_DATA),
        # the worker's own cases (the endpoints check the assignment) and their evidence
        _rule(r"^/api/cases(/.*)?$", None, ANY_ROLE),
        # residents' chat (api/chat.py): a worker their grids' conversations, others their
        # jurisdiction's; the endpoints scope every read and write (403 for another grid's)
        _rule(r"^/api/chats(/.*)?$", None, ANY_ROLE),
        _rule(r"^/api/incidents/[^/]+/(snapshot\.jpg|snapshots/[0-9]{1,2}\.jpg|clip\.mp4)$", READ, ANY_ROLE),
        # emergency mode: staff start, read and end it, and add to its timeline; staff (officers
        # too) and the workers a task was given to ack and finish its tasks (the endpoints check)
        # Its plans are the city's: staff read them, city administrators change them.
        _rule(r"^/api/emergency/plans(/.*)?$", READ, frozenset(STAFF)),
        _rule(r"^/api/emergency/plans(/.*)?$", None, ADMIN, _city_admin),
        # A grid worker named on a task (or in the team it went to) sees and finishes it on
        # the terminal; the endpoints check that the task is theirs.
        _rule(r"^/api/emergency/mine$", READ, ANY_ROLE),
        _rule(r"^/api/emergency/[^/]+/tasks/[^/]+/(done|ack)$", frozenset({"POST"}), ANY_ROLE),
        _rule(r"^/api/emergency(/.*)?$", None, frozenset(STAFF)),
        _rule(r"^/ws$", None, ANY_ROLE),  # the hub scopes channels and events
    ]


class Policy:
    def __init__(self, public_metrics: bool = False) -> None:
        self._rules = rules(public_metrics)

    def decide(self, method: str, path: str) -> tuple[Decision, re.Match[str] | None]:
        for rule in self._rules:
            if rule.methods is not None and method not in rule.methods:
                continue
            match = rule.pattern.match(path)
            if match:
                return Decision(rule.roles is None, rule.roles or frozenset(), rule.check), match
        return Decision(False, frozenset(STAFF)), None
