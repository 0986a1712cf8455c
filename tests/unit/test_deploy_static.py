"""Static checks of deploy/ (no Docker here): compose file, env example, Dockerfile, registration script."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import py_compile
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML parses the compose file: pip install pyyaml")

from referral.config import Settings  # noqa: E402
from workflows import search_attributes  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "referral.env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
REGISTER = DEPLOY / "register_search_attributes.py"
SERVICES = {"postgres", "temporal", "temporal-ui", "register-search-attributes", "worker"}
SECRET_WORDS = ("PASSWORD", "PWD", "SECRET", "SALT", "TOKEN")


def config_settings() -> set[str]:
    """The environment variable names referral/config.py reads, grepped from its source."""
    text = (ROOT / "referral" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'"((?:REFERRAL|TEMPORAL)_[A-Z0-9_]+|DATABASE_URL)"', text))


def env_file_keys(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        assert key not in pairs, f"{path.name}: {key} twice"
        pairs[key.strip()] = value.strip()
    return pairs


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def service_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def service_env_files(service: dict) -> list[tuple[Path, bool]]:
    files = service.get("env_file") or []
    files = [files] if isinstance(files, (str, dict)) else files
    out = []
    for entry in files:
        path = entry if isinstance(entry, str) else entry["path"]
        required = True if isinstance(entry, str) else entry.get("required", True)
        out.append((DEPLOY / path, required))
    return out


# ---- the settings list itself ----

def test_config_grep_finds_every_setting() -> None:
    # One name per Settings field: a setting read some new way would slip past the grep, so count them.
    names = config_settings()
    assert len(names) == len(dataclasses.fields(Settings)) == 21
    assert {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "DATABASE_URL", "REFERRAL_METRICS_PORT"} <= names


# ---- referral.env.example ----

def test_env_example_lists_every_setting_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = env_file_keys(ENV_EXAMPLE)
    assert set(pairs) == config_settings()
    # Each line carries a one-line comment right above it.
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert i > 0 and lines[i - 1].startswith("# "), f"no comment above {line!r}"
    # The values are the defaults: loading the file changes nothing.
    for key in config_settings():
        monkeypatch.delenv(key, raising=False)
    defaults = Settings()
    for key, value in pairs.items():
        monkeypatch.setenv(key, value)
    assert Settings() == defaults


# ---- docker-compose.yml ----

def test_compose_has_every_service(compose: dict) -> None:
    assert SERVICES <= set(compose["services"])


def test_compose_services_are_wired(compose: dict) -> None:
    s = compose["services"]
    assert s["postgres"]["image"] == "postgres:16"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in s["postgres"]["volumes"])
    assert s["postgres"]["healthcheck"]["test"]
    assert s["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert service_env(s["temporal"])["POSTGRES_SEEDS"] == "postgres"
    assert s["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert s["temporal"]["healthcheck"]["test"]
    assert s["temporal-ui"]["image"].startswith("temporalio/ui")
    assert any(str(p).endswith("8233:8080") for p in s["temporal-ui"]["ports"])
    assert service_env(s["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"

    reg = s["register-search-attributes"]
    command = reg["command"] if isinstance(reg["command"], list) else shlex.split(reg["command"])
    assert "deploy/register_search_attributes.py" in command
    assert reg.get("restart", "no") == "no"
    assert reg["depends_on"]["temporal"]["condition"] == "service_healthy"

    worker = s["worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert (DEPLOY / "referral.env.example", True) in service_env_files(worker)
    deps = worker["depends_on"]
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["temporal"]["condition"] == "service_healthy"
    assert deps["register-search-attributes"]["condition"] == "service_completed_successfully"
    # The registration script ships in the same image.
    assert reg["build"] == worker["build"] and reg["image"] == worker["image"]

    for name, service in s.items():
        for dep in service.get("depends_on") or []:
            assert dep in s, f"{name} depends on unknown service {dep}"
    for path, required in (p for svc in s.values() for p in service_env_files(svc)):
        assert path.exists() or not required, f"missing env_file {path}"


def test_worker_env_keys_are_known_settings(compose: dict) -> None:
    known = config_settings()
    worker = compose["services"]["worker"]
    keys = set(service_env(worker))
    for path, _ in service_env_files(worker):
        if path.exists():
            keys |= set(env_file_keys(path))
    assert keys and keys <= known, f"unknown settings: {sorted(keys - known)}"


def test_no_secret_committed(compose: dict) -> None:
    required_var = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]+\}")
    for name, service in compose["services"].items():
        for key, value in service_env(service).items():
            if any(word in key for word in SECRET_WORDS):
                assert required_var.fullmatch(value), f"{name}.{key} must come from ${{VAR:?…}}, not {value!r}"
            if "://" in value and "@" in value:  # credentials inside a URL
                userinfo = value.split("://", 1)[1].split("@", 1)[0]
                assert required_var.search(userinfo), f"{name}.{key} has a literal password"
    init = (DEPLOY / "postgres-init" / "10-databases.sh").read_text(encoding="utf-8")
    assert not re.search(r"PASSWORD\s+'", init, re.IGNORECASE), "literal password in the init script"


def test_postgres_init_script_is_valid_shell() -> None:
    subprocess.run(["sh", "-n", str(DEPLOY / "postgres-init" / "10-databases.sh")], check=True)


# ---- Dockerfile ----

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    ins = dockerfile_instructions()
    assert ins[0] == ("FROM", "python:3.11-slim")
    users = [arg for word, arg in ins if word == "USER"]
    assert users, "no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    cmds = [arg for word, arg in ins if word == "CMD"]
    assert ast.literal_eval(cmds[-1]) == ["python", "worker.py"]
    installs = [arg for word, arg in ins if word == "RUN" and "pip install" in arg]
    assert installs, "the project is not installed with pip"
    assert not any("[test" in arg for arg in installs), "the image must not install the test extra"


def test_dockerignore_keeps_what_the_image_needs() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    for needed in ("pyproject.toml", "worker.py", "referral", "workflows", "activities", "casework"):
        assert needed not in patterns
    assert "deploy/*" in patterns and "!deploy/register_search_attributes.py" in patterns
    assert "tests" in patterns and ".git" in patterns


# ---- register_search_attributes.py ----

def load_register_module():
    spec = importlib.util.spec_from_file_location("register_search_attributes", REGISTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_register_script_compiles_and_exposes_register(tmp_path: Path) -> None:
    py_compile.compile(str(REGISTER), cfile=str(tmp_path / "register.pyc"), doraise=True)
    module = load_register_module()
    assert inspect.iscoroutinefunction(module.register)
    assert list(inspect.signature(module.register).parameters)[:2] == ["client", "namespace"]
    assert set(module.wanted_types()) == {key.name for key in search_attributes.ALL}


def test_register_script_takes_names_from_workflows_search_attributes() -> None:
    source = REGISTER.read_text(encoding="utf-8")
    tree = ast.parse(source)
    imports = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "workflows" in imports or "workflows.search_attributes" in imports
    assert "search_attributes.ALL" in source
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    hard_coded = {key.name for key in search_attributes.ALL} & {
        word for text in literals for word in re.findall(r"[A-Za-z]+", text)}
    assert not hard_coded, f"search attribute names hard-coded in the script: {sorted(hard_coded)}"


def test_register_script_unreachable_server_exits_1(tmp_path: Path) -> None:
    # Run from outside the repository: the script must find `workflows` by itself.
    result = subprocess.run(
        [sys.executable, str(REGISTER), "--address", "127.0.0.1:1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "cannot reach the Temporal server at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


# ---- README ----

def test_readme_covers_operations() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for topic in ("register_search_attributes.py", "advisory lock", "DATABASE_URL", "REFERRAL_METRICS_PORT",
                  "Prometheus", "pg_dump", "codec", "SSO"):
        assert topic in text, topic
