# SPDX-License-Identifier: LGPL-2.1-or-later
"""Builds ipcd._ipcd against an installed libipcd-client (pkg-config), or,
from a built source tree, against ../include and ../src/lib/.libs:

    pip install ./python
"""
import os
import shlex
import subprocess

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "libipcd-client"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


include_dirs, library_dirs, rpath = [], [], []
cflags, libs = pkg_config("--cflags"), pkg_config("--libs")
tree_lib = os.path.join(top, "src", "lib", ".libs")
if os.environ.get("IPCD_BUILD_TREE") or cflags is None:
    # A built source tree: its header and its (uninstalled) library.
    include_dirs = [os.path.join(top, "include")]
    library_dirs = [tree_lib]
    rpath = [tree_lib]
    cflags, libs = [], ["-lipcd-client"]
for f in cflags:
    if f.startswith("-I"):
        include_dirs.append(f[2:])
for f in libs:
    if f.startswith("-L"):
        library_dirs.append(f[2:])

setup(ext_modules=[Extension(
    "ipcd._ipcd",
    sources=["ipcd/_ipcd.c"],
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    runtime_library_dirs=rpath,
    libraries=["ipcd-client"],
    extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers"],
    extra_link_args=["-pthread"],
)])
