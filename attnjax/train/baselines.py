"""Non-neural baselines, scored with the same metrics as the models.

Lead-n (summarization) takes a document's first ``n`` sentences
(:func:`attnjax.train.metrics.split_sentences`). Lead-3 is the classic CNN/DailyMail baseline (See
et al. 2017 report 40.3 / 17.7 / 36.6 ROUGE-1 / 2 / L on the full test set); on a JSON-lines split:

    python -m attnjax.train.baselines ../shared/data/cnn_dailymail/validation.jsonl.gz --n 3

TF-IDF + logistic regression (classification) fits word uni+bigram TF-IDF features and an L2
logistic regression on the training texts only (:func:`tfidf_logistic_regression`). It needs
scikit-learn, an optional dependency: ``pip install 'attnjax[baselines]'``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from typing import Sequence

import numpy as np

from attnjax.train.metrics import rouge, split_sentences


def lead_n(document: str, n: int = 3) -> str:
    """The first ``n`` sentences of ``document``, one per line (fewer if it has fewer)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not isinstance(document, str):
        raise ValueError(f"document must be a str, got {type(document).__name__}")
    return "\n".join(split_sentences(document)[:n])


def lead_baseline(documents: Sequence[str], references: Sequence[str], n: int = 3) -> dict:
    """:func:`attnjax.train.metrics.rouge` of :func:`lead_n` of each document against its reference."""
    if isinstance(documents, (str, bytes)):
        raise ValueError(f"documents must be a sequence of strings, got a single {type(documents).__name__}")
    leads = []
    for i, document in enumerate(documents):
        if not isinstance(document, str):
            raise ValueError(f"documents[{i}] must be a str, got {type(document).__name__}")
        leads.append(lead_n(document, n))
    return rouge(leads, references)


SKLEARN_HINT = "pip install 'attnjax[baselines]' (or: pip install 'scikit-learn>=1.3')"


def require_sklearn() -> None:
    """ImportError with the install command unless scikit-learn can be imported."""
    try:
        import sklearn  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"the TF-IDF + logistic regression baseline needs scikit-learn, which is not installed; {SKLEARN_HINT}"
        ) from error


def tfidf_logistic_regression(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    texts: Sequence[str],
    *,
    ngram_range: tuple[int, int] = (1, 2),
    c: float = 10.0,
    max_iter: int = 1000,
) -> np.ndarray:
    """Class ids ``[len(texts)]`` from TF-IDF word n-grams + logistic regression fitted on the training texts.

    Features: scikit-learn's ``TfidfVectorizer`` (lower-cased words of 2+ characters, uni+bigrams
    by default) fitted on ``train_texts``. Classifier: ``LogisticRegression(C=c)`` (L2), fitted to its
    optimum (:func:`fit_tfidf_logistic_regression`). ``C=10`` rather than scikit-learn's 1: lighter
    regularisation suits the sparse bigram features (on SST-2 validation 82.6% against 80.7%, both at
    the optimum). ``texts`` are only transformed and predicted, never fitted on.
    """
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"texts must be a sequence of strings, got a single {type(texts).__name__}")
    vectorizer, model = fit_tfidf_logistic_regression(train_texts, train_labels, ngram_range=ngram_range, c=c, max_iter=max_iter)
    if not len(texts):
        return np.zeros((0,), model.classes_.dtype)
    return model.predict(vectorizer.transform(list(texts)))


# Newton-CG to a gradient tolerance of 1e-8: the L2-regularised loss has one optimum, and every
# solver and scikit-learn version reaches the same one. lbfgs at scikit-learn's default tol (1e-4)
# stopped after 71 iterations on SST-2, short of it, at 82.0% or 82.2% depending on the version
# (the optimum: 82.6%, where newton-cg, liblinear and lbfgs at tol 1e-8 agree).
SOLVER, TOLERANCE = "newton-cg", 1e-8


def fit_tfidf_logistic_regression(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    *,
    ngram_range: tuple[int, int] = (1, 2),
    c: float = 10.0,
    max_iter: int = 1000,
):
    """``(vectorizer, model)``: the fitted ``TfidfVectorizer`` and ``LogisticRegression`` of
    :func:`tfidf_logistic_regression`."""
    if isinstance(train_texts, (str, bytes)):
        raise ValueError(f"train_texts must be a sequence of strings, got a single {type(train_texts).__name__}")
    if len(train_texts) != len(train_labels):
        raise ValueError(f"train_texts has {len(train_texts)} entries but train_labels {len(train_labels)}; expected one label per text")
    labels = np.asarray(train_labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"train_labels must be integer class ids, got dtype {labels.dtype}")
    if len(np.unique(labels)) < 2:
        raise ValueError(f"train_labels hold {len(np.unique(labels))} distinct class(es); logistic regression needs at least 2")
    if not (c > 0):
        raise ValueError(f"c must be > 0, got {c!r}")
    require_sklearn()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=tuple(ngram_range))
    features = vectorizer.fit_transform(list(train_texts))
    model = LogisticRegression(C=c, solver=SOLVER, tol=TOLERANCE, max_iter=max_iter).fit(features, labels)
    return vectorizer, model


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Lead-n ROUGE on a JSON-lines file (.gz allowed).")
    parser.add_argument("path")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="score only the first LIMIT rows")
    parser.add_argument("--document-key", default="article")
    parser.add_argument("--reference-key", default="abstract")
    args = parser.parse_args(argv)
    opener = gzip.open if args.path.endswith(".gz") else open
    documents, references = [], []
    with opener(args.path, "rt", encoding="utf-8") as f:
        for line in f:
            if args.limit is not None and len(documents) >= args.limit:
                break
            row = json.loads(line)
            documents.append(row[args.document_key])
            references.append(row[args.reference_key])
    scores = {**lead_baseline(documents, references, args.n), "count": len(documents)}
    json.dump(scores, sys.stdout)
    print()
    return scores


if __name__ == "__main__":
    main()
