#!/usr/bin/env python3
"""Accuracy of the offline tool classifier on the hand-labelled suites, with a confusion matrix.

usage: python bench/classifier_accuracy.py [--eval-dir DIR] [--json]

The labels are ground truth for measuring only; the classifier never reads them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rule_maker import OfflineClassifier, SecurityClass

DEFAULT_EVAL = Path(__file__).resolve().parents[1] / "benchmarks" / "agentdojo"
SHORT = {
    SecurityClass.SAFE_READ: "SAFE",
    SecurityClass.SENSITIVE_READ: "SENS",
    SecurityClass.UNTRUSTED_READ: "UNTR",
    SecurityClass.CONSEQUENTIAL_WRITE: "CONS",
    SecurityClass.INTERNAL_WRITE: "INTW",
}


def measure(eval_dir: Path) -> dict[str, object]:
    classifier = OfflineClassifier()
    confusion: Counter[tuple[str, str]] = Counter()
    suites: dict[str, dict[str, object]] = {}
    errors = []
    review = review_wrong = 0
    for labels_path in sorted(eval_dir.glob("labels_*.json")):
        suite = labels_path.stem.removeprefix("labels_")
        labels = json.loads(labels_path.read_text())
        tools = json.loads((eval_dir / f"tools_{suite}.json").read_text())
        right = 0
        for tool in tools:
            result = classifier.classify(tool)
            want = labels[tool["name"]]["class"]
            got = result.security_class.value
            confusion[(want, got)] += 1
            right += want == got
            review += result.needs_review
            if want != got:
                review_wrong += result.needs_review
                errors.append({"suite": suite, "tool": tool["name"], "want": want, "got": got, "confidence": round(result.confidence, 3), "rationale": result.rationale})
        suites[suite] = {"tools": len(tools), "correct": right, "accuracy": right / len(tools)}
    total = sum(int(s["tools"]) for s in suites.values())  # type: ignore[call-overload]
    correct = sum(int(s["correct"]) for s in suites.values())  # type: ignore[call-overload]
    return {
        "suites": suites,
        "tools": total,
        "correct": correct,
        "accuracy": correct / total if total else None,
        "needs_review": review,
        "errors_flagged_for_review": review_wrong,
        "errors": errors,
        "confusion": {f"{w}->{g}": n for (w, g), n in sorted(confusion.items())},
        "_matrix": confusion,
    }


def print_report(result: dict[str, object]) -> None:
    for suite, s in result["suites"].items():  # type: ignore[attr-defined]
        print(f"{suite:12} {s['correct']}/{s['tools']}  {s['accuracy']:.1%}")
    print(f"{'all':12} {result['correct']}/{result['tools']}  {result['accuracy']:.1%}   (flagged needs_review: {result['needs_review']})")
    matrix: Counter[tuple[str, str]] = result["_matrix"]  # type: ignore[assignment]
    classes = list(SecurityClass)
    print("\nconfusion (rows: label, columns: predicted)")
    print(" " * 6 + "".join(f"{SHORT[c]:>6}" for c in classes))
    for want in classes:
        print(f"{SHORT[want]:6}" + "".join(f"{matrix[(want.value, got.value)]:>6}" for got in classes))
    for e in result["errors"]:  # type: ignore[attr-defined]
        print(f"\nwrong: {e['suite']}/{e['tool']}: {e['want']} -> {e['got']} ({e['confidence']}) {e['rationale']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.eval_dir)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
