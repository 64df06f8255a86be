"""docs/notebook.ipynb runs from top to bottom without an error under
`jupyter nbconvert --execute`, in a kernel of this interpreter with the
package of this tree, and shows the heatmap inline."""
import importlib.util
import json
import os
import subprocess
import sys

from conftest import ROOT


def test_the_notebook_executes(tmp_path):
    kernels = tmp_path / "jupyter" / "kernels" / "loupe-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "loupe test", "language": "python"}))
    environment = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
                   "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "IPYTHONDIR": str(tmp_path / "ipython"),
                   "MPLCONFIGDIR": str(tmp_path / "matplotlib")}
    if importlib.util.find_spec("matplotlib"):
        # matplotlib's font cache, built once into this run's folder outside the
        # sanitizer runtime (a sanitizer build preloads it; the cache's FreeType
        # scan is not ours to check, and dies under it)
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], check=True,
                       env={key: value for key, value in environment.items() if key != "LD_PRELOAD"})
    executed = tmp_path / "executed.ipynb"
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.kernel_name=loupe-test", "--ExecutePreprocessor.timeout=300",
                           "--output", str(executed), os.path.join(ROOT, "docs", "notebook.ipynb")],
                          capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-8000:]
    notebook = json.loads(executed.read_text())
    outputs = [output for cell in notebook["cells"] if cell["cell_type"] == "code" for output in cell["outputs"]]
    assert not [output for output in outputs if output["output_type"] == "error"]
    def joined(value):  # nbformat stores text as one string or a list of lines
        return "".join(value) if isinstance(value, list) else value
    pages = [joined(output["data"]["text/html"]) for output in outputs if "text/html" in output.get("data", {})]
    assert any(page.startswith("<iframe") and "table" in page for page in pages), "no heatmap shown inline"
    text = "".join(joined(output.get("text", "")) + joined(output.get("data", {}).get("text/plain", ""))
                   for output in outputs)
    assert "same top-1 as the lens: True" in text
    assert "kl_final (7, 14)" in text  # the verse: 7 rows, 14 tokens
    if importlib.util.find_spec("matplotlib"):
        assert any("image/png" in output.get("data", {}) for output in outputs), "no per-layer plot"
