"""The seed's setup against ours at an equal wall-clock budget, judged by `pianogan evaluate`.

Trains three runs one after another, each for the same number of seconds on this
machine, then evaluates each generator against the test split:

1. the seed architecture with the seed recipe (what the original project did),
2. the default architecture with the seed recipe (isolates the architecture),
3. the default architecture with our recipe (what pianogan ships).

Writes OUT/<name>/ (runs and evaluation reports) and a Markdown table, with the
real-vs-real floor (train split against test split) as the first row, to --table.

    python benchmarks/compare_recipes.py --dataset out/datasets/pop909 --budget 480 \
        -o out/compare --table docs/results.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RUNS = [
    ("seed-arch_seed-recipe", ["--arch", "seed", "--recipe", "seed"], "seed architecture, seed recipe"),
    ("default-arch_seed-recipe", ["--arch", "default", "--recipe", "seed"], "default architecture, seed recipe"),
    ("default-arch_our-recipe", ["--arch", "default", "--recipe", "ours"], "default architecture, our recipe (shipped setup)"),
]
HEADLINE = ["lit_share", "onsets_per_column", "mean_note_length", "notes_at_least_an_eighth_share", "polyphonicity", "scale_consistency", "pitch_class_entropy"]


def pianogan(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pianogan", *args], check=True)


def train_within(budget: float, args: list[str], grace: float = 60) -> float:
    """Run ``pianogan train`` with --time-limit; stop it if one step outlasts the budget.

    The time limit is checked between steps, so a setup whose single step takes longer
    than the budget is stopped from outside (SIGTERM, then SIGKILL) and has 0 steps.
    """
    started = time.time()
    process = subprocess.Popen([sys.executable, "-m", "pianogan", "train", *args, "--time-limit", str(budget)])
    try:
        process.wait(timeout=budget + grace)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return time.time() - started


def train_and_evaluate(name: str, options: list[str], args: argparse.Namespace) -> dict:
    run = args.output / name
    if run.exists():
        shutil.rmtree(run)
    seconds = train_within(
        args.budget,
        [str(args.dataset), "-o", str(run), *options, "--steps", "1000000000", "--checkpoint-every", "1000000000", "--sample-every", "1000000000", "--quiet"],
    )
    log = run / "train_log.csv"
    steps = sum(1 for _ in open(log)) - 1 if log.exists() else 0
    result = {"name": name, "steps": steps, "train_seconds": seconds, "report": None}
    if steps and (run / "generator.keras").exists():
        pianogan(
            "evaluate",
            "--model",
            str(run / "generator.keras"),
            "--real",
            str(args.dataset),
            "--split",
            "test",
            "--n",
            str(args.n),
            "--seed",
            "0",
            "-o",
            str(run / "evaluation"),
        )
        result["report"] = json.loads((run / "evaluation" / "report.json").read_text())
    return result


def table(results: list[dict]) -> str:
    first = next(r["report"]["references"]["all"] for r in results if r["report"])
    header = ["setup", "steps in budget", "C2ST acc.", "mean overlap", *HEADLINE, "diversity", "near copies"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    metrics = first["metrics"]
    floor_cells = [
        "real vs real floor (train vs test split)",
        "-",
        f"{first['two_sample_test']['floor_train_vs_real']['accuracy']:.3f}",
        f"{first['mean_overlap']['floor_train_vs_real']:.3f}",
        *[f"{metrics[m]['real_mean']:.3f}" for m in HEADLINE if m in metrics],
        f"{first['diversity']['real']:.3f}",
        f"{next(r['report'] for r in results if r['report'])['copying']['floor_real_vs_train']['near_copies']}",
    ]
    lines.append("| " + " | ".join(floor_cells) + " |")
    for result, (_, _, label) in zip(results, RUNS):
        if result["report"] is None:
            lines.append("| " + " | ".join([label, f"{result['steps']} (stopped after {result['train_seconds']:.0f} s)"] + ["-"] * (len(header) - 2)) + " |")
            continue
        report = result["report"]["references"]["all"]
        cells = [
            label,
            f"{result['steps']:,}",
            f"{report['two_sample_test']['generated_vs_real']['accuracy']:.3f}",
            f"{report['mean_overlap']['generated_vs_real']:.3f}",
            *[
                f"{report['metrics'][m]['generated_mean']:.3f}" if report["metrics"][m]["generated_mean"] is not None else "-"
                for m in HEADLINE
                if m in report["metrics"]
            ],
            f"{report['diversity']['generated']:.3f}",
            f"{result['report']['copying']['generated_vs_train']['near_copies']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="prepared POP909 dataset (train and test splits)")
    parser.add_argument("--budget", type=float, default=480, help="training seconds per setup")
    parser.add_argument("--n", type=int, default=1000, help="generated and real windows per evaluation")
    parser.add_argument("-o", "--output", type=Path, default=Path("out/compare"))
    parser.add_argument("--table", type=Path, help="write the Markdown table here too")
    args = parser.parse_args()
    results = []
    for name, options, label in RUNS:
        print(f"== {label}: training for {args.budget:.0f} s", flush=True)
        results.append(train_and_evaluate(name, options, args))
        print(f"   {results[-1]['steps']} steps", flush=True)
    text = table(results)
    print(text)
    (args.output / "results_table.md").write_text(text + "\n")
    (args.output / "results.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "report"} for r in results], indent=2))
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(text + "\n")


if __name__ == "__main__":
    main()
