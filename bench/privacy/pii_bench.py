"""Detection quality and cost of the masking policy on the generated PII corpus (bench/privacy/corpus.py).

For each detector: **recall** per kind (planted personal items no longer present, as written, in
the masked field), **false positives** per kind (look-alikes altered by masking) and **CPU per
policy** (process time of masking all text fields of one policy). Compared:

* ``aegis``: ``aegis.privacy`` — ko-pii's detectors plus our keep rules (landline and
  representative numbers of public bodies kept, 1800s "RRNs" not taken), what the pipeline runs;
* ``ko-pii-all``: ko-pii's public ``detect_all`` restricted to the same labels, every finding masked
  (no keep rule), to show what the keep rules change;
* ``presidio``: Microsoft Presidio's analyzer with its Korean recognizers (KR_RRN, KR_FRN), the
  phone recognizer for region KR, e-mail and credit-card recognizers, no NLP model (spaCy models
  cannot be downloaded here); only when ``presidio-analyzer`` is installed
  (``pip install -e .[pii-compare]``).

    .venv/bin/python -m bench.privacy.pii_bench [--policies 600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from typing import Callable

from aegis.privacy import POLICY_COLUMNS, ColumnTreatment, _star, mask_policy_values
from bench.privacy.corpus import Planted, generate

Masker = Callable[[dict], dict]


def aegis_masker(values: dict) -> dict:
    return mask_policy_values(values)[0]


def _span_masker(find_spans: Callable[[str], list[tuple[int, int]]]) -> Masker:
    def mask(text: str) -> str:
        out, at = [], 0
        for start, end in sorted(find_spans(text)):
            if start < at:
                continue
            out += [text[at:start], _star(text[start:end])]
            at = end
        return "".join(out) + text[at:]

    def masker(values: dict) -> dict:
        result = {}
        for column, value in values.items():
            treatment = POLICY_COLUMNS.get(column, ColumnTreatment.FREE_TEXT)
            if value is None or treatment is ColumnTreatment.NOT_PERSONAL:
                result[column] = value
            elif isinstance(value, str):
                result[column] = mask(value)
            else:
                result[column] = json.loads(mask(json.dumps(value, ensure_ascii=False)))
        return result
    return masker


def ko_pii_all_masker() -> Masker:
    from ko_pii import detect_all

    labels = ["RRN", "FRN", "PHONE", "EMAIL", "ACCOUNT", "CARD"]
    return _span_masker(lambda text: [(d.start, d.end) for d in detect_all(text, include=labels)])


def presidio_masker() -> Masker | None:
    try:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
        from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer,
                                                              KrFrnRecognizer, KrRrnRecognizer, PhoneRecognizer)
    except ImportError:
        return None
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)

    class NoNlp(NlpEngine):  # pattern recognizers only: no spaCy model is available here
        def load(self): pass
        def is_loaded(self): return True
        def process_text(self, text, language):
            return NlpArtifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=self, language=language)
        def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
            for text in texts:
                yield text, self.process_text(text, language)
        def is_stopword(self, word, language): return False
        def is_punct(self, word, language): return False
        def get_supported_entities(self): return []
        def get_supported_languages(self): return ["ko"]

    registry = RecognizerRegistry(supported_languages=["ko"])
    for recognizer in (KrRrnRecognizer(), KrFrnRecognizer(), PhoneRecognizer(supported_regions=("KR",), supported_language="ko"),
                       EmailRecognizer(supported_language="ko"), CreditCardRecognizer(supported_language="ko")):
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(registry=registry, nlp_engine=NoNlp(), supported_languages=["ko"])
    return _span_masker(lambda text: [(r.start, r.end) for r in engine.analyze(text, language="ko")])


def evaluate(masker: Masker, records, planted: list[Planted]) -> dict:
    masked: dict[str, dict] = {}
    started = time.process_time()
    for record in records:
        values = record.model_dump(mode="json")
        values.pop("raw_data")
        masked[record.source_id] = masker(values)
    cpu_ms = (time.process_time() - started) * 1000 / len(records)
    found, total, altered, alikes = Counter(), Counter(), Counter(), Counter()
    for item in planted:
        value = masked[item.source_id][item.field]
        blob = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if item.personal:
            total[item.kind] += 1
            found[item.kind] += item.text not in blob
        else:
            alikes[item.kind] += 1
            altered[item.kind] += item.text not in blob
    return {"cpu_ms_per_policy": round(cpu_ms, 3),
            "recall": {k: f"{found[k]}/{total[k]}" for k in sorted(total)},
            "recall_total": round(sum(found.values()) / max(1, sum(total.values())), 4),
            "missed": sum(total.values()) - sum(found.values()),
            "planted": sum(total.values()),
            "false_positives": {k: f"{altered[k]}/{alikes[k]}" for k in sorted(alikes)},
            "false_positives_total": sum(altered.values()), "look_alikes": sum(alikes.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policies", type=int, default=600)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args()
    records, planted = generate(args.policies, args.seed)
    maskers: dict[str, Masker | None] = {"aegis": aegis_masker, "ko-pii-all": ko_pii_all_masker(),
                                         "presidio": presidio_masker()}
    results = {}
    for name, masker in maskers.items():
        if masker is None:
            print(f"{name}: not installed (pip install -e .[pii-compare]); skipped")
            continue
        results[name] = evaluate(masker, records, planted)
        r = results[name]
        print(f"{name:<11} recall {r['recall_total']:.4f} ({r['planted'] - r['missed']}/{r['planted']})  "
              f"false positives {r['false_positives_total']}/{r['look_alikes']}  cpu {r['cpu_ms_per_policy']} ms/policy")
        print(f"            recall by kind: {r['recall']}")
        print(f"            altered look-alikes by kind: {r['false_positives']}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump({"policies": len(records), "seed": args.seed, "results": results}, out, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
