"""qa_model is a plain ML library: importing all of it loads no Django."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import qa_model
from tests.processes import ROOT


@pytest.mark.slow
def test_no_qa_model_module_imports_django():
    modules = [
        f"qa_model.{m.name}"
        for m in pkgutil.iter_modules(qa_model.__path__)
        if m.name != "__main__"
    ]
    code = "import sys, importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "assert not any(name.startswith('django') for name in sys.modules), 'django imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "qa_model.features" in modules and "qa_model.training" in modules
