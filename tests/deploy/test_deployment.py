"""Static checks of what deploys to Azure, since nothing reaches Azure from here.

The Bicep is read as text (no Bicep compiler can be installed on this machine):
these tests pin the facts the issue asks for, so a change that breaks one
fails here rather than in someone's subscription.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pathspec
import pytest

from shared.settings import DEFAULTS, STORAGE_SETTING, known_settings, load_settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
ROLE_GUIDS = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
}


def _block(text: str, opening: str) -> str:
    """The text between ``opening`` (which ends with '{' or '[') and its matching bracket."""
    start = text.index(opening) + len(opening)
    depth, pairs = 1, {"{": "}", "[": "]"}
    close, open_ = pairs[opening[-1]], opening[-1]
    for index in range(start, len(text)):
        depth += {open_: 1, close: -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"unbalanced block after {opening!r}")


def _keys(block: str) -> set[str]:
    return set(re.findall(r"^\s*([A-Za-z_]\w*)\s*:", block, flags=re.M))


def bicep_app_settings() -> set[str]:
    """Every app setting the Bicep gives the function app."""
    defaults = _keys(_block((INFRA / "main.bicep").read_text(), "var bgopsSettings = {"))
    app = (INFRA / "modules/functionapp.bicep").read_text()
    return defaults | _keys(_block(app, "properties: union(bgopsSettings, {"))


def sample_settings() -> dict[str, str]:
    return json.loads((REPO / "local.settings.sample.json").read_text())["Values"]


SAMPLES_SETTING = "BGOPS_ENABLE_SAMPLES"


def test_every_bgops_setting_is_in_the_sample_and_the_bicep_with_its_default():
    main = (INFRA / "main.bicep").read_text()
    for name, default in DEFAULTS.items():
        assert name in sample_settings(), name
        if name != SAMPLES_SETTING:  # never in the Bicep: the next test
            assert re.search(rf"^\s*{name}:\s*'{re.escape(default)}'\s*$", main, flags=re.M), (name, default)


def test_samples_are_off_unless_someone_sets_the_setting_and_the_bicep_never_does():
    assert DEFAULTS[SAMPLES_SETTING] == "false"
    assert load_settings(env={STORAGE_SETTING: "UseDevelopmentStorage=true"}).enable_samples is False  # unset
    for bicep in INFRA.rglob("*.bicep"):
        assert SAMPLES_SETTING not in bicep.read_text(), bicep.name
    assert SAMPLES_SETTING not in bicep_app_settings()
    assert sample_settings()[SAMPLES_SETTING] == "true"  # local development only (SPEC §8)


def test_sample_and_bicep_name_no_setting_unknown_to_the_app():
    assert set(sample_settings()) - known_settings() == set()
    assert bicep_app_settings() - known_settings() == set()


def test_bicep_connects_to_storage_by_identity_and_never_with_a_key():
    settings = bicep_app_settings()
    assert {f"{STORAGE_SETTING}__accountName", f"{STORAGE_SETTING}__credential",
            f"{STORAGE_SETTING}__clientId"} <= settings
    assert STORAGE_SETTING not in settings  # the plain setting would hold a connection string
    everything = "\n".join(p.read_text() for p in INFRA.rglob("*.bicep"))
    for secret in ("listKeys", "AccountKey", "DefaultEndpointsProtocol", "SharedAccessSignature", "listAccountSas"):
        assert secret not in everything, secret
    app = (INFRA / "modules/functionapp.bicep").read_text()
    assert re.search(r"AzureWebJobsStorage__credential:\s*'managedidentity'", app)


def test_bicep_assigns_the_three_storage_roles_by_their_builtin_guids_on_the_account():
    rbac = (INFRA / "modules/rbac.bicep").read_text()
    variables = dict(re.findall(r"^var (\w+) = '([0-9a-f-]{36})'", rbac, flags=re.M))
    assigned = {variables[name] for name in re.findall(r"\w+", _block(rbac, "var storageRoles = ["))}
    assert assigned == set(ROLE_GUIDS.values())
    assignment = _block(rbac, "resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = "
                              "[for role in storageRoles: {")
    assert "scope: storage" in assignment and "principalId: identityPrincipalId" in assignment


def test_storage_account_is_locked_down():
    storage = (INFRA / "modules/storage.bicep").read_text()
    assert re.search(r"allowSharedKeyAccess:\s*false", storage)
    assert re.search(r"allowBlobPublicAccess:\s*false", storage)
    assert re.search(r"minimumTlsVersion:\s*'TLS1_2'", storage)


def test_function_app_is_flex_consumption_linux_python_311_with_the_user_assigned_identity():
    app = (INFRA / "modules/functionapp.bicep").read_text()
    assert re.search(r"name:\s*'FC1'", app) and re.search(r"tier:\s*'FlexConsumption'", app)
    assert "kind: 'functionapp,linux'" in app
    runtime = _block(app, "runtime: {")
    assert "name: 'python'" in runtime and "version: '3.11'" in runtime
    assert "type: 'UserAssigned'" in app


def test_main_bicep_takes_a_prefix_and_location_and_outputs_the_base_url():
    main = (INFRA / "main.bicep").read_text()
    assert re.search(r"^param environmentName string", main, flags=re.M)
    assert re.search(r"^param location string", main, flags=re.M)
    assert re.search(r"^output SERVICE_API_URL string = app.outputs.url", main, flags=re.M)
    assert "output url string = 'https://${functionApp.properties.defaultHostName}'" in (
        INFRA / "modules/functionapp.bicep").read_text()


def test_every_module_main_bicep_uses_exists():
    main = (INFRA / "main.bicep").read_text()
    for module in re.findall(r"^module \w+ '([^']+)'", main, flags=re.M):
        assert (INFRA / module).is_file(), module


def test_only_the_site_carries_the_azd_service_tag():
    app = (INFRA / "modules/functionapp.bicep").read_text()
    assert app.count("tags: siteTags") == 1
    site = app[app.index("resource functionApp 'Microsoft.Web/sites"):]
    assert site.index("tags: siteTags") < site.index("properties:")
    main = (INFRA / "main.bicep").read_text()
    assert main.count("'azd-service-name'") == 1


def test_storage_account_name_fits_24_characters_for_any_environment_name():
    main = (INFRA / "main.bicep").read_text()
    prefix_length = int(re.search(r"var prefix = .*, (\d+)\)\)$", main, flags=re.M).group(1))
    assert re.search(r"name: 'st\$\{prefix\}\$\{resourceToken\}'", main)
    assert 2 + prefix_length + 13 <= 24  # uniqueString() is 13 characters
    for char in "-_.()":
        assert f"'{char}', '')" in main  # stripped: azd allows it in names, storage does not


def test_azd_parameters_file_feeds_every_required_bicep_parameter():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    main = (INFRA / "main.bicep").read_text()
    required = set(re.findall(r"^param (\w+) \w+\s*$", main, flags=re.M))
    assert required <= set(parameters)


def test_azure_yaml_deploys_the_repo_root_as_a_python_function_app():
    text = (REPO / "azure.yaml").read_text()
    assert re.search(r"^\s+project: \.\s*$", text, flags=re.M)
    assert re.search(r"^\s+language: python\s*$", text, flags=re.M)
    assert re.search(r"^\s+host: function\s*$", text, flags=re.M)
    assert "'azd-service-name': 'api'" in (INFRA / "main.bicep").read_text()


def package_files() -> set[str]:
    """What Core Tools would zip: every file under the repo, less what .funcignore matches."""
    spec = pathspec.PathSpec.from_lines("gitwildmatch", (REPO / ".funcignore").read_text().splitlines())
    files = set()
    for root, dirs, names in os.walk(REPO):
        relative_root = Path(root).relative_to(REPO)
        dirs[:] = [d for d in dirs if d != ".git" and not spec.match_file(f"{relative_root / d}/")]
        files |= {str(relative_root / n) for n in names if not spec.match_file(str(relative_root / n))}
    return files


@pytest.fixture(scope="module")
def package():
    return package_files()


def test_package_holds_the_app(package):
    assert {"function_app.py", "host.json", "requirements.txt", "shared/settings.py",
            "shared/functions/http_api.py", "shared/operations/samples.py"} <= package


@pytest.mark.parametrize("excluded", ["tests/", "devhost/", "bench/", "node_modules/", ".venv/", ".azurite/",
                                      "bench/results/", "infra/", "scripts/", "connector/",
                                      ".devhost/"])  # the local authority's private key (make run HTTPS=1)
def test_package_leaves_out_development_files(package, excluded):
    assert not [f for f in package if f.startswith(excluded)]
    spec = pathspec.PathSpec.from_lines("gitwildmatch", (REPO / ".funcignore").read_text().splitlines())
    assert spec.match_file(f"{excluded}anything.txt")  # even when the folder does not exist here


def test_the_package_is_the_app_and_nothing_else(package):
    """Listed as Core Tools would zip this checkout, caches, logs and all: whatever a new folder or tool leaves
    behind, it must be named in .funcignore before it can ship."""
    assert {f for f in package if not f.startswith("shared/")} == {"function_app.py", "host.json", "requirements.txt"}
    assert not [f for f in package if "__pycache__" in f or f.endswith((".pyc", ".log"))]


def test_package_has_no_local_secrets_or_tooling(package):
    for name in ("local.settings.json", "requirements-dev.txt", "package.json", "Makefile", "pyproject.toml"):
        assert name not in package


def test_requirements_txt_holds_only_runtime_packages():
    names = {re.split(r"[<>=!~\[ ]", line.strip())[0].lower()
             for line in (REPO / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    assert names == {"azure-functions", "azure-data-tables", "azure-storage-queue", "azure-storage-blob",
                     "azure-identity", "requests",
                     "urllib3", "certifi", "python-dateutil", "croniter", "opentelemetry-api", "opentelemetry-sdk",
                     "opentelemetry-exporter-otlp-proto-http", "azure-monitor-opentelemetry"}


def test_the_deployed_package_imports_nothing_from_development_folders():
    sources = "\n".join(p.read_text() for p in (REPO / "shared").rglob("*.py"))
    sources += (REPO / "function_app.py").read_text()
    assert not re.search(r"^\s*(from|import)\s+(devhost|tests|bench|pytest|faults)\b", sources, flags=re.M)


def test_bicep_turns_on_entra_id_authentication_only_when_given_an_app_registration():
    main, site = (INFRA / "main.bicep").read_text(), (INFRA / "modules" / "functionapp.bicep").read_text()
    assert re.search(r"^param entraClientId string = ''$", main, flags=re.M)  # off by default
    assert "entraClientId: entraClientId" in main
    assert "resource authentication 'Microsoft.Web/sites/config@" in site
    assert "= if (!empty(entraClientId))" in site and "name: 'authsettingsV2'" in site
    for required in ("requireAuthentication: true", "unauthenticatedClientAction: 'Return401'",
                     "excludedPaths: [ '/api/health' ]", "clientId: entraClientId"):
        assert required in site, required
