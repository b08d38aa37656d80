"""installer/icu_trim.py: Qt's ICU data library trimmed to the kit's six languages.

The venv's own PySide6 ``libicudata.so.<N>`` is trimmed once per module into a temp dir (about a
second). The ELF result is checked with readelf/icupkg directly, then a subprocess Python loads it
for real with ``LD_PRELOAD`` (the dynamic loader then satisfies libicuuc's ``NEEDED
libicudata.so.<N>`` with the preloaded object of the same SONAME) and runs Qt's ICU-backed
services. Needs ``icu-devtools``, ``gcc`` and ``binutils`` (installed in CI): never skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("icu_trim", ROOT / "installer" / "icu_trim.py")
icu_trim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(icu_trim)


def _qt_icu_data() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.[0-9]*"))
    assert found, "the PySide6 wheel has no bundled libicudata.so.<N>"
    return found[0]


def _tool(name: str) -> str:
    return icu_trim.find_tools()[name]


def _readelf(*args: str) -> str:
    return subprocess.run([_tool("readelf"), *args], capture_output=True, text=True, check=True,
                          env=dict(os.environ, LC_ALL="C")).stdout


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    src = _qt_icu_data()
    out = tmp_path_factory.mktemp("icu")
    report = icu_trim.trim_icu_data(src, out / src.name, out / "work")
    return {"src": src, "dst": out / src.name, "work": out / "work", "report": report}


def _items_of(lib: Path, tmp: Path) -> tuple[list[str], str]:
    """(icupkg -l of the data symbol of lib, icupkg's complaints about missing dependencies)."""
    info = icu_trim.elf_info(icu_trim.find_tools(), lib)
    sym = icu_trim.data_symbol(info, lib)
    dat = tmp / f"{sym['name'][:-4]}l.dat"
    dat.write_bytes(icu_trim.read_symbol_bytes(lib, info, sym))
    p = subprocess.run([_tool("icupkg"), "-l", str(dat)], capture_output=True, text=True)
    return p.stdout.split(), p.stderr


def test_trimmed_library_is_small_and_links_like_the_original(trimmed):
    src, dst, rep = trimmed["src"], trimmed["dst"], trimmed["report"]
    assert dst.stat().st_size < 0.40 * src.stat().st_size
    assert rep["original_bytes"] == src.stat().st_size and rep["trimmed_bytes"] == dst.stat().st_size
    assert 500 < rep["items_kept"] < rep["items_total"] / 2

    soname = re.compile(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]")
    assert soname.search(_readelf("-d", str(dst))).group(1) == soname.search(_readelf("-d", str(src))).group(1) \
        == src.name
    symbol = f"icudt{src.name.rsplit('.', 1)[1]}_dat"  # libicudata.so.73 -> icudt73_dat
    exported = [ln.split() for ln in _readelf("--dyn-syms", "-W", str(dst)).splitlines() if ln.endswith(" " + symbol)]
    assert len(exported) == 1
    _, value, size, typ, bind, vis, ndx, _ = exported[0]
    assert (typ, bind, vis) == ("OBJECT", "GLOBAL", "DEFAULT") and ndx != "UND"
    assert int(value, 16) % 16 == 0 and int(size, 0) == rep["trimmed_data_bytes"]
    assert "No version information" in _readelf("-V", str(dst))


def test_trimmed_package_keeps_the_six_languages_and_drops_the_rest(trimmed, tmp_path):
    items, complaints = _items_of(trimmed["dst"], tmp_path)
    assert len(items) == trimmed["report"]["items_kept"]
    for kept in ("coll/zh.res", "coll/ar.res", "coll/ru.res", "coll/es.res", "coll/fr.res", "coll/en.res",
                 "coll/zh_Hans_CN.res", "coll/ucadata.icu", "zh_Hans_CN.res", "zone/zh.res",
                 "zoneinfo64.res", "metaZones.res", "timezoneTypes.res", "windowsZones.res",
                 "likelySubtags.res", "supplementalData.res", "cnvalias.icu", "gb18030.cnv",
                 "ibm-5347_P100-1998.cnv", "uts46.nrm", "brkitr/word.brk", "res_index.res"):
        assert kept in items, kept
    for dropped in ("coll/th.res", "th.res", "de.res", "coll/sv.res", "zone/ja.res", "translit/root.res",
                    "brkitr/cjdict.dict", "brkitr/thaidict.dict", "ibm-37_P100-1995.cnv", "unames.icu"):
        assert dropped not in items, dropped
    assert not [i for i in items if i.startswith("translit/")]
    # the only dangling references are the dropped break dictionaries named by brkitr/root.res
    lines = [ln for ln in complaints.splitlines() if ln.strip()]
    assert lines and all(re.fullmatch(r"Item brkitr/root\.res depends on missing item brkitr/\w+dict\.dict", ln)
                         for ln in lines), lines


def test_res_index_lists_only_the_kept_locales(trimmed):
    # genrb wrote it; derb reads it back as ICU would
    coll = trimmed["work"] / "res_index.new" / "coll"
    dump = subprocess.run([_tool("derb"), "-c", "-s", str(coll), "-i", str(coll), "res_index"],
                          capture_output=True, text=True, check=True).stdout
    installed = set(re.findall(r"^\s+(\w+) \{ \"\" \}", dump, re.M))
    assert {"ar", "en", "es", "fr", "ru", "zh", "zh_Hans_CN"} <= installed
    assert not installed & {"th", "sv", "de", "ja"}


def test_cli_gives_the_same_library(trimmed, tmp_path):
    out = tmp_path / trimmed["src"].name
    p = subprocess.run([sys.executable, str(ROOT / "installer" / "icu_trim.py"), str(trimmed["src"]), str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert f"{trimmed['report']['items_kept']} of {trimmed['report']['items_total']} items kept" in p.stdout
    assert out.read_bytes() == trimmed["dst"].read_bytes()  # reproducible
    # and idempotent: trimming the trimmed library in place changes nothing
    p = subprocess.run([sys.executable, str(ROOT / "installer" / "icu_trim.py"), str(out), str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == trimmed["dst"].read_bytes()


def test_a_missing_dependency_fails_the_trim(tmp_path, monkeypatch):
    # GBK (windows-936-2000) is an extension table over ibm-1386: icupkg must refuse to drop the base
    monkeypatch.delitem(icu_trim.CONVERTERS, "ibm-1386_P100-2001")
    with pytest.raises(SystemExit, match="windows-936-2000.cnv depends on missing item ibm-1386_P100-2001.cnv"):
        icu_trim.trim_icu_data(_qt_icu_data(), tmp_path / "out.so", tmp_path / "work")
    assert not (tmp_path / "out.so").exists()


def test_fails_loudly_on_a_library_without_icu_data(tmp_path):
    not_icu = _qt_icu_data().with_name("libicuuc.so." + _qt_icu_data().name.rsplit(".", 1)[1])
    with pytest.raises(SystemExit, match="icudt<N>_dat"):
        icu_trim.trim_icu_data(not_icu, tmp_path / "out.so", tmp_path / "work")
    assert not (tmp_path / "out.so").exists()


def test_fails_loudly_when_a_tool_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(icu_trim, "_EXTRA_TOOL_DIRS", ())
    with pytest.raises(SystemExit, match=r"missing tool\(s\): icupkg, genccode.*icu-devtools"):
        icu_trim.trim_icu_data(_qt_icu_data(), tmp_path / "out.so", tmp_path / "work")


PROBE = r"""
import functools, json, sys
from PySide6.QtCore import (QBuffer, QByteArray, QCollator, QCoreApplication, QDateTime, QIODevice,
                            QLocale, QStringConverter, QTimeZone, QXmlStreamReader)
app = QCoreApplication([])

def order(loc, words):
    return sorted(words, key=functools.cmp_to_key(QCollator(QLocale(loc)).compare))

def decode(encoding, raw):  # QXmlStreamReader decodes through QStringDecoder(encoding), i.e. ucnv
    buf = QBuffer()
    buf.setData(QByteArray(b'<?xml version="1.0" encoding="' + encoding.encode() + b'"?><a>' + raw + b"</a>"))
    buf.open(QIODevice.OpenModeFlag.ReadOnly)
    x = QXmlStreamReader(buf)
    x.readNextStartElement()
    text = x.readElementText()
    return x.errorString() if x.hasError() else text

nairobi = QTimeZone(b"Africa/Nairobi")
maps = [ln.split()[-1] for ln in open("/proc/self/maps") if "libicudata" in ln]
json.dump({
    "zh": order("zh_CN", ["中", "安", "北"]), "ru": order("ru", ["я", "ё", "е", "ж", "а"]),
    "es": order("es", ["ñu", "oso", "nube", "nzz"]), "sv": order("sv", ["ä", "z", "a"]),
    "gb18030": decode("GB18030", "中文，简体".encode("gb18030")),
    "koi8r": decode("KOI8-R", "Привет".encode("koi8_r")),
    "cp1256": decode("windows-1256", "مرحبا".encode("cp1256")),
    "ebcdic": decode("IBM037", "<b/>".encode("cp037")),
    "codecs": len(QStringConverter.availableCodecs()),
    "nairobi": [nairobi.offsetFromUtc(QDateTime.currentDateTimeUtc()),
                nairobi.displayName(QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale("fr"))],
    "icudata": sorted(set(maps)),
}, sys.stdout, ensure_ascii=False)
"""


def _probe(preload: Path | None) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = str(preload)
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_qt_runs_on_the_trimmed_data(trimmed):
    original, small = _probe(None), _probe(trimmed["dst"])
    # the trimmed library is the one mapped, and it is in effect: the dropped Swedish tailoring
    # and EBCDIC table are gone (root order; "unsupported") while the original has them
    assert original["icudata"] == [str(trimmed["src"].resolve())]
    assert small["icudata"] == [str(trimmed["dst"].resolve())]
    assert original["sv"] == ["a", "z", "ä"] and small["sv"] == ["a", "ä", "z"]
    assert original["ebcdic"] == "Start tag expected." and small["ebcdic"] == "Encoding IBM037 is unsupported"
    assert 50 < small["codecs"] < original["codecs"]
    # what the kit needs works exactly as before
    assert small["zh"] == ["安", "北", "中"]  # pinyin: an, bei, zhong
    assert small["ru"] == ["а", "е", "ё", "ж", "я"]
    assert small["es"] == ["nube", "nzz", "ñu", "oso"]
    assert small["gb18030"] == "中文，简体" and small["koi8r"] == "Привет" and small["cp1256"] == "مرحبا"
    assert small["nairobi"] == [10800, "heure normale d’Afrique de l’Est"]
    for key in ("zh", "ru", "es", "gb18030", "koi8r", "cp1256", "nairobi"):
        assert small[key] == original[key], key
