"""The indicator catalogue (Global Urban Monitoring Framework and SDG 11), loaded from
``resources/indicators/catalogue.json``, plus the city's own local indicators from the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.errors import ValidationError
from app.i18n import N_
from app.resources import resource

Text = dict[str, str]


@dataclass(frozen=True)
class Indicator:
    id: str
    code: str
    framework: str  # SDG | UMF | LOCAL
    name: Text
    domain: str
    objective: str
    unit: str
    direction: str
    disaggregation: tuple[str, ...]
    verification: str
    sdg: str | None = None


@dataclass
class Catalogue:
    version: str
    domains: list[dict[str, Any]]
    objectives: list[dict[str, Any]]
    dimensions: dict[str, dict[str, Any]]
    units: dict[str, dict[str, Any]]
    indicators: dict[str, Indicator]

    def get(self, indicator_id: str) -> Indicator:
        try:
            return self.indicators[indicator_id]
        except KeyError:
            raise ValidationError(N_("Unknown indicator {indicator}."), indicator=indicator_id) from None

    def domain_number(self, domain_id: str) -> int:
        for d in self.domains:
            if d["id"] == domain_id:
                return int(d["number"])
        raise ValidationError(N_("Unknown domain {domain}."), domain=domain_id)

    def objective_number(self, objective_id: str) -> int:
        for o in self.objectives:
            if o["id"] == objective_id:
                return int(o["number"])
        raise ValidationError(N_("Unknown objective {objective}."), objective=objective_id)

    def with_local(self, local: list[Indicator]) -> "Catalogue":
        merged = dict(self.indicators)
        merged.update({i.id: i for i in local})
        return Catalogue(self.version, self.domains, self.objectives, self.dimensions, self.units, merged)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    import hashlib

    path = resource("indicators", "catalogue.json")
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(N_("The indicator catalogue {path} cannot be read: {detail}"),
                              path=str(path), detail=str(exc)) from None
    from app.model.framework import validate_against

    validate_against("indicators.schema.json", data, path, hashlib.sha256(raw).hexdigest())
    inds = {
        d["id"]: Indicator(
            id=d["id"], code=d["code"], framework=d["framework"], name=d["name"], domain=d["domain"],
            objective=d["objective"], unit=d["unit"], direction=d["direction"],
            disaggregation=tuple(d.get("disaggregation", ())), verification=d["verification"], sdg=d.get("sdg"))
        for d in data["indicators"]
    }
    return Catalogue(data["version"], data["domains"], data["objectives"],
                     {d["id"]: d for d in data["dimensions"]}, {u["id"]: u for u in data["units"]}, inds)
