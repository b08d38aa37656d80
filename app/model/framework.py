"""The certification framework, loaded from versioned data in ``resources/framework/``.

Stages, criteria, requirements, answer fields, expected evidence, linked indicators, level names
and the stage->level map are all data (see ``docs/framework-format.md``). A national overlay
merges over the global framework: it can rename levels, remap stages to levels, hide, change or add
requirements, and carries its own version. Files are validated against JSON Schemas before use;
a file that fails gets a clear message and nothing is loaded from it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from app.errors import ValidationError
from app.i18n import N_, text_in
from app.resources import resource

Text = dict[str, str]
FIELD_TYPES = ("text", "yes_no", "single_choice", "multiple_choice", "number", "date", "table")


@dataclass(frozen=True)
class Option:
    id: str
    label: Text


@dataclass(frozen=True)
class Field:
    id: str
    type: str
    label: Text
    required: bool = True
    help: Text | None = None
    multiline: bool = False
    min_length: int | None = None
    max_length: int | None = None
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    unit_label: Text | None = None
    integer: bool = False
    columns: tuple["Field", ...] = ()
    min_rows: int = 0
    max_rows: int | None = None
    required_if: dict[str, Any] | None = None

    def option_ids(self) -> list[str]:
        return [o.id for o in self.options]


@dataclass(frozen=True)
class EvidenceExpectation:
    kind: str
    min: int
    max: int | None
    description: Text


@dataclass(frozen=True)
class Requirement:
    id: str
    criterion_id: str
    stage_id: str
    title: Text
    guidance: Text
    mandatory: bool
    fields: tuple[Field, ...]
    evidence: tuple[EvidenceExpectation, ...]
    indicators: tuple[str, ...]
    min_indicator_values: int = 0
    origin: str = "global"  # or the overlay id that added or changed it

    def field(self, field_id: str) -> Field:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise ValidationError(N_("Requirement {requirement} has no field {field}."),
                              requirement=self.id, field=field_id)


@dataclass(frozen=True)
class Criterion:
    id: str
    letter: str
    stage_id: str
    title: Text
    statement: Text
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True)
class Stage:
    id: str
    order: int
    title: Text
    summary: Text
    source: str
    criteria: tuple[Criterion, ...]

    def requirements(self) -> Iterator[Requirement]:
        for c in self.criteria:
            yield from c.requirements


@dataclass(frozen=True)
class Level:
    id: str
    name: Text


@dataclass(frozen=True)
class EvidenceKind:
    id: str
    name: Text
    extensions: tuple[str, ...]


@dataclass
class Framework:
    id: str
    version: str
    title: Text
    languages: tuple[str, ...]
    levels: tuple[Level, ...]
    stage_levels: dict[str, str]
    evidence_kinds: dict[str, EvidenceKind]
    stages: tuple[Stage, ...]
    overlay_id: str | None = None
    overlay_version: str | None = None
    mechanism_name: Text | None = None
    _req_index: dict[str, Requirement] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._req_index = {r.id: r for s in self.stages for r in s.requirements()}

    @property
    def label(self) -> str:
        base = f"{self.id} {self.version}"
        return f"{base} + {self.overlay_id} {self.overlay_version}" if self.overlay_id else base

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id.upper():
                return s
        raise ValidationError(N_("Unknown stage {stage}. Stages are {stages}."),
                              stage=stage_id, stages=", ".join(s.id for s in self.stages))

    def requirement(self, req_id: str) -> Requirement:
        try:
            return self._req_index[req_id]
        except KeyError:
            raise ValidationError(N_("Unknown requirement {requirement}."), requirement=req_id) from None

    def criterion(self, crit_id: str) -> Criterion:
        for s in self.stages:
            for c in s.criteria:
                if c.id == crit_id:
                    return c
        raise ValidationError(N_("Unknown criterion {criterion}."), criterion=crit_id)

    def level_for_stage(self, stage_id: str) -> Level | None:
        lid = self.stage_levels.get(stage_id)
        return next((lv for lv in self.levels if lv.id == lid), None)

    def level_name(self, stage_id: str, lang: str | None = None) -> str:
        lv = self.level_for_stage(stage_id)
        return text_in(lv.name, lang) if lv else ""


# -- loading -----------------------------------------------------------------------------------

def _read_json(path: Path) -> Any:
    return _read_json_digest(path)[0]


def _read_json_digest(path: Path) -> tuple[Any, str]:
    """The parsed file and the SHA-256 of its bytes (see :func:`validate_against`)."""
    import hashlib

    try:
        raw = Path(path).read_bytes()
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates), hashlib.sha256(raw).hexdigest()
    except FileNotFoundError:
        raise ValidationError(N_("The framework file {path} is missing."), path=str(path)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(N_("The framework file {path} is not valid JSON: {detail}"),
                              path=str(path), detail=str(exc)) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


@lru_cache(maxsize=None)
def _schema(name: str) -> dict[str, Any]:
    with open(resource("schema", name), encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _registry() -> Any:
    """Every schema in ``resources/schema``, crawled once, so ``$ref``s between them resolve fast."""
    from referencing import Registry, Resource

    resources = []
    for p in sorted(resource("schema").glob("*.schema.json")):
        contents = _schema(p.name)
        resources.append((contents.get("$id", p.name), Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    """A validator for ``resources/schema/<name>``; its relative ``$ref``s resolve to sibling files."""
    import jsonschema

    schema = _schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=_registry())


VALIDATED_FILE = "validated.json"


@lru_cache(maxsize=1)
def schemas_digest() -> str:
    """One SHA-256 over every schema file (names and bytes): a schema change invalidates all
    earlier validations."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(resource("schema").glob("*.schema.json")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


_use_record = True


def check_in_full() -> None:
    """From now on in this process, validate every file against its schema, whatever
    ``resources/validated.json`` says (``sdgkit framework validate`` exists to check)."""
    global _use_record
    _use_record = False
    already_validated.cache_clear()
    load_framework.cache_clear()


@lru_cache(maxsize=1)
def already_validated() -> frozenset[str]:
    """``schema:sha256`` of the resource files that passed their schema when ``resources/validated.json``
    was written (``scripts/check_resources.py``), if it was written with today's schemas.

    The same bytes against the same schema give the same answer, so a file that matches is not
    validated again at every start (about 0.13 s, a fifth of the desktop app's launch); an edited
    file, an added overlay or a changed schema is validated in full. A damaged or missing list
    only means everything is validated."""
    if not _use_record:
        return frozenset()
    try:
        doc = json.loads(resource(VALIDATED_FILE).read_text(encoding="utf-8"))
        if doc.get("schemas") == schemas_digest():
            return frozenset(x for x in doc.get("valid", []) if isinstance(x, str))
    except (OSError, ValueError, AttributeError):
        pass
    return frozenset()


def validate_against(schema_name: str, data: Any, path: Path, digest: str | None = None) -> None:
    """Raise :class:`ValidationError` unless ``data`` (read from ``path``) follows the schema; ``digest``
    (the file's SHA-256) lets a file validated before with the same schemas through at once."""
    if digest is not None and f"{schema_name}:{digest}" in already_validated():
        return
    errors = sorted(_validator(schema_name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        raise ValidationError(N_("The file {path} does not follow the format at {where}: {detail}"),
                              path=str(path), where=where, detail=err.message[:300])


def _field(d: dict[str, Any]) -> Field:
    return Field(
        id=d["id"], type=d["type"], label=d["label"], required=d.get("required", True), help=d.get("help"),
        multiline=d.get("multiline", False), min_length=d.get("min_length"), max_length=d.get("max_length"),
        options=tuple(Option(o["id"], o["label"]) for o in d.get("options", ())),
        min=d.get("min"), max=d.get("max"), unit=d.get("unit"), unit_label=d.get("unit_label"),
        integer=d.get("integer", False), columns=tuple(_field(c) for c in d.get("columns", ())),
        min_rows=d.get("min_rows", 0), max_rows=d.get("max_rows"), required_if=d.get("required_if"),
    )


def _requirement(d: dict[str, Any], crit_id: str, stage_id: str, origin: str = "global") -> Requirement:
    return Requirement(
        id=d["id"], criterion_id=crit_id, stage_id=stage_id, title=d["title"], guidance=d["guidance"],
        mandatory=d.get("mandatory", True), fields=tuple(_field(f) for f in d["fields"]),
        evidence=tuple(EvidenceExpectation(e["kind"], e.get("min", 0), e.get("max"), e.get("description") or {})
                       for e in d.get("evidence", ())),
        indicators=tuple(d.get("indicators", ())), min_indicator_values=d.get("min_indicator_values", 0),
        origin=origin,
    )


def framework_dir() -> Path:
    return resource("framework", "global")


def overlay_path(overlay_id: str) -> Path:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", overlay_id):
        raise ValidationError(N_("Unknown national overlay {overlay}."), overlay=overlay_id)
    return resource("framework", "overlays", f"{overlay_id}.json")


def load_raw(base_dir: Path | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    base_dir = base_dir or framework_dir()
    meta_path = base_dir / "framework.json"
    meta, digest = _read_json_digest(meta_path)
    validate_against("framework.schema.json", meta, meta_path, digest)
    stages = []
    for sid in meta["stages"]:
        p = base_dir / f"stage-{sid}.json"
        data, digest = _read_json_digest(p)
        validate_against("stage.schema.json", data, p, digest)
        stages.append(data)
    return meta, stages


def _version_major(v: str) -> str:
    return v.lstrip("^~").split(".")[0]


def apply_overlay(meta: dict[str, Any], stages: list[dict[str, Any]], overlay: dict[str, Any],
                  path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Merge an overlay over raw framework data (pure: returns new objects)."""
    if overlay["base"] != meta["id"] or _version_major(overlay["base_version"]) != _version_major(meta["version"]):
        raise ValidationError(N_("The overlay {path} is for framework {base} {version}, not {actual}."),
                              path=str(path), base=overlay["base"], version=overlay["base_version"],
                              actual=f"{meta['id']} {meta['version']}")
    meta = copy.deepcopy(meta)
    stages = copy.deepcopy(stages)
    for lid, change in overlay.get("levels", {}).items():
        for lv in meta["levels"]:
            if lv["id"] == lid:
                lv["name"] = change["name"]
                break
        else:
            raise ValidationError(N_("The overlay {path} renames an unknown level {level}."), path=str(path), level=lid)
    if "stage_levels" in overlay:
        meta["stage_levels"] = dict(overlay["stage_levels"])
    reqs = {r["id"]: r for s in stages for c in s["criteria"] for r in c["requirements"]}
    for rid, change in overlay.get("change", {}).items():
        if rid not in reqs:
            raise ValidationError(N_("The overlay {path} changes an unknown requirement {requirement}."),
                                  path=str(path), requirement=rid)
        reqs[rid].update(copy.deepcopy(change))
        reqs[rid]["_origin"] = overlay["id"]
    hidden = set(overlay.get("hide", ()))
    unknown = hidden - reqs.keys()
    if unknown:
        raise ValidationError(N_("The overlay {path} hides an unknown requirement {requirement}."),
                              path=str(path), requirement=sorted(unknown)[0])
    for add in overlay.get("add", ()):
        crit = next((c for s in stages for c in s["criteria"] if c["id"] == add["criterion"]), None)
        if crit is None:
            raise ValidationError(N_("The overlay {path} adds to an unknown criterion {criterion}."),
                                  path=str(path), criterion=add["criterion"])
        new = copy.deepcopy(add["requirement"])
        if new["id"] in reqs:
            raise ValidationError(N_("The overlay {path} adds requirement {requirement}, which already exists."),
                                  path=str(path), requirement=new["id"])
        new["_origin"] = overlay["id"]
        crit["requirements"].append(new)
        reqs[new["id"]] = new
    for s in stages:
        for c in s["criteria"]:
            c["requirements"] = [r for r in c["requirements"] if r["id"] not in hidden]
    return meta, stages


def build(meta: dict[str, Any], stages: list[dict[str, Any]], overlay: dict[str, Any] | None = None) -> Framework:
    stage_objs = []
    for s in stages:
        crits = []
        for c in s["criteria"]:
            reqs = tuple(_requirement(r, c["id"], s["id"], r.get("_origin", "global")) for r in c["requirements"])
            crits.append(Criterion(c["id"], c["letter"], s["id"], c["title"], c["statement"], reqs))
        stage_objs.append(Stage(s["id"], s["order"], s["title"], s["summary"], s.get("source", ""), tuple(crits)))
    stage_objs.sort(key=lambda st: st.order)
    return Framework(
        id=meta["id"], version=meta["version"], title=meta["title"], languages=tuple(meta["languages"]),
        levels=tuple(Level(lv["id"], lv["name"]) for lv in meta["levels"]),
        stage_levels=dict(meta["stage_levels"]),
        evidence_kinds={k["id"]: EvidenceKind(k["id"], k["name"], tuple(k.get("extensions", ())))
                        for k in meta["evidence_kinds"]},
        stages=tuple(stage_objs),
        overlay_id=overlay["id"] if overlay else None,
        overlay_version=overlay["version"] if overlay else None,
        mechanism_name=overlay.get("mechanism", {}).get("name") if overlay else None,
    )


def load_overlay_file(path: Path) -> dict[str, Any]:
    data, digest = _read_json_digest(path)
    validate_against("overlay.schema.json", data, path, digest)
    return data


@lru_cache(maxsize=8)
def load_framework(overlay_id: str | None = None) -> Framework:
    """The global framework, with the named national overlay merged over it if given."""
    meta, stages = load_raw()
    overlay = None
    if overlay_id:
        p = overlay_path(overlay_id)
        if not p.exists():
            raise ValidationError(N_("Unknown national overlay {overlay}."), overlay=overlay_id)
        overlay = load_overlay_file(p)
        meta, stages = apply_overlay(meta, stages, overlay, p)
    return build(meta, stages, overlay)


def available_overlays() -> list[str]:
    d = resource("framework", "overlays")
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


# -- answer validation -------------------------------------------------------------------------

def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def validate_value(fld: Field, value: Any) -> str | None:
    """Return None if ``value`` is a valid answer for ``fld`` (blank counts as valid: "not answered"),
    else an N_()-marked message id (placeholders: {min}, {max}, {unit})."""
    if _is_blank(value):
        return None
    t = fld.type
    if t == "text":
        if not isinstance(value, str):
            return N_("Enter text.")
        if fld.max_length is not None and len(value) > fld.max_length:
            return N_("Too long: at most {max} characters.")
        return None
    if t == "yes_no":
        return None if isinstance(value, bool) else N_("Choose yes or no.")
    if t == "single_choice":
        return None if value in fld.option_ids() else N_("Choose one of the options.")
    if t == "multiple_choice":
        if not isinstance(value, list) or not all(v in fld.option_ids() for v in value) or len(set(value)) != len(value):
            return N_("Choose from the options.")
        return None
    if t == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return N_("Enter a number.")
        if fld.integer and not float(value).is_integer():
            return N_("Enter a whole number.")
        if fld.min is not None and value < fld.min:
            return N_("The number must be at least {min}.")
        if fld.max is not None and value > fld.max:
            return N_("The number must be at most {max}.")
        return None
    if t == "date":
        if not isinstance(value, str):
            return N_("Enter a date.")
        try:
            date.fromisoformat(value)
        except ValueError:
            return N_("Enter a date.")
        return None
    if t == "table":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            return N_("The table is not in the expected shape.")
        if fld.max_rows is not None and len(value) > fld.max_rows:
            return N_("Too many rows: at most {max}.")
        col_ids = {c.id for c in fld.columns}
        for row in value:
            if set(row) - col_ids:
                return N_("The table is not in the expected shape.")
            for col in fld.columns:
                err = validate_value(col, row.get(col.id))
                if err:
                    return err
        return None
    return N_("The table is not in the expected shape.")


def is_required(fld: Field, answers: dict[str, Any]) -> bool:
    if fld.required_if:
        return answers.get(fld.required_if["field"]) == fld.required_if.get("equals")
    return fld.required


def missing_reason(fld: Field, value: Any, answers: dict[str, Any]) -> str | None:
    """Why a field blocks completeness (N_ message id) or None when it does not."""
    if not is_required(fld, answers):
        return None
    if _is_blank(value):
        return N_("Not answered yet.")
    err = validate_value(fld, value)
    if err:
        return err
    if fld.type == "text" and fld.min_length and len(value.strip()) < fld.min_length:
        return N_("Too short: at least {min} characters.")
    if fld.type == "table":
        rows = [r for r in value if not all(_is_blank(v) for v in r.values())]
        if len(rows) < fld.min_rows:
            return N_("Add at least {min} rows.")
        for row in rows:
            for col in fld.columns:
                if col.required and _is_blank(row.get(col.id)):
                    return N_("Fill every required cell of the table.")
    return None


def reason_params(fld: Field, msgid: str) -> dict[str, Any]:
    """Values for the placeholders in a validation message of ``fld``."""
    return {
        "min": fld.min_rows if "rows" in msgid else (fld.min_length if "characters" in msgid and "least" in msgid else fld.min),
        "max": fld.max_rows if "rows" in msgid else (fld.max_length if "characters" in msgid else fld.max),
        "unit": fld.unit or "",
    }
