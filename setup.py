"""setuptools entry point: only what pyproject.toml cannot say.

cffi's documented way to build an out-of-line API-mode extension is the
``cffi_modules`` keyword; the package list maps ``circuits/`` (the concrete
statements, written with the DSL) to ``zkattest.circuits``.
"""

from setuptools import find_packages, setup

packages = [*find_packages("src"), "zkattest.circuits"]
package_dir = {"": "src", "zkattest.circuits": "circuits"}

setup(
    packages=packages,
    package_dir=package_dir,
    cffi_modules=["native/build_ffi.py:ffibuilder"],
)
