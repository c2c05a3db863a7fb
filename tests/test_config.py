from pathlib import Path

import pytest

from appliance.core.config import default_data_dir, load_config
from appliance.core.errors import ApplianceError


def test_defaults_serve_on_loopback_with_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={})
    assert config.web.host == "127.0.0.1"
    assert config.database_url == f"sqlite:///{tmp_path / 'appliance.db'}"
    assert config.public_url == "http://127.0.0.1:8080"


def test_file_values_then_environment_overrides(tmp_path: Path) -> None:
    (tmp_path / "appliance.toml").write_text(
        '[web]\nport = 9000\npublic_url = "https://parley.example.org/"\n'
        "[auth]\nlockout_attempts = 3\n"
    )
    config = load_config(
        tmp_path, environ={"APPLIANCE_WEB_PORT": "9100", "APPLIANCE_AUDIT_CHECKPOINT_EVERY": "7"}
    )
    assert config.web.port == 9100
    assert config.public_url == "https://parley.example.org"
    assert config.auth.lockout_attempts == 3
    assert config.audit.checkpoint_every == 7


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "appliance.toml").write_text("[web]\nprot = 9000\n")
    with pytest.raises(ApplianceError, match="unknown key 'prot' in \\[web\\]"):
        load_config(tmp_path, environ={})


def test_unknown_section_in_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "appliance.toml").write_text("[wbe]\nport = 9000\n")
    with pytest.raises(ApplianceError, match="unknown section \\[wbe\\]"):
        load_config(tmp_path, environ={})


def test_unknown_environment_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ApplianceError, match="APPLIANCE_WEB_PROT"):
        load_config(tmp_path, environ={"APPLIANCE_WEB_PROT": "1"})
    with pytest.raises(ApplianceError, match="APPLIANCE_NOPE"):
        load_config(tmp_path, environ={"APPLIANCE_NOPE": "1"})


def test_wrong_types_are_refused(tmp_path: Path) -> None:
    (tmp_path / "appliance.toml").write_text('[web]\nport = "eighty"\n')
    with pytest.raises(ApplianceError, match="port must be an integer"):
        load_config(tmp_path, environ={})
    (tmp_path / "appliance.toml").write_text("")
    with pytest.raises(ApplianceError, match="APPLIANCE_WEB_PORT must be an integer"):
        load_config(tmp_path, environ={"APPLIANCE_WEB_PORT": "eighty"})


@pytest.mark.parametrize(
    ("section", "key", "value", "words"),
    [
        ("web", "port", "99999", "from 1 to 65535"),
        ("web", "port", "-1", "from 1 to 65535"),
        ("storage", "chunk_size", "10", "from 1024 to"),
        ("auth", "lockout_attempts", "0", "from 1 to"),
        ("auth", "session_idle_minutes", "-5", "from 1 to"),
        ("audit", "checkpoint_every", "0", "from 1 to"),
        ("queue", "workers", "0", "from 1 to"),
        ("asr", "device", '"tpu"', "one of auto, cpu, cuda"),
        ("interviews", "admit", '"sometimes"', "one of manual, at-start"),
        ("smtp", "security", '"maybe"', "one of starttls, tls, none"),
        ("storage", "blob_dir", '"blobs"', "absolute path"),
    ],
)
def test_every_setting_has_a_range_or_a_set(
    tmp_path: Path, section: str, key: str, value: str, words: str
) -> None:
    (tmp_path / "appliance.toml").write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ApplianceError, match=rf"\[{section}\] {key} must be .*{words}"):
        load_config(tmp_path, environ={})
    (tmp_path / "appliance.toml").write_text("")
    variable = f"APPLIANCE_{section.upper()}_{key.upper()}"
    with pytest.raises(ApplianceError, match=variable):
        load_config(tmp_path, environ={variable: value.strip('"')})


def test_the_chunk_size_range_is_the_sealed_formats(tmp_path: Path) -> None:
    from appliance.storage.sealed import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE

    for good in (MIN_CHUNK_SIZE, MAX_CHUNK_SIZE):
        config = load_config(tmp_path, environ={"APPLIANCE_STORAGE_CHUNK_SIZE": str(good)})
        assert config.storage.chunk_size == good
    for bad in (MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1):
        with pytest.raises(ApplianceError, match="chunk_size"):
            load_config(tmp_path, environ={"APPLIANCE_STORAGE_CHUNK_SIZE": str(bad)})


def test_deeply_nested_toml_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "appliance.toml").write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ApplianceError, match="too deeply"):
        load_config(tmp_path, environ={})


def test_broken_toml_and_missing_explicit_file_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "appliance.toml").write_text("[web\n")
    with pytest.raises(ApplianceError, match="not valid TOML"):
        load_config(tmp_path, environ={})
    with pytest.raises(ApplianceError, match="does not exist"):
        load_config(tmp_path, tmp_path / "missing.toml", environ={})


def test_data_dir_comes_from_environment_then_xdg(tmp_path: Path) -> None:
    assert default_data_dir({"APPLIANCE_DATA_DIR": str(tmp_path)}) == tmp_path
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "parley"


def test_the_sfu_and_the_browsers_get_the_same_ice_servers(tmp_path: Path) -> None:
    from appliance.sfu.ice import rtc_configuration
    from appliance.web.sfu_link import sfu_link

    config = load_config(
        tmp_path,
        environ={
            "APPLIANCE_SFU_ICE_SERVERS": "stun:turn.example.com:3478, turn:turn.example.com:443",
            "APPLIANCE_SFU_TURN_USERNAME": "parley",
            "APPLIANCE_SFU_TURN_PASSWORD": "s3cret",
        },
    )
    browsers = sfu_link(config).ice_servers
    assert [s["urls"] for s in browsers] == [
        "stun:turn.example.com:3478",
        "turn:turn.example.com:443",
    ]
    assert all((s["username"], s["credential"]) == ("parley", "s3cret") for s in browsers)
    sfu = rtc_configuration(config.sfu).iceServers or []
    assert [(s.urls, s.username, s.credential) for s in sfu] == [
        (s["urls"], "parley", "s3cret") for s in browsers
    ]
    defaults = load_config(tmp_path, environ={})
    assert sfu_link(defaults).ice_servers == []
    # Not aiortc's default of a public STUN server: an air-gapped box contacts nobody.
    assert rtc_configuration(defaults.sfu).iceServers == []
