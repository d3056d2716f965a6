#!/usr/bin/env bash
# Execute every lecture notebook headless with the evcxr Rust kernel and save it with its
# outputs (charts included), failing on any error or stderr output in a cell.
#
# Opt-in and slow the first time (~25 minutes on 2 cores to build evcxr_jupyter):
#   bash notebooks/run.sh            # install what is missing, run all notebooks in place
#   bash notebooks/run.sh 03         # only notebooks whose name contains "03"
#
# Not part of .ci/run: `cargo test` already compiles and runs every notebook's code
# (tests/notebooks.rs); this script checks them in the real kernel and refreshes their outputs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! command -v evcxr_jupyter >/dev/null; then
  echo "installing evcxr_jupyter (slow: it builds rust-analyzer parts)…" >&2
  cargo install evcxr_jupyter --locked
fi
if ! python3 -c "import nbclient, nbformat, jupyter_client" 2>/dev/null; then
  python3 -m pip install --quiet jupyter nbconvert nbclient ipykernel
fi
evcxr_jupyter --install >/dev/null

# keep evcxr's build folder out of the workspace
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-${TMPDIR:-/tmp}/realtime-lab-evcxr}"
mkdir -p "$EVCXR_TMPDIR"

python3 - "${1:-}" <<'PY'
import glob, sys
import nbformat
from nbclient import NotebookClient

import os
pattern = sys.argv[1] if len(sys.argv) > 1 else ""
failed = False

# Warm-up, online: let evcxr fetch what its build needs (once), so that the notebooks
# themselves then run with CARGO_NET_OFFLINE=true — no network while they execute.
warm = nbformat.v4.new_notebook()
warm.cells = [nbformat.v4.new_code_cell(':dep realtime-lab = { path = "..", features = ["notebook"] }\n:dep anyhow = "1"\nuse realtime_lab::notebook as nb;')]
os.environ["CARGO_NET_OFFLINE"] = "false"
NotebookClient(warm, kernel_name="rust", timeout=3600).execute(cwd=".")
os.environ["CARGO_NET_OFFLINE"] = "true"

for path in sorted(glob.glob("*.ipynb")):
    if pattern not in path:
        continue
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="rust", timeout=1800, allow_errors=True)
    client.execute(cwd=".")
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            # nbconvert exits 0 after a panic: look at every output ourselves
            if out.get("output_type") == "error":
                problems.append(f"cell {i}: error {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {i}: stderr: {out.get('text', '')[:500]}")
    nbformat.write(nb, path)
    status = "ok" if not problems else "FAILED"
    print(f"{path}: {status}")
    for p in problems:
        print("   ", p)
    failed = failed or bool(problems)
sys.exit(1 if failed else 0)
PY
