"""Bake a sentence-embedding model into the image at build time, pinned by revision, and prove it reads Korean.

The Dockerfile runs it where the builder has network access; at run time the image never reaches a
model hub (HF_HUB_OFFLINE=1) and EMBEDDING_MODEL points at the baked directory.

    python scripts/bake_embedding_model.py --repo sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2 \
        --revision <40-hex commit> --dest /opt/models/paraphrase-multilingual-MiniLM-L12-v2

``check_model`` refuses a model whose vocabulary does not hold Korean: an English-only tokenizer,
such as the local stack's all-MiniLM-L6-v2's, decomposes every Hangul syllable into its letters
(jamo: 청 -> ᄎ ᅥ ᆼ, ~2.5 tokens a syllable) or unknown tokens, and such vectors mean nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

KOREAN_SAMPLES = [
    "청년 월세 특별지원: 부모와 따로 사는 19~34세 청년에게 월 최대 20만 원을 12개월간 지원합니다.",
    "중소기업 수출바우처 사업 참여기업 모집 공고 (해외 마케팅, 통번역, 국제 인증)",
    "스마트공장 구축 및 고도화 지원사업: 제조 중소기업의 자동화 설비 도입 비용 지원",
]
MAX_UNREADABLE_SHARE = 0.2  # at most this share of a Korean text's tokens may be lone jamo or [UNK]
_JAMO = re.compile(r"^(##|\u2581)?[\u1100-\u11ff\u3130-\u318f]$")


def check_model(path: Path) -> dict:
    """Load the model from ``path`` on CPU and check that it reads Korean; its dimension and the share
    of unknown tokens in the Korean samples. ``SystemExit`` (with the reason) when it does not."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    tokenizer = model.tokenizer
    tokens = [t for text in KOREAN_SAMPLES for t in tokenizer.tokenize(text)]
    unreadable = sum(1 for t in tokens if t == tokenizer.unk_token or _JAMO.match(t)) / max(len(tokens), 1)
    vectors = model.encode(KOREAN_SAMPLES, normalize_embeddings=True)
    facts = {"dimension": int(vectors.shape[1]), "korean_unreadable_token_share": round(unreadable, 4)}
    if unreadable > MAX_UNREADABLE_SHARE:
        raise SystemExit(f"{path}: {unreadable:.0%} of the Korean samples' tokens are lone Hangul letters or "
                         f"unknown (at most {MAX_UNREADABLE_SHARE:.0%} allowed): this vocabulary cannot read Korean")
    return facts


def bake(repo: str, revision: str, dest: Path) -> dict:
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise SystemExit(f"--revision must be a full 40-hex commit, not {revision!r}: a branch or tag can move")
    from huggingface_hub import snapshot_download

    snapshot_download(repo_id=repo, revision=revision, local_dir=str(dest),
                      allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors", "1_Pooling/*",
                                      "sentencepiece.bpe.model", "tokenizer*", "modules.json"],
                      ignore_patterns=["onnx/*", "openvino/*", "*.onnx", "*.h5", "*.ot", "*.msgpack",
                                       "pytorch_model.bin"])
    facts = {"repo": repo, "revision": revision, **check_model(dest)}
    (dest / "BAKED.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return facts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="hub repository of the model")
    parser.add_argument("--revision", required=True, help="full commit hash to pin")
    parser.add_argument("--dest", required=True, type=Path, help="directory to put the model in")
    parser.add_argument("--check-only", action="store_true", help="only check an existing directory")
    args = parser.parse_args(argv)
    facts = check_model(args.dest) if args.check_only else bake(args.repo, args.revision, args.dest)
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
