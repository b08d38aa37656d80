"""The stick commands: ``sdgkit selfcheck`` (is this kit genuine?) and ``sdgkit migrate-from``
(a newer kit on a new stick takes over an older stick's data folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import TerminalProgress, data_dir, print_json
from app.i18n import _


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("selfcheck", help=_("Check that the kit on this stick was not altered"))
    p.add_argument("--root", help=_("root folder of the stick image (default: the stick this program runs from)"))
    p.add_argument("--key", metavar="FILE",
                   help=_("release public key to check against (default: the key pinned in this program)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_selfcheck)

    m = sub.add_parser("migrate-from", help=_("Take over the data folder of an older kit's stick"))
    m.add_argument("old", metavar="OLD_DATA", help=_("data folder on the older stick, for example E:\\data"))
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_migrate_from)


def cmd_selfcheck(args: Any) -> int:
    from app.i18n import N_
    from app.stick import check_this_kit

    key = None
    if args.key:
        from app.bundle.minisign import PublicKey

        key = PublicKey.from_string(Path(args.key).read_text(encoding="utf-8"))
    res = check_this_kit(TerminalProgress(N_("Checking")), root=Path(args.root) if args.root else None,
                         public_key=key)
    if res.status in ("not_on_stick", "cannot_check") and not args.json:
        print(_("Error: {message}", message=res.message), file=sys.stderr)
        return 2
    if args.json:
        print_json(res.as_dict())
    else:
        for line in res.lines:
            print(line)
    return 0 if res.ok else 4


def cmd_migrate_from(args: Any) -> int:
    from app.i18n import N_
    from app.stick import migrate_from

    res = migrate_from(args.old, data_dir(args), TerminalProgress(N_("Copying the older stick's data")))
    if args.json:
        print_json(res.as_dict())
        return 0
    print(_("Copied {count} files from {source} to {target}.", count=res.files, source=str(res.source),
            target=str(res.target)))
    if res.from_revision != res.to_revision:
        print(_("The store was updated to this kit's version; a copy of it as it was is in {path}.",
                path=str(res.backup or res.target / "backups")))
    print(_("The older stick was not changed. From now on, use this stick."))
    return 0
