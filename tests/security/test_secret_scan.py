"""No secret is committed: detect-secrets scans every tracked file against the audited `.secrets.baseline`.

A finding passes only if the baseline lists it (same file, type and hash) and a person has audited it as not a
secret (`"is_secret": false`). Two of detect-secrets' default filters are off in the baseline: the inline
`pragma: allowlist secret` comment (every exception is in one reviewed file) and the "indirect reference"
heuristic (it hides a key literal passed as `api_key=` in a call, the likeliest way a key gets into code).
The scan runs offline (no verification calls).

After adding or changing a fixture that looks like a secret (from the repository root, on tracked files):

    .venv/bin/detect-secrets scan -n --baseline .secrets.baseline   # re-scan; keeps the audit of known entries
    .venv/bin/detect-secrets audit .secrets.baseline                # y = may be committed (is_secret: false)
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import string
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from detect_secrets import SecretsCollection
from detect_secrets.__version__ import VERSION as DETECT_SECRETS_VERSION
from detect_secrets.settings import transient_settings

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / ".secrets.baseline"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
ALLOWLIST_FILTER = "detect_secrets.filters.allowlist.is_line_allowlisted"
INDIRECT_FILTER = "detect_secrets.filters.heuristic.is_indirect_reference"
HOW_TO_FIX = (
    "if it is a test fixture, re-scan and audit it (see this module's docstring); if it is a real secret, "
    "remove it from the history and rotate it"
)


class Finding(NamedTuple):
    filename: str
    type: str
    hashed_secret: str
    line: int


def load_baseline() -> dict[str, Any]:
    return dict(json.loads(BASELINE.read_text()))


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    names = [name for name in listed.split("\0") if name]
    # A file deleted in the work tree but not yet in the index has nothing to scan.
    return [name for name in names if (ROOT / name).is_file() and name != BASELINE.name]


def scan(root: Path, files: list[str]) -> set[Finding]:
    """Scan `files` (relative to `root`) with exactly the plugins and filters the baseline records."""
    baseline = load_baseline()
    with transient_settings({"plugins_used": baseline["plugins_used"], "filters_used": baseline["filters_used"]}):
        collection = SecretsCollection(root=str(root))
        collection.scan_files(*files)
    return {Finding(name, s.type, s.secret_hash, s.line_number) for name, s in collection}


def audited_false_positives() -> set[tuple[str, str, str]]:
    results = load_baseline()["results"]
    return {
        (name, entry["type"], entry["hashed_secret"])
        for name, entries in results.items()
        for entry in entries
        if entry.get("is_secret") is False
    }


def unaudited(findings: set[Finding]) -> list[Finding]:
    allowed = audited_false_positives()
    return sorted(f for f in findings if (f.filename, f.type, f.hashed_secret) not in allowed)


def describe(findings: list[Finding]) -> str:
    return "\n".join(f"  {f.filename}:{f.line}: {f.type}" for f in findings)


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any network use during the scan (a verification call) fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the secret scan tried to use the network: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_network(monkeypatch)


@pytest.fixture(scope="module")
def tracked_findings() -> set[Finding]:
    files = tracked_files()
    assert len(files) > 50, "git ls-files found the repository"
    with pytest.MonkeyPatch.context() as monkeypatch:
        refuse_network(monkeypatch)
        return scan(ROOT, files)


def test_tracked_files_hold_no_unaudited_secret(tracked_findings: set[Finding]) -> None:
    findings = unaudited(tracked_findings)
    assert not findings, f"secrets not audited in .secrets.baseline:\n{describe(findings)}\n{HOW_TO_FIX}"


def test_every_baseline_entry_is_an_audited_false_positive(tracked_findings: set[Finding]) -> None:
    results = load_baseline()["results"]
    not_audited = [
        f"{name}:{entry['line_number']}: {entry['type']} (is_secret: {entry.get('is_secret')})"
        for name, entries in results.items()
        for entry in entries
        if entry.get("is_secret") is not False
    ]
    assert not not_audited, "baseline entries not audited as false positives:\n" + "\n".join(not_audited)
    # Entries no longer found are harmless (the next re-scan drops them); the audited fixtures must be found.
    found = {(f.filename, f.type, f.hashed_secret) for f in tracked_findings}
    assert len(found & audited_false_positives()) >= 10, "the audited fixtures are found: the scan really runs"


def test_the_baseline_scans_offline_with_every_plugin_and_no_inline_allowlist() -> None:
    baseline = load_baseline()
    assert baseline["version"] == DETECT_SECRETS_VERSION, "baseline written by the locked detect-secrets"
    filters = {f["path"] for f in baseline["filters_used"]}
    assert VERIFY_FILTER not in filters, "no verification calls: scan with -n (--no-verify)"
    assert ALLOWLIST_FILTER not in filters, "exceptions live in the audited baseline, not in inline comments"
    assert INDIRECT_FILTER not in filters, "it would hide a key literal passed as api_key= in a call"
    plugins = {p["name"] for p in baseline["plugins_used"]}
    assert {"KeywordDetector", "HexHighEntropyString", "Base64HighEntropyString", "OpenAIDetector"} <= plugins
    assert {"AzureStorageKeyDetector", "PrivateKeyDetector", "JwtTokenDetector", "GitHubTokenDetector"} <= plugins


def real_looking_secrets() -> dict[str, str]:
    """Fresh values with the shape of real keys, made at run time so none is written in this file."""
    rng = random.Random(11)
    alphabet = string.ascii_letters + string.digits
    return {
        "azure": f"{rng.getrandbits(128):032x}",  # an Azure OpenAI key: 32 hex digits
        "openai": "sk-proj-" + "".join(rng.choice(alphabet) for _ in range(48)),
        "bare": "".join(rng.choice(alphabet) for _ in range(40)),
    }


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('AZURE_OPENAI_API_KEY = "{azure}"', "azure"),  # a name that says key
        ('deployment_settings = {{"endpoint": "x", "value": "{azure}"}}', "azure"),  # no hint but its entropy
        ('client = OpenAI(api_key="{openai}")', "openai"),
        ('DEFAULT = "{openai}"', "openai"),
        ('FALLBACK = "{bare}"', "bare"),
    ],
)
def test_a_real_looking_secret_added_to_a_tracked_file_is_caught(
    tmp_path: Path, offline: None, line: str, kind: str
) -> None:
    # A copy of a tracked file that already has audited fixtures: the baseline must not cover new ones.
    name = "tests/unit/test_settings_and_keys.py"
    copy = tmp_path / name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / name, copy)
    assert not unaudited(scan(tmp_path, [name])), "the unchanged copy passes"
    secret = real_looking_secrets()[kind]
    with copy.open("a") as out:
        out.write("\n" + line.format(**{kind: secret}) + "\n")
    caught = unaudited(scan(tmp_path, [name]))
    last_line = len(copy.read_text().splitlines())
    assert caught and {f.line for f in caught} == {last_line}, describe(caught)


def test_a_new_secret_file_is_caught(tmp_path: Path, offline: None) -> None:
    secrets = real_looking_secrets()
    (tmp_path / "prod.env").write_text(
        f"AZURE_OPENAI_API_KEY={secrets['azure']}\nGATEWAY_KEY_TEAM_A={secrets['openai']}\n"
    )
    caught = unaudited(scan(tmp_path, ["prod.env"]))
    assert {f.line for f in caught} == {1, 2}, describe(caught)


def test_pre_commit_runs_the_same_scanner_pinned_with_the_same_baseline() -> None:
    config = yaml.safe_load(PRE_COMMIT.read_text())
    [repo] = [r for r in config["repos"] if r["repo"] == "https://github.com/Yelp/detect-secrets"]
    assert len(repo["rev"]) == 40 and all(c in "0123456789abcdef" for c in repo["rev"]), "pinned by commit"
    frozen = next(line for line in PRE_COMMIT.read_text().splitlines() if repo["rev"] in line)
    assert frozen.rstrip().endswith(f"# frozen: v{DETECT_SECRETS_VERSION}"), "the commit of the locked version"
    [hook] = repo["hooks"]
    assert hook["id"] == "detect-secrets"
    assert hook["args"] == ["--baseline", ".secrets.baseline", "--no-verify"]


def test_the_pre_commit_hook_command_rejects_a_new_secret_and_passes_the_tree(tmp_path: Path) -> None:
    """What pre-commit runs (`detect-secrets-hook` with the hook's arguments), on a new file and on a clean one."""
    hook = str(Path(sys.executable).with_name("detect-secrets-hook"))
    leaked = tmp_path / "leak.py"
    leaked.write_text(f'AZURE_OPENAI_API_KEY = "{real_looking_secrets()["azure"]}"\n')
    baseline_before = BASELINE.read_bytes()
    args = [hook, "--baseline", ".secrets.baseline", "--no-verify"]
    rejected = subprocess.run([*args, str(leaked)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "leak.py" in rejected.stdout
    clean = subprocess.run([*args, "README.md"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert BASELINE.read_bytes() == baseline_before, "the check never rewrites the baseline"
