"""The built-in synthetic dataset: Capture-24's layout, made by the workflow's synthesize rules."""

from spectrohar.sources import capture24
from spectrohar.synthetic import participant_ids

RULES = "synthesize.smk"

inputs, read = capture24.inputs, capture24.read


def participants(settings) -> list[str]:
    """The ids the synthesize rules make."""
    return participant_ids(settings.synthetic.participants)
