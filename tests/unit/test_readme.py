"""The README's description of the lineage graph stays true to the definitions."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_groups() -> list[str]:
    """Group names of the README's bullet list after "The lineage graph shows these asset groups"."""
    text = README.read_text()
    start = text.index("The lineage graph shows these asset groups")
    block = text[start:text.index("\n\n", text.index("\n- ", start))]
    return [name for line in block.splitlines() if line.startswith("- ")
            for name in re.findall(r"`([a-z_]+)`", line.split(":", 1)[0])]


def test_the_readme_names_every_asset_group_of_the_graph():
    from mesh_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    named = readme_groups()
    assert len(named) == len(set(named))
    assert set(named) == groups
