#!/usr/bin/env python3
"""Enforces Tessera's layering rules (STYLE.md habits 1 and 3).

1. The licensing engine (server/engine/) includes only the standard library, base/ and
   itself: no Asio/Boost, SQLite, protobuf, OpenSSL, tpm2-tss or PKCS#11 headers, and no
   other project folder.
2. The engine's CMake target links nothing but tessera::base.
3. No product code reads the real clock except base/system_clock.cc.

Usage: check_layering.py [--root DIR]. Prints one line per violation, exits 1 if any.
"""
import argparse
import pathlib
import re
import sys

PRODUCT_DIRS = ["base", "protocol", "hsm", "server", "admin", "client", "vendor"]
SOURCE_SUFFIXES = {".h", ".hpp", ".cc", ".cpp", ".c", ".ipp"}
ENGINE_DIR = "server/engine"
CLOCK_ALLOWED = {"base/system_clock.cc"}

FORBIDDEN_ENGINE_INCLUDES = [
    (re.compile(r"^(boost/|asio)"), "Asio/Boost"),
    (re.compile(r"^sqlite3"), "SQLite"),
    (re.compile(r"^google/protobuf|\.pb\.h$"), "protobuf"),
    (re.compile(r"^openssl/"), "OpenSSL"),
    (re.compile(r"^tss2/"), "tpm2-tss"),
    (re.compile(r"^(p11-kit/|pkcs11)"), "PKCS#11"),
    (re.compile(r"^sodium"), "libsodium"),
]
PROJECT_PREFIXES = tuple(d + "/" for d in PRODUCT_DIRS)
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
REAL_CLOCK_RE = re.compile(
    r"\b(system_clock|steady_clock|high_resolution_clock|utc_clock|file_clock)::now\b"
    r"|\b(gettimeofday|clock_gettime|timespec_get|ftime)\s*\("
    r"|(?<![\w.>:])(std::)?time\s*\(\s*(nullptr|NULL|0|&)"
)
LINK_RE = re.compile(r"target_link_libraries\s*\(([^)]*)\)", re.S)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return "\n".join(re.sub(r"//.*$", "", line) for line in text.split("\n"))


def source_files(root: pathlib.Path, sub: str):
    base = root / sub
    if not base.is_dir():
        return
    for p in sorted(base.rglob("*")):
        if p.is_file() and p.suffix in SOURCE_SUFFIXES:
            yield p


def check_engine_includes(root: pathlib.Path, problems: list):
    for path in source_files(root, ENGINE_DIR):
        rel = path.relative_to(root).as_posix()
        for n, line in enumerate(strip_comments(path.read_text(errors="replace")).split("\n"), 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            inc = m.group(1)
            for pattern, what in FORBIDDEN_ENGINE_INCLUDES:
                if pattern.search(inc):
                    problems.append(f"{rel}:{n}: engine includes {what} header <{inc}>")
                    break
            else:
                if inc.startswith(PROJECT_PREFIXES) and not inc.startswith(("base/", ENGINE_DIR + "/")):
                    problems.append(f"{rel}:{n}: engine includes project header <{inc}> outside base/")


def check_engine_links(root: pathlib.Path, problems: list):
    cmake = root / ENGINE_DIR / "CMakeLists.txt"
    if not cmake.is_file():
        return
    text = re.sub(r"#.*$", "", cmake.read_text(), flags=re.M)
    for m in LINK_RE.finditer(text):
        words = m.group(1).split()
        target, deps = words[0], words[1:]
        for dep in deps:
            if dep in ("PUBLIC", "PRIVATE", "INTERFACE"):
                continue
            if target.startswith("tessera_engine") and dep not in ("tessera::base", "tessera_base"):
                problems.append(f"{ENGINE_DIR}/CMakeLists.txt: engine target {target} links {dep}")


def check_real_clock(root: pathlib.Path, problems: list):
    for sub in PRODUCT_DIRS:
        for path in source_files(root, sub):
            rel = path.relative_to(root).as_posix()
            if rel in CLOCK_ALLOWED:
                continue
            for n, line in enumerate(strip_comments(path.read_text(errors="replace")).split("\n"), 1):
                if REAL_CLOCK_RE.search(line):
                    problems.append(f"{rel}:{n}: reads the real clock outside base/system_clock.cc")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    args = ap.parse_args()
    root = pathlib.Path(args.root)
    problems: list = []
    check_engine_includes(root, problems)
    check_engine_links(root, problems)
    check_real_clock(root, problems)
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} violation(s)")
        return 1
    print("layering: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
