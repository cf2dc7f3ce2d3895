"""Issue 16, part 4: nothing a run writes lands outside the warehouse.

A failed flow run's result used to be pickled by Prefect into `~/.prefect/storage`, and
the temporary server's database lived in `~/.prefect` too. A real `bulletins run`, with
an empty HOME and Prefect's own defaults (no PREFECT_* variable set), must leave HOME
empty: once for a run that succeeds, once for one that fails.
"""

from __future__ import annotations

from pathlib import Path

from ops_helpers import bulletins, make_inbox


def every_file(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_run_leaves_home_untouched(tmp_path: Path, reliability) -> None:
    home = tmp_path / "home"
    home.mkdir()
    inbox = make_inbox(tmp_path / "inbox")
    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "lake").write_text("not a folder", encoding="utf-8")  # the run fails on it
    env = {"HOME": str(home), "BULLETINS_NOTIFY_URL": ""}
    for wh, expected in ((tmp_path / "wh", 0), (failing, 1)):
        result = bulletins("run", "--inbox", str(inbox), "--warehouse", str(wh), drop=("PREFECT_",), env=env)
        left = every_file(home)
        ok = result.returncode == expected and not left
        reliability.record(
            "16 nothing outside the warehouse",
            f"`bulletins run` that {'succeeds' if expected == 0 else 'fails'}, HOME empty, no PREFECT_* set",
            f"exit {result.returncode}; files in HOME: {', '.join(left) if left else 'none'}",
            ok,
        )
        assert result.returncode == expected, result.stdout + result.stderr
        assert not left, f"written into HOME: {left}"
        # Where Prefect's files went instead: under the warehouse.
        assert (wh / "prefect" / "runs" / "prefect.db").is_file(), every_file(wh)
