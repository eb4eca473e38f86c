"""Who knocks in the authorization matrix: one account of every role api.md names (citizen, unit, dealer,
hospital, the four counter posts, the system client), plus the citizens and clerks that own or do not own a
record: citizen A owns the records, citizen B does not, and office 130200's clerks stand beside office
130100's, where A's records are kept. Accounts are made in identity's database the way its demo data makes
them (`ensure_account`); everyone signs in through the gateway."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

import httpx
from stdnum.cn import uscc

from identity_service import domain
from identity_service.demo import ensure_account, ensure_person
from identity_service.service import SPEC as IDENTITY
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from servicekit.vocabulary import AUDITOR
from tests.e2e.stack import PASSWORD, finish_sign_in, sign_in_post

OFFICE = "130100"  # where A's records are kept
OTHER_OFFICE = "130200"  # another city: its clerks see none of them
CLERK_POSTS = ("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")


@dataclass
class Actor:
    label: str
    roles: frozenset[str]
    username: str
    kind: str = "person"  # person | unit | staff | system
    channel: str = "online"
    account_kind: str = "owner_driver"  # a person's kind of account at identity (learner, owner_driver...)
    office: str | None = None
    id_number: str | None = None
    phone: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    subject: str = ""


def new_uscc() -> str:
    while True:
        body = "91" + OFFICE + "".join(secrets.choice("0123456789") for _ in range(9))
        code = body + uscc.calc_check_digit(body)
        if uscc.is_valid(code):
            return code


def _person(label: str, channel: str = "online", kind: str = "owner_driver") -> Actor:
    number = new_resident_id()
    return Actor(
        label,
        frozenset({"citizen"}),
        number,
        id_number=number,
        phone=new_phone(),
        channel=channel,
        account_kind=kind,
    )


def _unit(label: str, delegated: tuple[str, ...]) -> Actor:
    code = new_uscc()
    roles = frozenset(domain.roles_for("unit", delegated))
    return Actor(label, roles, code, kind="unit", id_number=code, phone=new_phone())


def clerk(label: str, role: str, office: str) -> Actor:
    name = "AZ" + secrets.token_hex(5).upper()
    return Actor(label, frozenset({role}), name, kind="staff", office=office)


def cast() -> dict[str, Actor]:
    """Every actor, by label: `citizen` (role cells), `owner` (A: registered at the counter, so that
    every online service is open to A, licence photos too), `stranger` (B), `learner` (C, who books
    exams), `unit`, `dealer`, `hospital`, `other:dealer`, `other:hospital`, `clerk.*` (office 130100),
    `other:clerk.*` (office 130200), `auditor`, `system`, and the accounts no one may cancel (`victim:staff`,
    `victim:system`)."""
    actors = [
        _person("citizen"),
        _person("owner", channel="counter"),
        _person("stranger"),
        _person("learner", kind="learner"),
        _unit("unit", ()),
        _unit("dealer", ("dealer",)),
        _unit("other:dealer", ("dealer",)),
        _unit("hospital", ("hospital",)),
        _unit("other:hospital", ("hospital",)),
        *(clerk(post, post, OFFICE) for post in CLERK_POSTS),
        *(clerk(f"other:{post}", post, OTHER_OFFICE) for post in CLERK_POSTS),
        clerk("victim:staff", "clerk.review", OFFICE),
        clerk("auditor", AUDITOR, OFFICE),  # the audit trail and nothing else (ADR 0090)
        Actor("system", frozenset({"system"}), "az-system-" + secrets.token_hex(4), kind="system"),
        Actor("victim:system", frozenset({"system"}), "az-victim-" + secrets.token_hex(4), kind="system"),
    ]
    return {actor.label: actor for actor in actors}


def make_accounts(actors: dict[str, Actor]) -> None:
    async def make() -> None:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        try:
            async with runtime.uow() as uow:
                for actor in actors.values():
                    common = {"password": PASSWORD, "roles": sorted(actor.roles), "now": uow.now}
                    if actor.kind == "person":
                        assert actor.id_number is not None
                        await ensure_person(uow.session, actor.id_number, "沈十七")
                        await ensure_account(
                            uow.session,
                            category="personal",
                            kind=actor.account_kind,
                            name="沈十七",
                            channel=actor.channel,
                            id_number=actor.id_number,
                            phone=actor.phone,
                            **common,
                        )
                    elif actor.kind == "unit":
                        await ensure_account(
                            uow.session,
                            category="unit",
                            kind="public_institution" if "hospital" in actor.roles else "enterprise",
                            name=f"{actor.label} 有限公司",
                            channel="online",
                            credit_code=actor.id_number,
                            phone=actor.phone,
                            **common,
                        )
                    elif actor.kind == "staff":
                        await ensure_account(
                            uow.session,
                            category="staff",
                            kind="staff",
                            name=f"{actor.label} clerk",
                            username=actor.username,
                            office=actor.office,
                            **common,
                        )
                    else:
                        await ensure_account(
                            uow.session,
                            category="system",
                            kind="system",
                            name="authz police system",
                            username=actor.username,
                            office=None,
                            **common,
                        )
                await uow.commit()
        finally:
            await runtime.aclose()

    asyncio.run(make())


def sign_in(gw: httpx.Client, actors: dict[str, Actor]) -> None:
    """Each actor's bearer header and subject, through the gateway."""
    for actor in actors.values():
        if actor.kind == "system":
            body = {
                "grant_type": "client_credentials",
                "client_id": actor.username,
                "client_secret": PASSWORD,
            }
            r = sign_in_post(gw, "/api/v1/auth/token", body)
        else:
            r = sign_in_post(gw, "/api/v1/auth/login", {"username": actor.username, "password": PASSWORD})
            r = finish_sign_in(gw, actor.username, r)
        assert r.status_code == 200, f"{actor.label} cannot sign in: {r.text}"
        actor.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        who = gw.get("/api/v1/auth/whoami", headers=actor.headers)
        assert who.status_code == 200, who.text
        actor.subject = who.json()["subject"]
