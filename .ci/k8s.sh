#!/usr/bin/env bash
# Kubernetes, image and monitoring checks (issue #12), called by .ci/run once the binaries are
# built. Installs what it needs (apt: prometheus, podman; pip: the pinned tools of
# .ci/k8s/requirements.txt in a virtualenv), then:
#   the Helm chart: helm lint and render (Helm's engine, helm-python-sdk) of the defaults and
#   every helm/breakout/ci/*.yaml, structural checks and schema refusals (.ci/k8s/chart.py);
#   every rendered object against the Kubernetes schemas, strict (kubernetes-validate);
#   checkov on the rendered manifests with no failed check (skips: helm/breakout/checkov.yaml);
#   yamllint; the chart's copies of the rules and dashboards identical to deploy/monitoring/;
#   the dashboards identical to what their generator makes; promtool check and test rules;
#   the monitoring check (.ci/k8s/monitoring_check.py: a real Prometheus on the dev deployment);
#   the image: podman build of deploy/image/Dockerfile and its binaries run from the image
#   (deploy/image/ci-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { echo "k8s: $* (+$((SECONDS - started))s)"; }

packages=(prometheus podman ca-certificates curl python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
out=$(mktemp -d /tmp/breakout-chart.XXXXXX)
# The image check compiles static binaries (minutes of CPU): it runs beside everything else.
bash deploy/image/ci-check.sh >"$out/image.log" 2>&1 &
image_pid=$!
trap 'kill "$image_pid" 2>/dev/null || true; rm -rf "$out"' EXIT

# A virtualenv per requirements file version, kept between runs on the same machine; uv
# (pinned) installs the pinned tools in well under a minute where pip takes four.
req=.ci/k8s/requirements.txt
venv=${XDG_CACHE_HOME:-$HOME/.cache}/breakout/k8s-venv-$(sha256sum "$req" | cut -c1-12)
if [ ! -x "$venv/bin/checkov" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check uv==0.13.9
  "$venv/bin/uv" pip install -q --python "$venv/bin/python" -r "$req"
fi
py=$venv/bin/python
step "tools installed"
"$py" .ci/k8s/chart.py "$out/rendered"
step "chart linted and rendered"
# CRD kinds (cert-manager's Certificate, the Prometheus Operator's) have no schema there: only
# those may be reported as unknown.
for k in 1.30.0 1.37.0; do
  report=$("$venv/bin/kubernetes-validate" --strict -k "$k" --quiet "$out"/rendered/*/*.yaml 2>&1) ||
    { echo "$report"; echo "k8s: kubernetes-validate $k failed" >&2; exit 1; }
  unknown=$(echo "$report" | grep -v "Couldn't find schema for kind \(Certificate\|ServiceMonitor\|PrometheusRule\) " || true)
  [ -z "$unknown" ] || { echo "$unknown"; echo "k8s: kubernetes-validate $k warned" >&2; exit 1; }
done
step "rendered objects valid against Kubernetes 1.30 and 1.37 (strict)"
"$venv/bin/checkov" -d "$out/rendered" --framework kubernetes --skip-download \
  --config-file helm/breakout/checkov.yaml --compact --quiet >"$out/checkov.txt" ||
  { cat "$out/checkov.txt"; echo "k8s: checkov failed" >&2; exit 1; }
grep -h "Passed checks" "$out/checkov.txt" | head -1
step "checkov"
(cd helm/breakout && "$venv/bin/yamllint" -s -c .yamllint Chart.yaml values.yaml ci/*.yaml checkov.yaml)
(cd deploy/monitoring && "$venv/bin/yamllint" -s -c .yamllint rules/*.yaml)
cmp deploy/monitoring/rules/breakout.rules.yaml helm/breakout/files/breakout.rules.yaml
"$py" deploy/monitoring/dashboards/generate.py --check
step "yamllint, chart copies, dashboards match their generator"
promtool check rules deploy/monitoring/rules/breakout.rules.yaml
(cd deploy/monitoring/rules && promtool test rules breakout.rules.test.yaml)
step "promtool"
"$py" .ci/k8s/monitoring_check.py
step "monitoring check"
status=0
wait "$image_pid" || status=$?
tail -6 "$out/image.log"
[ "$status" = 0 ] || { cat "$out/image.log"; echo "k8s: the image check failed" >&2; exit 1; }
step "image built and run"
