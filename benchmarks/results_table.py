"""One markdown table from several `pianogan evaluate` reports, for docs/results.md.

    python benchmarks/results_table.py NAME=RUN/eval/report.json NAME=... [--reference all|training_like]

Columns: the classifier two-sample accuracy, mean overlap, k-NN precision / recall /
coverage, then the mean of each structure figure (the ten named in docs/results.md before
any run was measured), with a first row for the real windows and a last for the
real-vs-real floor (both from the first report). A figure of a run is marked * when it is
closer to the real mean than the first report's (the reference model's) is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STRUCTURE = [
    "beat_phase_consistency",
    "onset_periodicity_1_bar",
    "top_voice_stepwise_share",
    "mean_top_voice_interval",
    "drone",
    "isolated_short_notes",
    "pitch_range",
    "out_of_key_share",
    "bass_on_chord_root",
    "pitch_class_repetition_1_bar",
]


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def rows(reports: dict[str, dict], reference: str) -> list[str]:
    first = next(iter(reports.values()))["references"][reference]
    real = {m: first["metrics"][m]["real_mean"] for m in STRUCTURE}
    header = ["", "C2ST", "overlap", "precision", "recall", "coverage", *STRUCTURE]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.append("| real | 0.5 | 1 | | | | " + " | ".join(_figure(real[m]) for m in STRUCTURE) + " |")
    baseline = {m: first["metrics"][m]["generated_mean"] for m in STRUCTURE}
    for name, report in reports.items():
        section = report["references"][reference]
        prdc = section["precision_recall_density_coverage"]["generated_vs_real"]
        cells = [name, _figure(section["two_sample_test"]["generated_vs_real"]["accuracy"]), _figure(section["mean_overlap"]["generated_vs_real"])]
        cells += [_figure(prdc[k], 2) for k in ("precision", "recall", "coverage")]
        for m in STRUCTURE:
            value = section["metrics"][m]["generated_mean"]
            closer = value is not None and baseline[m] is not None and abs(value - real[m]) < abs(baseline[m] - real[m])
            cells.append(_figure(value) + ("*" if closer and report is not next(iter(reports.values())) else ""))
        lines.append("| " + " | ".join(cells) + " |")
    floor_prdc = first["precision_recall_density_coverage"]["floor_train_vs_real"]
    floor = [
        "floor (train vs real)",
        _figure(first["two_sample_test"]["floor_train_vs_real"]["accuracy"]),
        _figure(first["mean_overlap"]["floor_train_vs_real"]),
    ]
    floor += [_figure(floor_prdc[k], 2) for k in ("precision", "recall", "coverage")]
    floor += [_figure(first["metrics"][m]["floor"]["generated_mean"]) for m in STRUCTURE]
    lines.append("| " + " | ".join(floor) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", metavar="NAME=REPORT")
    parser.add_argument("--reference", choices=["all", "training_like"], default="all")
    args = parser.parse_args()
    reports = {}
    for item in args.reports:
        name, _, path = item.partition("=")
        reports[name] = json.loads(Path(path).read_text())
    print("\n".join(rows(reports, args.reference)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
