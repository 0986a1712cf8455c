"""Static checks of deploy/ (no Docker or Kubernetes here). The point: deploy/ never drifts from the code.

Every command a container runs is a file the image contains; every environment variable it is given is one
the code reads; every port is the one its setting says; every probe path is one the code serves. The
Kubernetes manifests are validated against the Kubernetes schemas when `kubernetes-validate` is installed,
and structurally always. Helper facts (what the code knows) are computed from the source, not listed here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import py_compile
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML parses the compose file: pip install pyyaml")

from activities.notify import DispatchOptions  # noqa: E402
from api.settings import ApiSettings  # noqa: E402
from casework import health, metrics  # noqa: E402
from referral.config import Settings  # noqa: E402
from workflows import search_attributes  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "referral.env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
REGISTER = DEPLOY / "register_search_attributes.py"
SERVICES = {"postgres", "temporal", "temporal-ui", "register-search-attributes", "migrate", "worker", "api"}
SECRET_WORDS = ("PASSWORD", "PWD", "SECRET", "SALT", "TOKEN")
ENV_NAME = re.compile(r"(?:REFERRAL|TEMPORAL)_[A-Z0-9_]+|DATABASE_(?:ADMIN_)?URL")
NOT_CODE = {".venv", ".git", "tests", "deploy", "var", "build", "dist", ".hypothesis", ".pytest_cache"}

# Named in deploy/ before the code has them: the lead wires them in. Each entry fails
# test_pending_items_are_still_pending as soon as the code has it, so the list only ever shrinks.
PENDING_SETTINGS: dict[str, str] = {}
PENDING_API_ROUTES = {"/healthz", "/readyz"}  # api/: liveness, readiness


# ---- what the code knows ----

def code_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not NOT_CODE & set(p.relative_to(ROOT).parts)]


def string_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def api_settings_names() -> set[str]:
    prefix = ApiSettings.model_config["env_prefix"]
    return {f"{prefix}{name}".upper() for name in ApiSettings.model_fields}


def env_names_in_code() -> set[str]:
    """Every environment variable the code reads: string literals named like one, plus ApiSettings' fields."""
    found = {s for path in code_files() for s in string_literals(path) if ENV_NAME.fullmatch(s)}
    return found | api_settings_names()


def known_env_names() -> set[str]:
    return env_names_in_code() | set(PENDING_SETTINGS)


def config_settings() -> set[str]:
    """The environment variable names referral/config.py reads."""
    return {s for s in string_literals(ROOT / "referral" / "config.py") if ENV_NAME.fullmatch(s)}


def code_default(name: str) -> str | None:
    """The default the code uses when `name` is unset or empty (None when it has none to compare)."""
    config = (ROOT / "referral" / "config.py").read_text(encoding="utf-8")
    match = re.search(rf'_env\("{name}",\s*"([^"]*)"\)', config)
    if match:
        return match.group(1)
    if name in PENDING_SETTINGS:
        return PENDING_SETTINGS[name]
    field = name.removeprefix(ApiSettings.model_config["env_prefix"]).lower()
    if field in ApiSettings.model_fields and ApiSettings.model_fields[field].default is not None:
        return str(ApiSettings.model_fields[field].default)
    return None


def api_route_literals() -> set[str]:
    files = [ROOT / "api.py", *(ROOT / "api").rglob("*.py")]
    return {s for p in files if p.exists() for s in string_literals(p) if s.startswith("/")}


def served_paths(entry: str) -> set[str]:
    """The HTTP paths the process started by `entry` answers (probe targets)."""
    if entry == "worker.py":
        return {health.LIVE_PATH, health.READY_PATH}
    if entry == "api.py":
        return api_route_literals() | PENDING_API_ROUTES
    return set()


def test_pending_items_are_still_pending() -> None:
    in_code = env_names_in_code()
    for name in PENDING_SETTINGS:
        assert name not in in_code, f"{name} is now read by the code: remove it from PENDING_SETTINGS"
    for route in PENDING_API_ROUTES:
        assert route not in api_route_literals(), f"the API now serves {route}: remove it from PENDING_API_ROUTES"


def test_every_settings_field_reads_an_environment_variable() -> None:
    # A field read some new way would slip past the grep: each default_factory must name a variable.
    tree = ast.parse((ROOT / "referral" / "config.py").read_text(encoding="utf-8"))
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    settings_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    fields = [n for n in settings_class.body if isinstance(n, ast.AnnAssign)]
    assert len(fields) == len(dataclasses.fields(Settings))
    for node in fields:
        factory = next(k.value for k in node.value.keywords if k.arg == "default_factory")
        source = functions[factory.id] if isinstance(factory, ast.Name) else factory
        names = {n.value for n in ast.walk(source) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and ENV_NAME.fullmatch(n.value)}
        assert names, f"Settings.{node.target.id} reads no environment variable the grep can see"
    assert {"TEMPORAL_ADDRESS", "TEMPORAL_TLS_CERT", "DATABASE_URL", "REFERRAL_METRICS_PORT"} <= config_settings()


# ---- referral.env.example ----

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


def test_env_example_lists_every_setting_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = env_file_keys(ENV_EXAMPLE)
    assert config_settings() <= set(pairs), f"missing: {sorted(config_settings() - set(pairs))}"
    assert set(pairs) <= known_env_names(), f"not read by the code: {sorted(set(pairs) - known_env_names())}"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert i > 0 and lines[i - 1].startswith("# "), f"no comment above {line!r}"
    # The values are the defaults: loading the file changes nothing.
    for key in known_env_names():
        monkeypatch.delenv(key, raising=False)
    defaults, dispatch = Settings(), DispatchOptions.from_env({})
    for key, value in pairs.items():
        monkeypatch.setenv(key, value)
    assert Settings() == defaults
    assert DispatchOptions.from_env(pairs) == dispatch
    for name, default in PENDING_SETTINGS.items():
        assert pairs.get(name, default) == default


# ---- docker-compose.yml ----

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


def ours(compose: dict) -> dict[str, dict]:
    """The compose services that run the referral image."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def test_compose_services_are_wired(compose: dict) -> None:
    s = compose["services"]
    assert SERVICES <= set(s)
    assert s["postgres"]["image"] == "postgres:16"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in s["postgres"]["volumes"])
    assert s["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert service_env(s["temporal"])["POSTGRES_SEEDS"] == "postgres"
    assert s["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any(str(p).endswith("8233:8080") for p in s["temporal-ui"]["ports"])
    assert service_env(s["temporal-ui"])["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert set(ours(compose)) == {"register-search-attributes", "migrate", "worker", "api"}
    for name in ("register-search-attributes", "migrate"):
        assert s[name].get("restart", "no") == "no"
    for name in ("worker", "api"):
        assert s[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert s["worker"]["depends_on"]["register-search-attributes"]["condition"] == "service_completed_successfully"
    worker = s["worker"]
    assert (DEPLOY / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert (DEPLOY / "referral.env.example", True) in service_env_files(worker)
    for name, service in ours(compose).items():  # one image for all of them
        assert (service["build"], service["image"]) == (worker["build"], worker["image"]), name
    for name, service in s.items():
        for dep in service.get("depends_on") or []:
            assert dep in s, f"{name} depends on unknown service {dep}"
    for path, required in (p for svc in s.values() for p in service_env_files(svc)):
        assert path.exists() or not required, f"missing env_file {path}"


def test_compose_env_and_ports_are_the_codes(compose: dict) -> None:
    known = known_env_names()
    for name, service in ours(compose).items():
        keys = set(service_env(service))
        for path, _ in service_env_files(service):
            if path.exists():
                keys |= set(env_file_keys(path))
        assert keys <= known, f"{name}: not read by the code: {sorted(keys - known)}"
    worker_env = service_env(compose["services"]["worker"])
    exposed = {str(p) for p in compose["services"]["worker"]["expose"]}
    assert {worker_env["REFERRAL_METRICS_PORT"], worker_env["REFERRAL_APP_METRICS_PORT"]} == exposed
    api_env = service_env(compose["services"]["api"])
    assert api_env["REFERRAL_API_HOST"] == "0.0.0.0"
    assert any(str(p).endswith(f":{api_env['REFERRAL_API_PORT']}") for p in compose["services"]["api"]["ports"])
    assert f"127.0.0.1:{api_env['REFERRAL_API_PORT']}/healthz" in str(compose["services"]["api"]["healthcheck"])


def test_compose_commits_no_secret(compose: dict) -> None:
    required_var = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]+\}")
    for name, service in compose["services"].items():
        for key, value in service_env(service).items():
            if any(word in key for word in SECRET_WORDS) or key == "REFERRAL_PII_KEY":
                assert required_var.fullmatch(value), f"{name}.{key} must come from ${{VAR:?…}}, not {value!r}"
            if "://" in value and "@" in value:  # credentials inside a URL
                userinfo = value.split("://", 1)[1].split("@", 1)[0]
                assert required_var.search(userinfo), f"{name}.{key} has a literal password"
    init = (DEPLOY / "postgres-init" / "10-databases.sh").read_text(encoding="utf-8")
    assert not re.search(r"PASSWORD\s+'", init, re.IGNORECASE), "literal password in the init script"


def test_postgres_init_script_is_valid_shell() -> None:
    subprocess.run(["sh", "-n", str(DEPLOY / "postgres-init" / "10-databases.sh")], check=True)


# ---- Dockerfile and the build context ----

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_cmd() -> list[str]:
    return ast.literal_eval([arg for word, arg in dockerfile_instructions() if word == "CMD"][-1])


def test_dockerfile() -> None:
    ins = dockerfile_instructions()
    assert ins[0] == ("FROM", "python:3.11-slim")
    assert dockerfile_cmd() == ["python", "worker.py"]
    users = [arg for word, arg in ins if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    envs = " ".join(arg for word, arg in ins if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE" not in envs, "the compiled bytecode must be used, not ignored"
    runs = [arg for word, arg in ins if word == "RUN"]
    installs = [arg for arg in runs if "pip install" in arg]
    assert installs and not any("[test" in arg for arg in installs), "the image must not install the test extra"
    assert any("['project']['dependencies']" in arg for arg in installs), "dependencies come from pyproject.toml"
    compile_step = next(arg for arg in runs if "compileall" in arg)
    assert "/app" in compile_step and "purelib" in compile_step, "compile both the app and site-packages"
    assert ins.index(("COPY", ". /app")) < ins.index(("RUN", compile_step)), "compile after the code is copied"
    assert any(word == "HEALTHCHECK" for word, _ in ins)


def test_dockerfile_healthcheck_probes_the_health_endpoint() -> None:
    check = next(arg for word, arg in dockerfile_instructions() if word == "HEALTHCHECK")
    assert "REFERRAL_HEALTH_PORT" in check and health.LIVE_PATH in check
    assert re.search(rf"or {health.DEFAULT_PORT}\)", check), "the HEALTHCHECK's default port is the code's"
    uid = next(arg for word, arg in dockerfile_instructions() if word == "USER").split(":")[0]
    assert uid == "10001"


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    out = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        negate, pattern = raw.startswith("!"), raw.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        out.append((negate, re.compile(regex + "$")))
    return out


def in_build_context(relative: str) -> bool:
    """Docker's rule: the last pattern that matches the path, or one of its parent folders, decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    included = True
    for negate, regex in dockerignore_patterns():
        if any(regex.match(c) for c in candidates):
            included = negate
    return included


def test_dockerignore_keeps_what_the_image_needs() -> None:
    for needed in ("pyproject.toml", "worker.py", "starter.py", "api.py", "referral/config.py",
                   "referral/data/villages.csv", "workflows/complaint.py", "activities/sql/001_schema.sql",
                   "casework/health.py", "api/app.py", "deploy/register_search_attributes.py", "deploy/migrate.py"):
        assert in_build_context(needed), needed
    for left_out in ("tests/conftest.py", ".git/HEAD", "deploy/k8s/worker.yaml", "deploy/.env", "var/x",
                     "referral/__pycache__/config.cpython-311.pyc", ".venv/bin/python"):
        assert not in_build_context(left_out), left_out


@pytest.fixture(scope="module")
def image_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's /app: the build context as the dockerignore leaves it, compiled as the Dockerfile does."""
    app = tmp_path_factory.mktemp("image") / "app"
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and not {".venv", ".git", "var"} & set(path.relative_to(ROOT).parts) \
                and in_build_context(relative):
            (app / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, app / relative)
    step = next(arg for word, arg in dockerfile_instructions() if word == "RUN" and "compileall" in arg)
    flags = shlex.split(re.search(r"python -m compileall (.*?) /app", step).group(1))
    subprocess.run([sys.executable, "-m", "compileall", *flags, str(app)], check=True, capture_output=True)
    return app


def test_the_image_runs_its_entry_points_from_compiled_code(image_app: Path) -> None:
    # -B: nothing is written at run time, as for the image's non-root user; every module of the app must
    # come with its pyc from the build.
    probe = ("import os, sys, worker, starter, api.server;"
             "files = [(m.__name__, getattr(m, '__file__', None) or '', getattr(m, '__cached__', None))"
             "         for m in list(sys.modules.values())];"
             "app = [(n, c) for n, f, c in files if f.startswith(sys.argv[1])];"
             "print(len(app), [n for n, c in app if not (c and os.path.exists(c))],"
             "      [n for n, f, c in files if f.startswith(sys.argv[2]) and '/.venv/' not in f])")
    result = subprocess.run([sys.executable, "-B", "-c", probe, str(image_app), str(ROOT)], cwd=image_app,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count, rest = result.stdout.split(" ", 1)
    assert int(count) > 20 and rest.strip() == "[] []", f"no pyc, or imported from the repository: {rest}"
    for script in ("deploy/migrate.py", "deploy/register_search_attributes.py"):
        help_run = subprocess.run([sys.executable, "-B", script, "--help"], cwd=image_app,
                                  capture_output=True, text=True, timeout=60)
        assert help_run.returncode == 0, f"{script}: {help_run.stderr}"


def entry_file(command: list[str]) -> str:
    assert command[0] == "python" and command[1].endswith(".py"), f"not `python FILE …`: {command}"
    return command[1]


def test_compose_commands_are_files_in_the_image(compose: dict) -> None:
    for name, service in ours(compose).items():
        command = service.get("command") or dockerfile_cmd()
        command = command if isinstance(command, list) else shlex.split(command)
        entry = entry_file(command)
        assert (ROOT / entry).is_file() and in_build_context(entry), f"{name}: {entry}"


# ---- register_search_attributes.py and migrate.py ----

def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_register_script_compiles_and_exposes_register(tmp_path: Path) -> None:
    py_compile.compile(str(REGISTER), cfile=str(tmp_path / "register.pyc"), doraise=True)
    module = load_script(REGISTER)
    assert inspect.iscoroutinefunction(module.register)
    assert list(inspect.signature(module.register).parameters)[:2] == ["client", "namespace"]
    assert set(module.wanted_types()) == {key.name for key in search_attributes.ALL}


def test_register_script_takes_names_from_workflows_search_attributes() -> None:
    source = REGISTER.read_text(encoding="utf-8")
    imports = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert "workflows" in imports or "workflows.search_attributes" in imports
    assert "search_attributes.ALL" in source
    hard_coded = {key.name for key in search_attributes.ALL} & {
        word for text in string_literals(REGISTER) for word in re.findall(r"[A-Za-z]+", text)}
    assert not hard_coded, f"search attribute names hard-coded in the script: {sorted(hard_coded)}"


@pytest.mark.parametrize(("env", "message"), [
    ({}, "cannot reach the Temporal server at 127.0.0.1:1"),
    ({"TEMPORAL_TLS_CERT": "/nonexistent/cert.pem"}, "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together"),
    ({"TEMPORAL_TLS_CA": "/nonexistent/ca.pem"}, "TLS settings are unusable"),
])
def test_register_script_fails_clearly(tmp_path: Path, env: dict, message: str) -> None:
    # Run from outside the repository: the script must find `workflows` by itself.
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TEMPORAL_")}
    result = subprocess.run([sys.executable, str(REGISTER), "--address", "127.0.0.1:1"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env={**clean, **env})
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_migrate_script_fails_clearly(tmp_path: Path) -> None:
    clean = {k: v for k, v in __import__("os").environ.items() if k != "DATABASE_URL"}
    script = DEPLOY / "migrate.py"
    unset = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, env={**clean, "REFERRAL_DATA_DIR": str(tmp_path)})
    assert unset.returncode == 2 and "DATABASE_URL is not set" in unset.stderr
    down = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**clean, "DATABASE_URL": "postgresql://referral@127.0.0.1:1/referral"})
    assert down.returncode == 1 and "cannot reach the referral database" in down.stderr
    assert "Traceback" not in unset.stderr + down.stderr


# ---- SQL visibility has a fixed number of columns per type and namespace ----

SQL_VISIBILITY_SLOTS = {"KEYWORD": 10, "INT": 3, "BOOL": 3, "DATETIME": 3, "DOUBLE": 3, "TEXT": 3, "KEYWORD_LIST": 3}


def test_search_attributes_fit_sql_visibility() -> None:
    used: dict[str, int] = {}
    for key in search_attributes.ALL:
        kind = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
        used[kind] = used.get(kind, 0) + 1
    over = {k: n for k, n in used.items() if n > SQL_VISIBILITY_SLOTS[k]}
    assert not over, f"more attributes than PostgreSQL visibility has columns for: {over}"


# ---- README ----

def test_readme_covers_operations() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for topic in ("register_search_attributes.py", "migrate.py", "advisory lock", "DATABASE_URL",
                  "REFERRAL_METRICS_PORT", "REFERRAL_APP_METRICS_PORT", "REFERRAL_HEALTH_PORT", "/healthz",
                  "/readyz", "Prometheus", "pg_dump", "codec", "SSO", "kubectl", "helm install",
                  "numHistoryShards", "HorizontalPodAutoscaler", "referral-secrets", "temporal-values.yaml",
                  "referral-dashboard.json"):
        assert topic in text, topic
    for metric in ("referral_cases_opened_total", "referral_escalations_total", "referral_breaches_total",
                   "referral_cases_needing_attention", "referral_outbox_backlog"):
        assert metric in text, metric
