"""cffi builder (API mode, out of line): cdefs from the public header -> zkattest._zkcore.

Environment knobs (read at build time):
  ZKATTEST_SANITIZE=1  build with -fsanitize=address,undefined (run Python with
                       LD_PRELOAD of libasan; see README "Sanitizer build")
  ZKATTEST_WERROR=1    add -Werror (CI and development builds)
  ZKATTEST_DEBUG=1     -O0 -g
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "include" / "zkattest.h"


def cdefs_from_header(text: str) -> str:
    """Return the declarations between the CDEF-BEGIN and CDEF-END markers."""
    m = re.search(r"/\* CDEF-BEGIN.*?\*/(.*)/\* CDEF-END \*/", text, re.S)
    if m is None:
        raise RuntimeError("zkattest.h: CDEF markers not found")
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    return body


def _rel(p: Path) -> str:
    # setuptools wants source paths relative to the project root (cwd of setup.py)
    try:
        return os.path.relpath(p)
    except ValueError:
        return str(p)


def _flags() -> tuple[list[str], list[str]]:
    cflags = ["-std=gnu99", "-Wall", "-Wextra", "-fvisibility=hidden"]
    ldflags: list[str] = ["-pthread"]
    if os.environ.get("ZKATTEST_DEBUG") == "1":
        cflags += ["-O0", "-g"]
    elif os.environ.get("ZKATTEST_SANITIZE") == "1":
        cflags += ["-O1", "-g", "-fno-omit-frame-pointer"]
    else:
        cflags += ["-O3"]
    if os.environ.get("ZKATTEST_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
        cflags += san
        ldflags += san
    if os.environ.get("ZKATTEST_WERROR") == "1":
        cflags.append("-Werror")
    cflags.append("-pthread")
    return cflags, ldflags


ffibuilder = FFI()
ffibuilder.cdef(cdefs_from_header(HEADER.read_text()))
_cflags, _ldflags = _flags()
ffibuilder.set_source(
    "zkattest._zkcore",
    '#include "zkattest.h"\n',
    sources=[_rel(HERE / "src" / "zkattest.c")],
    include_dirs=[_rel(HERE / "include"), _rel(HERE / "src")],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
    depends=[_rel(p) for p in sorted((HERE / "src").glob("*.h"))] + [_rel(HEADER)],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
