"""CI must run the very test command the README gives a newcomer."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_command = (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
    assert f"```bash\n{ci_command}\n```" in readme


def test_readme_names_every_setting():
    import dataclasses

    from referral.config import Settings

    config = (ROOT / "referral/config.py").read_text()
    readme = (ROOT / "README.md").read_text()
    names = {line.split('_env("')[1].split('"')[0] for line in config.splitlines() if '_env("' in line}
    names |= {line.split('os.environ.get("')[1].split('"')[0] for line in config.splitlines() if 'os.environ.get("' in line}
    names |= {line.split('_time("')[1].split('"')[0] for line in config.splitlines() if '_time("' in line}
    assert len(names) == len(dataclasses.fields(Settings))
    assert [n for n in sorted(names) if n not in readme] == []
