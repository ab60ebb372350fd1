"""The operator references cannot drift from the code: docs/CONFIG.md is the generated text, and
docs/EVENTS.md documents every log event the package emits, with its fields."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings
from bot.ops.reference import config_reference, log_events

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_config_reference_is_up_to_date() -> None:
    generated = config_reference()
    current = (DOCS / "CONFIG.md").read_text(encoding="utf-8")
    assert current == generated, "docs/CONFIG.md is stale: run `python -m bot.ops.reference > docs/CONFIG.md`"


def test_config_reference_covers_every_setting_with_its_default_and_variable() -> None:
    text = config_reference()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if not hasattr(model, "model_fields"):
            continue
        assert f"## `[{section}]`" in text
        for name in model.model_fields:  # type: ignore[union-attr]
            nested = getattr(model.model_fields[name].annotation, "model_fields", None)  # type: ignore[union-attr]
            if nested is not None:
                assert f"## `[{section}.{name}]`" in text
            else:
                assert re.search(rf"^\| `{re.escape(name)}` \|", text, re.M), f"{section}.{name}"
    assert "| `port` | int (>= 0, <= 65535) | `9108` | listen port; 0 = any free port | `MMBOT_OPS__PORT` |" in text
    assert '| `model` | "symmetric" \\| "linear" \\| "as" \\| "glft" | `"linear"` |' in text
    assert "| `max_notional` | float (optional, > 0) | unset |" in text
    assert "## `[sim.symbols.<SYMBOL>]`" in text and "## `[sim.accounts[]]`" in text


def _documented_events() -> dict[str, str]:
    """event name -> the fields column of its row in docs/EVENTS.md."""
    rows = {}
    for line in (DOCS / "EVENTS.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([a-z_0-9]+)`", cells[0])
        if match and len(cells) == 4:
            assert match.group(1) not in rows, f"{match.group(1)} documented twice"
            rows[match.group(1)] = cells[2]
    return rows


def test_every_log_event_is_documented_with_its_fields() -> None:
    code = log_events()
    docs = _documented_events()
    assert {"quote", "order_placed", "order_canceled", "fill", "inventory", "kill_switch", "summary"} <= code.keys()
    missing = sorted(set(code) - set(docs))
    assert not missing, f"events logged but not in docs/EVENTS.md: {missing}"
    stale = sorted(set(docs) - set(code))
    assert not stale, f"events in docs/EVENTS.md that the code no longer logs: {stale}"
    for name, info in code.items():
        documented = set(re.findall(r"`([A-Za-z_0-9]+)`", docs[name]))
        assert info.fields <= documented, f"{name}: fields not documented: {sorted(info.fields - documented)}"


def test_the_event_scanner_finds_calls_across_lines(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text(
        'log.warning(\n    "thing_failed",\n    error=e, detail=d,\n)\n'
        'self.log.info("thing_done", **fields)\n'
        'log.info(f"not_{an}_event")\nprint("not_an_event")\nlog.info("Not An Event")\n',
        encoding="utf-8",
    )
    found = log_events(pkg)
    assert sorted(found) == ["thing_done", "thing_failed"]
    assert found["thing_failed"].fields == {"error", "detail"} and found["thing_failed"].levels == {"warning"}
    assert found["thing_done"].fields == set()
