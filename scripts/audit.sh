#!/usr/bin/env bash
# Dependency audit: pip-audit of requirements.txt against PyPI's vulnerability data (OSV).
# Where that data cannot be reached (this machine has no internet but the package registry), or
# pip-audit cannot be installed or fails on the network, it says why and exits 0: only a known
# vulnerability in a pinned package exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

skip() { echo "audit: skipped: $*"; exit 0; }

# A canary, not just "does pypi.org answer": Django 3.0 has published advisories, so real data
# lists some. A proxy or captive answer does not, and would make every package look clean.
"$PYTHON" - <<'PY' || skip "PyPI's vulnerability data cannot be reached from here"
import json, sys, urllib.request
try:
    with urllib.request.urlopen("https://pypi.org/pypi/django/3.0/json", timeout=5) as answer:
        sys.exit(0 if json.load(answer).get("vulnerabilities") else 1)
except Exception:
    sys.exit(1)
PY

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv" >/dev/null 2>&1 || skip "no venv module"
timeout 120 "$work/venv/bin/pip" install -q pip-audit >/dev/null 2>&1 || skip "pip-audit cannot be installed"
# Pinned requirements, no resolution: the audit checks exactly what we ship.
timeout 300 "$work/venv/bin/pip-audit" --no-deps --disable-pip -r requirements.txt -f json -o "$work/report.json" \
  2>"$work/errors.txt"
status=$?
[ "$status" -eq 0 ] || tail -5 "$work/errors.txt" >&2
"$PYTHON" - "$work/report.json" "$status" <<'PY'
import json, sys
path, status = sys.argv[1], int(sys.argv[2])
try:
    report = json.load(open(path))
except Exception:
    print(f"audit: skipped: pip-audit failed (exit {status}) before a report; see its errors above")
    sys.exit(0)
found = [(d["name"], d["version"], v["id"], v.get("fix_versions")) for d in report.get("dependencies", [])
         for v in d.get("vulns", [])]
for name, version, vid, fixes in found:
    print(f"audit: {name}=={version}: {vid} (fixed in {', '.join(fixes) or 'no release yet'})")
skipped = [d["name"] for d in report.get("dependencies", []) if d.get("skip_reason")]
if skipped:
    print(f"audit: not checked: {', '.join(skipped)}")
print(f"audit: {len(report.get('dependencies', [])) - len(skipped)} packages checked, {len(found)} known vulnerabilities")
sys.exit(1 if found else 0)
PY
