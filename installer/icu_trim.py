#!/usr/bin/env python3
"""Trim Qt's bundled ICU data library to what the kit can use ("small ICU").

    python installer/icu_trim.py SRC DST [--workdir DIR]

Why
---
PySide6 ships ``Qt/lib/libicudata.so.<N>``: a shared library whose only content is one exported
symbol, ``icudt<N>_dat``, holding ICU's *common data package* (an ``icudt<N>l.dat`` file: a table
of contents plus ~3900 items -- locale bundles for every CLDR language, ~190 code page tables,
dictionaries for Thai/Lao/Khmer/Burmese/CJK word breaking, transliterators...). At ~31 MB it is the
largest file of the frozen kit. The kit speaks six languages (ar, en, es, fr, ru, zh), and Qt Core
is the only ICU client in the bundle: it calls ICU for collation (``ucol_*``), locale case mapping
(``u_strToUpper/Lower``, code only), code pages (``ucnv_*``) and time zone names (``ucal_*``).

How (the same technique as Node.js ``--with-intl=small-icu`` and Chromium's filtered ICU data)
---------------------------------------------------------------------------------------------
1. read the data blob out of the library: the bytes of symbol ``icudt<N>_dat`` (its address is
   mapped to a file offset through the ELF program headers);
2. ``icupkg -r`` removes every item the rules below do not keep; icupkg also checks that every
   kept item still finds what it depends on (pool bundles, ``%%Parent`` locales, the base table of
   an extension-only code page, ``coll/ucadata.icu``...) and fails otherwise -- the one accepted
   exception being brkitr/root.res naming the dropped break dictionaries (see SOFT_DEPENDENCY);
3. the ``res_index.res`` of each locale tree (the "installed locales" list behind
   ``uloc_getAvailable``/``ucol_getAvailable``) is rewritten to list only the kept locales
   (``derb`` dumps the original, ``genrb`` compiles the filtered one, ``icupkg -a`` swaps it in);
4. ``genccode -a gcc -e icudt<N>`` turns the trimmed package back into assembly defining the same
   16-byte aligned symbol, and ``gcc -shared -nostdlib`` links it with the original SONAME;
5. the result is checked (ELF class/machine, SONAME, exported symbol, no symbol versioning, data
   read back equal to the trimmed package and listable by icupkg) -- any surprise raises
   :class:`SystemExit`, so a build never ships a broken library silently.

ICU looks items up by name in the package and falls back gracefully (to a parent locale, then to
``root``) when a locale is missing; a code page that was dropped simply fails to open (Qt then
reports the codec as unavailable), exactly as if ICU had been built without it.

Tools: ``icupkg``, ``genccode``, ``derb``, ``genrb`` (Debian/Ubuntu: ``icu-devtools``; they only
handle the package container and resource bundle format, so an older ICU's tools work on newer
data), ``gcc`` and ``readelf`` (``binutils``). Standard library only otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# --------------------------------------------------------------------------------------------
# What to keep. Item names are as ``icupkg -l`` prints them (no "icudt73l/" prefix), e.g.
# "coll/zh.res", "zoneinfo64.res", "ibm-5347_P100-1998.cnv". Everything not kept is removed.
# --------------------------------------------------------------------------------------------

#: The kit's languages (app/i18n). Each is kept with *all* its regional, script and alias
#: variants (zh_Hans_CN, zh_CN alias, zh_Hant..., es_419, en_001/en_GB, ar_SA/ar_EG...): they are
#: small, and keeping whole families keeps every %%Parent chain (en_GB -> en_001 -> en) intact.
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")

#: Locale trees kept for those languages (root.res + pool.res + res_index.res of each tree too).
#: "" is the main tree (calendar, numbers... used by ucal_open); Qt itself uses coll and zone,
#: the others are kept so that any ICU service asked for one of the six languages finds its data.
LOCALE_TREES = ("", "brkitr/", "coll/", "curr/", "lang/", "rbnf/", "region/", "unit/", "zone/")

#: Per-tree infrastructure: the root locale (final fallback), the pool bundle the locale bundles
#: share their keys/strings with, and the installed-locales index (rewritten, see above).
TREE_INFRASTRUCTURE = ("root.res", "pool.res", "res_index.res")

#: Non-locale items kept by exact name, with the reason.
COMMON_ITEMS = {
    # collation
    "coll/ucadata.icu": "root collation (DUCET) tables; every collator is built on it",
    # normalization / IDNA (NFC, case folding and core properties are compiled into libicuuc)
    "nfkc.nrm": "NFKC normalization",
    "nfkc_cf.nrm": "NFKC_Casefold normalization",
    "uts46.nrm": "UTS #46 IDNA mapping",
    # character properties not compiled into the code
    "ulayout.icu": "Indic/vertical layout properties (u_getIntPropertyValue)",
    "uemoji.icu": "emoji properties (u_hasBinaryProperty, break rules)",
    # code pages
    "cnvalias.icu": "code page alias table: every ucnv_open(name) resolves names through it",
    # time zones (ucal_*: Qt's time zone display names and ID canonicalization)
    "zoneinfo64.res": "time zone rules",
    "metaZones.res": "zone -> metazone mapping for display names",
    "timezoneTypes.res": "zone ID aliases and BCP 47 zone types",
    "windowsZones.res": "Windows <-> IANA zone ID mapping",
    # small supplemental data used by locale, calendar, number and plural services
    "supplementalData.res": "calendar preferences, week data, currencies, territory info",
    "likelySubtags.res": "likely subtags (zh -> zh_Hans_CN) for locale fallback",
    "langInfo.res": "likely subtags / locale distance (LocaleMatcher, XLikelySubtags)",
    "metadata.res": "locale alias/canonicalization data",
    "keyTypeData.res": "BCP 47 -u- keyword mapping (e.g. collation=pinyin)",
    "numberingSystems.res": "numbering systems (arab, latn, hanidec...)",
    "plurals.res": "plural rules",
    "pluralRanges.res": "plural range rules",
    "dayPeriods.res": "day period rules (am/pm, 'in the morning')",
    "genderList.res": "list gender rules",
    "grammaticalFeatures.res": "grammatical features (unit formatting)",
    "units.res": "unit conversion data",
    "currencyNumericCodes.res": "ISO 4217 numeric codes",
    "icuver.res": "ICU/CLDR version info",
    "icustd.res": "ICU standard-conformance stub",
}

#: Break iteration: the root rule sets (char/word/line/sentence/title, incl. CJK line variants)
#: are small. The dictionaries are dropped: no library in the bundle calls ubrk_* (Qt's
#: QTextBoundaryFinder and text layout use Qt's own Unicode tables), and cjdict.dict alone is 2 MB.
BREAK_RULES = re.compile(r"^brkitr/[^/]+\.brk$")

#: Code page tables kept (the ".cnv" items; UTF-8/16/32, US-ASCII, ISO-8859-1, UTF-7, SCSU,
#: BOCU-1, CESU-8, HZ, ISO-2022-JP and IMAP are algorithmic and need no table -- HZ and ISO-2022-JP
#: use the GBK/JIS tables below). The set: every legacy encoding of the WHATWG Encoding Standard
#: that ICU has (what browsers decode), the DOS and Mac code pages of the kit's languages'
#: regions, and the CJK ones. Dropped (~4 MB): EBCDIC, Big5-HKSCS, EUC-TW/CNS 11643, ISO-2022-CN/KR,
#: windows-949, X11 compound text, LMBCS, GSM 03.38 and rarely used IBM tables (ibm-1006...).
#: Extension-only tables (GBK, Big5) need a base table; icupkg refuses to write the package if
#: one is missing. Measured: 57 tables, 1.09 MB of the original 5.13 MB.
CONVERTERS = {
    # Windows ANSI code pages
    "ibm-5346_P100-1998": "windows-1250 (Central European)",
    "ibm-5347_P100-1998": "windows-1251 (Cyrillic)",
    "ibm-5348_P100-1997": "windows-1252 (Western)",
    "ibm-5349_P100-1998": "windows-1253 (Greek)",
    "ibm-5350_P100-1998": "windows-1254 (Turkish)",
    "ibm-9447_P100-2002": "windows-1255 (Hebrew)",
    "ibm-9448_X100-2005": "windows-1256 (Arabic)",
    "ibm-9449_P100-2002": "windows-1257 (Baltic)",
    "ibm-5354_P100-1998": "windows-1258 (Vietnamese)",
    "windows-874-2000": "windows-874 / TIS-620 (Thai)",
    # ISO 8859 (ISO-8859-1 is algorithmic; ICU has no ISO-8859-16 table)
    "ibm-912_P100-1995": "ISO-8859-2",
    "ibm-913_P100-2000": "ISO-8859-3",
    "ibm-914_P100-1995": "ISO-8859-4",
    "ibm-915_P100-1995": "ISO-8859-5 (Cyrillic)",
    "ibm-1089_P100-1995": "ISO-8859-6 (Arabic)",
    "ibm-9005_X110-2007": "ISO-8859-7 (Greek)",
    "ibm-5012_P100-1999": "ISO-8859-8 / -8-I (Hebrew)",
    "ibm-920_P100-1995": "ISO-8859-9",
    "iso-8859_10-1998": "ISO-8859-10",
    "iso-8859_11-2001": "ISO-8859-11",
    "ibm-921_P100-1995": "ISO-8859-13",
    "iso-8859_14-1998": "ISO-8859-14",
    "ibm-923_P100-1998": "ISO-8859-15",
    # Cyrillic
    "ibm-878_P100-1996": "KOI8-R",
    "ibm-1168_P100-2002": "KOI8-U",
    "ibm-866_P100-1995": "IBM866 (DOS Cyrillic)",
    "ibm-855_P100-1995": "IBM855",
    "ibm-1125_P100-1997": "cp1125 (DOS Ukrainian)",
    "macos-7_3-10.2": "x-mac-cyrillic",
    # DOS code pages (Western, Arabic, Greek, Hebrew, Central European, Turkish, Baltic)
    "ibm-437_P100-1995": "IBM437",
    "ibm-850_P100-1995": "IBM850",
    "ibm-858_P100-1997": "IBM858 (IBM850 + euro)",
    "ibm-860_P100-1995": "IBM860",
    "ibm-863_P100-1995": "IBM863",
    "ibm-865_P100-1995": "IBM865",
    "ibm-720_P100-1997": "IBM720 (DOS Arabic)",
    "ibm-864_X110-1999": "IBM864 (DOS Arabic)",
    "ibm-737_P100-1997": "IBM737",
    "ibm-869_P100-1995": "IBM869",
    "ibm-862_P100-1995": "IBM862",
    "ibm-852_P100-1995": "IBM852",
    "ibm-857_P100-1995": "IBM857",
    "ibm-775_P100-1996": "IBM775",
    # Mac
    "macos-0_2-10.2": "macintosh (Mac Roman)",
    "macos-29-10.2": "x-mac-ce",
    "macos-6_2-10.4": "x-mac-greek",
    "macos-35-10.2": "x-mac-turkish",
    # Chinese
    "gb18030": "GB18030",
    "windows-936-2000": "GBK / windows-936 / cp936 (extension of ibm-1386)",
    "ibm-1386_P100-2001": "base table of windows-936-2000",
    "ibm-1383_P110-1999": "GB2312 / EUC-CN",
    "windows-950-2000": "Big5 / windows-950 (extension of ibm-1373)",
    "ibm-1373_P100-2002": "base table of windows-950-2000",
    # Japanese
    "ibm-943_P15A-2003": "Shift_JIS / windows-31j",
    "euc-jp-2007": "EUC-JP",
    "jisx-212": "JIS X 0212 (ISO-2022-JP-1/-2)",
    # Korean (not a kit language: only the WHATWG EUC-KR; windows-949 would need +140 kB)
    "ibm-970_P110_P110-2006_U2": "EUC-KR",
}

#: Locale bundles of other languages that a kept bundle depends on.
EXTRA_LOCALE_ITEMS = {
    "rbnf/yue.res": "%%Parent of rbnf/zh_Hant_HK (Hong Kong spell-out rules are Cantonese's)",
}

#: References that may dangle: brkitr/root.res names the dictionary of each script it can
#: segment. Without the file ICU segments those scripts without a dictionary (ICU's own data
#: filter drops dictionaries the same way). Any *other* missing dependency stays fatal.
SOFT_DEPENDENCY = re.compile(r"^Item brkitr/root\.res depends on missing item brkitr/\w+\.dict$")

#: Must be in the trimmed package; checked after trimming, so a renamed item in a future ICU
#: fails the build instead of silently producing a library without collation or time zones.
REQUIRED_ITEMS = (
    "root.res", "pool.res", "coll/root.res", "coll/ucadata.icu", "zone/root.res", "zone/pool.res",
    "cnvalias.icu", "zoneinfo64.res", "metaZones.res", "timezoneTypes.res", "windowsZones.res",
    "supplementalData.res", "likelySubtags.res", "brkitr/word.brk", "brkitr/line.brk",
) + tuple(f"{tree}{lang}.res" for lang in LANGUAGES for tree in ("", "coll/", "zone/"))

# Every removal is re-checked against this: none of these may survive (a sanity check of the
# rules themselves -- e.g. a too-greedy pattern keeping every locale would be caught here).
MUST_BE_DROPPED = ("coll/th.res", "th.res", "translit/root.res", "brkitr/cjdict.dict")

_LOCALE_RE = re.compile(
    r"^(?:%s)(?:%s)(?:_\w*)?\.res$"  # "_\w*": also es_.res / es__TRADITIONAL.res (coll keywords)
    % ("|".join(re.escape(t) for t in LOCALE_TREES), "|".join(LANGUAGES)))
_INFRA_RE = re.compile(
    r"^(?:%s)(?:%s)$"
    % ("|".join(re.escape(t) for t in LOCALE_TREES), "|".join(re.escape(i) for i in TREE_INFRASTRUCTURE)))

TOOLS = ("icupkg", "genccode", "derb", "genrb", "gcc", "readelf")
# icupkg/genccode live in /usr/sbin on Debian, which is not on every user's PATH.
_EXTRA_TOOL_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_DATA_SYMBOL_RE = re.compile(r"^icudt(\d+)_dat$")


def keep_item(name: str) -> bool:
    """Whether the package item ``name`` (as listed by ``icupkg -l``) is kept."""
    if name.endswith(".cnv"):
        return name[:-4] in CONVERTERS
    if name in COMMON_ITEMS or name in EXTRA_LOCALE_ITEMS:
        return True
    return any(rule.match(name) for rule in (_LOCALE_RE, _INFRA_RE, BREAK_RULES))


def tree_of(name: str) -> str:
    """Report bucket of an item: its tree ("coll", "zone"...), or "main"/"converters"/"common"."""
    if "/" in name:
        return name.split("/", 1)[0]
    if name.endswith(".cnv"):
        return "converters"
    if re.match(r"^(?:[a-z]{2,3}(?:_\w*)?|root|pool|res_index)\.res$", name):
        return "main"  # locale bundles of the main tree
    return "common"  # supplemental bundles, normalization, properties, alias table...


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

def _fail(msg: str) -> SystemExit:
    return SystemExit(f"icu_trim: {msg}")


def find_tools() -> dict[str, str]:
    """Absolute path of every tool; SystemExit naming the missing ones (and the package)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_TOOL_DIRS])
    found = {t: shutil.which(t, path=search) for t in TOOLS}
    missing = [t for t, p in found.items() if not p]
    if missing:
        raise _fail(f"missing tool(s): {', '.join(missing)} (install the packages icu-devtools, "
                    "gcc and binutils)")
    return found  # type: ignore[return-value]


def _exec(cmd: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C")  # readelf & co. print localized text otherwise
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise _fail(f"cannot run {cmd[0]}: {exc}") from exc


def _run(cmd: list[str]) -> str:
    """Run a tool; its stdout, or SystemExit quoting its error output."""
    p = _exec(cmd)
    if p.returncode != 0:
        err = (p.stderr or p.stdout).strip().splitlines()
        shown = "\n  ".join(err[:15] + ([f"... ({len(err) - 15} more lines)"] if len(err) > 15 else []))
        raise _fail(f"{Path(cmd[0]).name} failed (exit {p.returncode}): {' '.join(cmd[1:])}\n  {shown}")
    return p.stdout


# --------------------------------------------------------------------------------------------
# ELF side (via readelf)
# --------------------------------------------------------------------------------------------

def elf_info(tools: dict[str, str], lib: Path) -> dict:
    """SONAME, class/machine, the ``icudt<N>_dat`` symbol and the LOAD segments of ``lib``."""
    readelf = tools["readelf"]
    header = _run([readelf, "-h", "-W", str(lib)])
    cls = re.search(r"^\s*Class:\s*(\S+)", header, re.M)
    machine = re.search(r"^\s*Machine:\s*(.+?)\s*$", header, re.M)
    data = re.search(r"^\s*Data:\s*(.+?)\s*$", header, re.M)
    if not (cls and machine and data):
        raise _fail(f"{lib}: not an ELF file readelf understands")
    soname = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", _run([readelf, "-d", "-W", str(lib)]))
    symbols = []
    for line in _run([readelf, "--dyn-syms", "-W", str(lib)]).splitlines():
        # Num: Value Size Type Bind Vis Ndx Name   (Size may be decimal or 0x hex)
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and _DATA_SYMBOL_RE.match(f[7].split("@")[0]):
            size = int(f[2], 0) if f[2].startswith("0x") else int(f[2])
            symbols.append({"name": f[7], "value": int(f[1], 16), "size": size, "type": f[3],
                            "bind": f[4], "vis": f[5], "ndx": f[6]})
    loads = []
    for line in _run([readelf, "-l", "-W", str(lib)]).splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append({"offset": int(f[1], 16), "vaddr": int(f[2], 16), "filesz": int(f[4], 16)})
    versioned = "Version definition section" in _run([readelf, "-V", "-W", str(lib)])
    return {"class": cls.group(1), "machine": machine.group(1), "data": data.group(1),
            "soname": soname.group(1) if soname else None, "symbols": symbols, "loads": loads,
            "versioned": versioned}


def data_symbol(info: dict, lib: Path) -> dict:
    """The single defined ``icudt<N>_dat`` symbol, or SystemExit."""
    defined = [s for s in info["symbols"] if s["ndx"] != "UND"]
    if len(defined) != 1:
        raise _fail(f"{lib}: expected exactly one exported icudt<N>_dat symbol, found "
                    f"{[s['name'] for s in defined] or 'none'}")
    sym = defined[0]
    if "@" in sym["name"]:
        raise _fail(f"{lib}: data symbol {sym['name']} is versioned; rebuilding versioned "
                    "symbols is not supported")
    if sym["type"] != "OBJECT" or sym["bind"] != "GLOBAL" or sym["size"] <= 0:
        raise _fail(f"{lib}: {sym['name']} is not a sized global data object: {sym}")
    return sym


def read_symbol_bytes(lib: Path, info: dict, sym: dict) -> bytes:
    """The bytes of ``sym``, located through the LOAD segment containing its address."""
    for seg in info["loads"]:
        if seg["vaddr"] <= sym["value"] and sym["value"] + sym["size"] <= seg["vaddr"] + seg["filesz"]:
            with open(lib, "rb") as fh:
                fh.seek(seg["offset"] + sym["value"] - seg["vaddr"])
                blob = fh.read(sym["size"])
            if len(blob) != sym["size"]:
                raise _fail(f"{lib}: file is truncated")
            return blob
    raise _fail(f"{lib}: {sym['name']} is not inside a file-backed LOAD segment")


# --------------------------------------------------------------------------------------------
# ICU common data package side
# --------------------------------------------------------------------------------------------

def package_items(blob: bytes) -> tuple[str, dict[str, int]]:
    """(prefix, {item name: size}) from the table of contents of a little-endian ICU .dat.

    Layout: uint16 headerSize, magic 0xda 0x27, UDataInfo (isBigEndian at byte 8, dataFormat
    "CmnD" at 12), then at headerSize: uint32 count, count x {uint32 nameOffset, dataOffset}
    relative to the TOC start; item data is contiguous, so a size is the distance to the next.
    """
    if len(blob) < 32 or blob[2:4] != b"\xda\x27" or blob[12:16] != b"CmnD":
        raise _fail("the data symbol does not hold an ICU common data package (no CmnD header)")
    if blob[8] != 0:
        raise _fail("big-endian ICU data is not supported")
    hs = struct.unpack_from("<H", blob, 0)[0]
    count = struct.unpack_from("<I", blob, hs)[0]
    entries = [struct.unpack_from("<II", blob, hs + 4 + 8 * i) for i in range(count)]
    names = []
    for name_off, _ in entries:
        start = hs + name_off
        names.append(blob[start:blob.index(b"\0", start)].decode("ascii"))
    ends = [d for _, d in entries[1:]] + [len(blob) - hs]
    prefixes = {n.split("/", 1)[0] for n in names}
    if len(prefixes) != 1:
        raise _fail(f"package items have several prefixes: {sorted(prefixes)[:5]}")
    sizes = {n.split("/", 1)[1]: end - d for n, (_, d), end in zip(names, entries, ends)}
    return prefixes.pop(), sizes


def _list_file(path: Path, names: list[str]) -> str:
    """An icupkg list file (the name must end in .txt, or icupkg takes it for one item)."""
    path.write_text("".join(f"{n}\n" for n in names), encoding="ascii")
    return str(path)


def icupkg(tools: dict[str, str], *args: str) -> str:
    """Run icupkg; its stdout. Every icupkg run checks the dependencies of the package items; if
    the only missing ones are SOFT_DEPENDENCY references, the run is repeated with --ignore-deps,
    any other complaint raises SystemExit."""
    cmd = [tools["icupkg"], *args]
    p = _exec(cmd)
    if p.returncode == 0:
        return p.stdout
    complaints = [ln.strip() for ln in p.stderr.splitlines() if ln.strip()]
    if not complaints or not all(SOFT_DEPENDENCY.match(ln) for ln in complaints):
        _run(cmd)  # raises, quoting icupkg
    return _run([cmd[0], "--ignore-deps", *args])


def icupkg_list(tools: dict[str, str], dat: Path) -> list[str]:
    return [ln.strip() for ln in icupkg(tools, "-l", str(dat)).splitlines() if ln.strip()]


def _parse_res_index(dump: str) -> dict:
    """CLDRVersion and the key lists of the tables in a ``derb`` dump of a res_index bundle."""
    out: dict = {"CLDRVersion": None, "tables": {}}
    depth, table = 0, None
    for raw in dump.splitlines():
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        m = re.match(r'^([\w-]+)\s*\{\s*"(.*)"\s*\}$', line)
        if m and depth == 1:
            if m.group(1) == "CLDRVersion":
                out["CLDRVersion"] = m.group(2)
            continue
        if m and depth == 2 and table:
            out["tables"][table].append(m.group(1))
            continue
        m = re.match(r"^([\w-]+)(?::\w+(?:\([^)]*\))?)?\s*\{$", line)
        if m:
            depth += 1
            if depth == 2:
                table = m.group(1)
                out["tables"][table] = []
            continue
        if line == "}":
            depth -= 1
            table = None if depth < 2 else table
            continue
        raise _fail(f"unexpected line in res_index dump: {raw!r}")
    if depth != 0 or "InstalledLocales" not in out["tables"]:
        raise _fail("could not parse a res_index dump (no InstalledLocales table)")
    return out


def rewrite_res_indexes(tools: dict[str, str], dat: Path, kept: list[str], workdir: Path) -> list[str]:
    """Write filtered res_index.res files under workdir/res_index.new; returns their item names."""
    kept_set = set(kept)
    items = [n for n in kept if n.endswith("res_index.res")]
    orig, new = workdir / "res_index.orig", workdir / "res_index.new"
    for d in (orig, new):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    icupkg(tools, "-x", _list_file(workdir / "res_index.txt", items), "-d", str(orig), str(dat))
    for item in items:
        tree = item[: -len("res_index.res")]  # "" or "coll/"
        src_dir = orig / tree
        parsed = _parse_res_index(_run([tools["derb"], "-c", "-s", str(src_dir), "-i", str(src_dir),
                                        "res_index"]))
        lines = ["// Generated by installer/icu_trim.py: installed locales after trimming.",
                 "res_index:table(nofallback) {"]
        if parsed["CLDRVersion"]:
            lines.append(f'    CLDRVersion {{ "{parsed["CLDRVersion"]}" }}')
        for table, locales in parsed["tables"].items():
            lines.append(f"    {table}:table {{")
            lines += [f'        {loc} {{ "" }}' for loc in locales if f"{tree}{loc}.res" in kept_set]
            lines.append("    }")
        lines.append("}")
        out_dir = new / tree
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "res_index.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _run([tools["genrb"], "-q", "-e", "UTF-8", "-s", str(out_dir), "-d", str(out_dir), "res_index.txt"])
        if not (out_dir / "res_index.res").is_file():
            raise _fail(f"genrb did not write {item}")
    return items


def build_library(tools: dict[str, str], dat: Path, entry: str, soname: str, out: Path,
                  workdir: Path) -> None:
    """genccode + gcc: a data-only shared library exporting ``<entry>_dat`` = the bytes of dat."""
    asm_dir = workdir / "asm"
    shutil.rmtree(asm_dir, ignore_errors=True)
    asm_dir.mkdir()
    _run([tools["genccode"], "-q", "-e", entry, "-a", "gcc", "-f", "icudata", "-d", str(asm_dir), str(dat)])
    asm = asm_dir / "icudata.S"
    if not asm.is_file():
        raise _fail(f"genccode did not write {asm} (wrote {[p.name for p in asm_dir.iterdir()]})")
    text_head = asm.read_text(encoding="ascii", errors="replace")[:2000]
    if f".globl {entry}_dat" not in text_head or ".balign 16" not in text_head:
        raise _fail("genccode output lacks the expected 16-byte aligned global data symbol")
    _run([tools["gcc"], "-shared", "-nostdlib", f"-Wl,-soname,{soname}", "-Wl,-z,noexecstack",
          "-Wl,-Bsymbolic", "-Wl,--build-id", "-s", "-o", str(out), str(asm)])


# --------------------------------------------------------------------------------------------
# The whole job
# --------------------------------------------------------------------------------------------

def _by_tree(sizes: dict[str, int], names) -> dict[str, dict[str, int]]:
    count, total = Counter(), Counter()
    for n in names:
        count[tree_of(n)] += 1
        total[tree_of(n)] += sizes[n]
    return {t: {"items": count[t], "bytes": total[t]} for t in sorted(total, key=lambda t: -total[t])}


def trim_icu_data(src: Path, dst: Path, workdir: Path) -> dict:
    """Write to ``dst`` a copy of the ICU data library ``src`` keeping only the items above.

    ``workdir`` holds the intermediate files (kept for inspection). Returns sizes before/after,
    item counts and per-tree sizes. Raises SystemExit on any failure or failed check.
    """
    started = time.monotonic()
    src, dst, workdir = Path(src), Path(dst), Path(workdir)
    tools = find_tools()
    if not src.is_file():
        raise _fail(f"no such file: {src}")
    src_stat = src.stat()  # before dst (which may be src) is replaced
    workdir.mkdir(parents=True, exist_ok=True)

    # 1. the data blob
    info = elf_info(tools, src)
    if not info["soname"]:
        raise _fail(f"{src} has no SONAME")
    if info["versioned"]:
        raise _fail(f"{src} defines symbol versions; this tool does not reproduce them")
    sym = data_symbol(info, src)
    entry = sym["name"][: -len("_dat")]  # "icudt73"
    blob = read_symbol_bytes(src, info, sym)
    prefix, sizes = package_items(blob)
    if prefix != f"{entry}l":
        raise _fail(f"package prefix {prefix!r} does not match the symbol {sym['name']!r}")
    # The package file name gives the item prefix of the package icupkg writes: keep it.
    in_dir, out_dir = workdir / "in", workdir / "out"
    for d in (in_dir, out_dir):
        d.mkdir(exist_ok=True)
    in_dat, out_dat = in_dir / f"{prefix}.dat", out_dir / f"{prefix}.dat"
    in_dat.write_bytes(blob)
    listed = icupkg_list(tools, in_dat)
    if set(listed) != set(sizes):
        raise _fail("icupkg -l and the package table of contents disagree")

    # 2. choose
    kept = [n for n in listed if keep_item(n)]
    dropped = [n for n in listed if not keep_item(n)]
    missing_cnv = sorted(c for c in CONVERTERS if f"{c}.cnv" not in sizes)
    if missing_cnv:
        raise _fail(f"code pages listed in CONVERTERS are not in the source: {missing_cnv} "
                    "(a new ICU renamed them? update CONVERTERS)")
    unknown_common = sorted(set(COMMON_ITEMS) - set(sizes))
    if unknown_common:
        raise _fail(f"COMMON_ITEMS not in the source: {unknown_common}")

    # 3. remove the rest and swap in the rewritten res_index bundles. On writing, icupkg checks
    #    that every kept item finds what it depends on; it may only miss SOFT_DEPENDENCY items.
    res_indexes = rewrite_res_indexes(tools, in_dat, kept, workdir)
    icupkg(tools, "-r", _list_file(workdir / "remove.txt", dropped),
           "-a", _list_file(workdir / "add.txt", res_indexes), "-s", str(workdir / "res_index.new"),
           str(in_dat), str(out_dat))

    result_items = set(icupkg_list(tools, out_dat))
    if result_items != set(kept):
        raise _fail(f"trimmed package has {len(result_items)} items, expected {len(kept)}")
    absent = [n for n in REQUIRED_ITEMS if n not in result_items]
    if absent:
        raise _fail(f"required items missing after trimming: {absent}")
    leaked = [n for n in MUST_BE_DROPPED if n in result_items]
    if leaked:
        raise _fail(f"the keep rules kept items they should drop: {leaked}")

    # 4. the library, built next to dst and moved into place only once verified
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp_lib = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        build_library(tools, out_dat, entry, info["soname"], tmp_lib, workdir)
        _verify(tools, tmp_lib, info, sym["name"], out_dat.read_bytes(), result_items, workdir)
        os.chmod(tmp_lib, src_stat.st_mode & 0o777)
        os.replace(tmp_lib, dst)
    finally:
        tmp_lib.unlink(missing_ok=True)

    _, new_sizes = package_items(out_dat.read_bytes())
    return {
        "src": str(src), "dst": str(dst), "symbol": sym["name"], "soname": info["soname"],
        "original_bytes": src_stat.st_size, "trimmed_bytes": dst.stat().st_size,
        "original_data_bytes": len(blob), "trimmed_data_bytes": out_dat.stat().st_size,
        "items_total": len(listed), "items_kept": len(kept), "items_dropped": len(dropped),
        "kept_by_tree": _by_tree(new_sizes, kept), "dropped_by_tree": _by_tree(sizes, dropped),
        "seconds": round(time.monotonic() - started, 2),
    }


def _verify(tools: dict[str, str], lib: Path, src_info: dict, symbol: str, dat: bytes,
            items: set[str], workdir: Path) -> None:
    """The built library must load like the original and hold exactly the trimmed package."""
    info = elf_info(tools, lib)
    for key in ("class", "machine", "data", "soname"):
        if info[key] != src_info[key]:
            raise _fail(f"built library differs from the original in {key}: "
                        f"{info[key]!r} != {src_info[key]!r}")
    if info["versioned"]:
        raise _fail("built library unexpectedly has symbol versions")
    sym = data_symbol(info, lib)
    if sym["name"] != symbol or sym["vis"] != "DEFAULT":
        raise _fail(f"built library exports {sym['name']} ({sym['vis']}), expected {symbol} (DEFAULT)")
    if sym["value"] % 16:
        raise _fail(f"{symbol} is not 16-byte aligned (address {sym['value']:#x})")
    if sym["size"] < len(dat):
        raise _fail(f"{symbol} has {sym['size']} bytes, the trimmed package {len(dat)}")
    back = read_symbol_bytes(lib, info, sym)
    if back[: len(dat)] != dat or any(back[len(dat):]):
        raise _fail(f"the data read back from {lib.name} differs from the trimmed package")
    check = workdir / "check" / f"{symbol[: -len('_dat')]}l.dat"
    check.parent.mkdir(exist_ok=True)
    check.write_bytes(back)
    if set(icupkg_list(tools, check)) != items:
        raise _fail("icupkg lists different items in the built library")


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="libicudata.so.<N> to trim (e.g. from the PySide6 wheel)")
    ap.add_argument("dst", type=Path, help="where to write the trimmed library (may equal SRC)")
    ap.add_argument("--workdir", type=Path, help="keep intermediate files here (default: a temp dir)")
    args = ap.parse_args(argv)
    if args.workdir:
        r = trim_icu_data(args.src, args.dst, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="icu-trim-") as tmp:
            r = trim_icu_data(args.src, args.dst, Path(tmp))
    print(f"{r['dst']}: {_mb(r['original_bytes'])} -> {_mb(r['trimmed_bytes'])}, "
          f"{r['items_kept']} of {r['items_total']} items kept, {r['seconds']} s")
    for label, key in (("kept", "kept_by_tree"), ("dropped", "dropped_by_tree")):
        print(f"  {label}: " + ", ".join(f"{t} {v['items']} ({_mb(v['bytes'])})" for t, v in r[key].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
