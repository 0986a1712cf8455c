"""CI must run the very test command the README gives a newcomer."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_command = (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
    assert f"```bash\n{ci_command}\n```" in readme


SETTING = re.compile(r'(?:_env|environ\.get|getenv|_time)\("([A-Z][A-Z0-9_]+)"|[A-Z_]+_ENV = "([A-Z][A-Z0-9_]+)"')
CODE = ("activities", "api", "casework", "referral", "workflows", "worker.py", "starter.py")


def settings_read_by_the_code() -> set[str]:
    """Every environment variable the shipped code reads (by the project's ways of reading one)."""
    files = [p for part in CODE for p in ([ROOT / part] if part.endswith(".py") else (ROOT / part).rglob("*.py"))]
    found = {a or b for f in files for a, b in SETTING.findall(f.read_text())}
    from api.settings import ApiSettings

    return found | {f"REFERRAL_{name.upper()}" for name in ApiSettings.model_fields}


def test_readme_names_every_setting():
    names = settings_read_by_the_code()
    assert len(names) > 40  # the patterns still find them
    readme = (ROOT / "README.md").read_text()
    assert [n for n in sorted(names) if n not in readme] == []
