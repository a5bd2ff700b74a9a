"""The terminal's verdict table (vaebench.pytest_plugin.summary.write_table): long reasons are
grouped and wrapped between words, never cut."""
from vaebench.pytest_plugin.summary import WIDTH, write_table


class Terminal:
    def __init__(self):
        self.text = ""

    def section(self, title):
        self.text += f"== {title} ==\n"

    def write(self, text, **_):
        self.text += text

    def write_line(self, text, **_):
        self.text += text + "\n"


def test_long_reasons_wrap_between_words_and_group_models():
    labels = [f"ae z=256 seed={s}" for s in range(5)]
    reason = "precondition failed: " + "; ".join(
        f"{x}: not converged: probe radius rising {3.2 + s / 10:.1f}% per epoch (limit 2%) over the last 3 epochs"
        for s, x in enumerate(labels)) + " and a last word: supercalifragilistic"
    row = {"id": "C3", "verdict": "inconclusive", "title": "t", "passed": 0, "failed": 0, "open": 1, "n_runs": 5,
           "subclaims": [{"id": "C3a", "verdict": "inconclusive", "statement": "the peak", "reason": reason}],
           "flags": {"not converged": labels}}
    tr = Terminal()
    write_table(tr, [row], {}, None)
    assert "5 models: not converged (probe radius rising 3.2–3.5% per epoch" in " ".join(tr.text.split())
    assert "supercalifragilistic)" in tr.text.split()                    # the last word whole
    assert all(len(line) <= WIDTH + 30 for line in tr.text.splitlines())
    assert "health: not converged: 5 models: " + ", ".join(labels[:2]) in tr.text
