#!/bin/sh
# The wheels `tools/gpu_check.py` needs on a CUDA machine that has torch, numpy, matplotlib, seaborn, tqdm, pytest,
# pyyaml, requests, click, aiohttp, pygments, psutil and python-dateutil but no Jupyter: papermill, nbclient,
# ipykernel, ipywidgets and what they need there, for CPython 3.12 on Linux x86_64, into .whl/ (README.md, "GPU check").
# One version of each (the course's venv resolves these); a wheel already in .whl/ is kept, another version of the
# same package is removed. Usage: sh tools/gpu_wheels.sh [DIR]   (DIR defaults to .whl)
set -eu
DIR=${1:-.whl}
PYTHON=${PYTHON:-python3}
PINS="
papermill==2.7.0
nbclient==0.11.0
nbformat==5.11.1
ipykernel==7.4.0
ipywidgets==8.1.9
jupyter_client==8.10.0
jupyter_core==5.9.1
matplotlib_inline==0.2.2
ipython==9.19.1
ipython_pygments_lexers==1.1.1
traitlets==5.16.1
comm==0.2.3
debugpy==1.8.22
pyzmq==27.3.0
tornado==6.6.1
nest_asyncio2==1.7.4
platformdirs==4.14.9
jedi==0.20.1
parso==0.8.7
prompt_toolkit==3.0.53
wcwidth==0.9.5
stack_data==0.6.3
asttokens==3.0.2
executing==2.3.0
pure_eval==0.2.4
pexpect==4.9.0
ptyprocess==0.7.0
fastjsonschema==2.22.3
jsonschema==4.26.0
jsonschema_specifications==2025.9.1
referencing==0.37.0
rpds_py==2026.9.1
entrypoints==0.4.2
tenacity==9.2.1
tzdata==2026.6
widgetsnbextension==4.0.16
jupyterlab_widgets==3.0.17
"
mkdir -p "$DIR"
for pin in $PINS; do
  name=$(echo "${pin%%==*}" | tr 'A-Z-.' 'a-z__')
  version=${pin##*==}
  for old in "$DIR/$name"-*.whl; do  # another version of the same package: two would stop the install there
    [ -e "$old" ] || continue
    case "$old" in "$DIR/$name-$version-"*) ;; *) echo "removing $old"; rm -f "$old" ;; esac
  done
  ls "$DIR/$name-$version-"*.whl >/dev/null 2>&1 && continue
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 -d "$DIR" "$pin"
done
echo "$(ls "$DIR"/*.whl | wc -l) wheels, $(cat "$DIR"/*.whl | wc -c) bytes in $DIR"
