"""``sdgkit selfcheck``: is this kit genuine? Checks the stick's signed list of program files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import print_json
from app.errors import NotFoundError
from app.i18n import N_, _


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("selfcheck", help=_("Check that the kit on this stick was not altered"))
    p.add_argument("--root", help=_("root folder of the stick image (default: the stick this program runs from)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_selfcheck)


def cmd_selfcheck(args: Any) -> int:
    from app.model.paths import portable_root
    from app.stick import selfcheck

    root = Path(args.root) if args.root else portable_root()
    if root is None:
        raise NotFoundError(N_("This program is not running from a kit stick; give the stick's folder with --root."))
    rep = selfcheck(root)
    if args.json:
        print_json(rep.as_dict())
    elif rep.ok:
        print(_("The kit is genuine: {count} program files match the signed list.", count=rep.checked))
        print(_("Release key fingerprint: {fingerprint}", fingerprint=rep.key_fingerprint))
    else:
        if not rep.signature_ok:
            print(_("ALTERED: the list of program files is not signed by the release key. Do not use this stick."))
        for name in rep.altered:
            print(_("ALTERED: {name} was changed after the kit was built.", name=name))
        for name in rep.missing:
            print(_("MISSING: {name} was removed from the kit.", name=name))
        for name in rep.unlisted:
            print(_("ADDED: {name} was not part of the kit.", name=name))
        print(_("This stick was altered. Ask the platform for a new kit."))
    return 0 if rep.ok else 4
