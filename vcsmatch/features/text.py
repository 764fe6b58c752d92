"""Free text to taxonomy codes, with a confidence a practitioner can confirm or reject.

"lonely since my wife died, used to love the allotment" -> needs social-isolation and
bereavement, strength gardening.

How the confidence is built (so a threshold means the same thing everywhere):

- Each term's label and synonyms are short *phrases*. A phrase's evidence is how much of it
  the text contains: the share of its TF-IDF weight (stemmed words and adjacent word pairs,
  IDF learned over every phrase and description) present in the text. A phrase found whole
  scores 1; half of a two-word phrase about 0.4, since word order (the pair) is missing.
- Typing errors are forgiven by matching unknown words of five letters or more to the
  phrase vocabulary with a normalised edit similarity (rapidfuzz); a near-miss counts with
  its similarity (``lonley`` -> ``lonely`` at 0.83), so typos lower the confidence a little.
- The label plus description gives weaker evidence: their TF-IDF cosine with the text,
  scaled by ``description_weight`` (descriptions are long, so a cosine is never near 1).
- A phrase that is one ambiguous word (``AMBIGUOUS_WORDS``: "help", "support", "ms") gives at
  most ``ambiguous_weight``: a hint, not an answer. Coverage is squared, so half a phrase is
  weak evidence (0.16) while a whole one stays 1.
- A term's confidence is the noisy-OR of its best phrase and its description evidence, in
  [0, 1]. Exact synonyms give 1.0, clear typos 0.8-0.95, a half phrase ~0.4, stray words in a
  description ~0.1-0.3: ``min_confidence=0.5`` keeps the first two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFittedError
from vcsmatch.taxonomy import Taxonomy, load_taxonomy

SuggestKind = Literal["need", "strength", "activity"]

#: Synonyms too common in front-door notes to establish a code on their own ("I need help",
#: "Ms Smith", "a loss of income"): alone, each gives at most ``ambiguous_weight``.
AMBIGUOUS_WORDS: frozenset[str] = frozenset(
    "help helping support information advice condition work car heart trip safety travel "
    "course learning online family friends child children loss pain ms drink food active "
    "kitchen independent speaks war memories band cards".split()
)

_TOKEN_RE = re.compile(r"[a-z0-9]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018`]")


def _stem(word: str) -> str:
    """A light suffix stripper: enough to meet "gardens"/"gardening"/"garden" in one form."""
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN_RE.findall(_APOSTROPHES.sub("", text.lower()))]


def _features(tokens: list[str]) -> list[str]:
    """Stemmed words and adjacent pairs (the pair keeps "looking after" from "after")."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def _analyse(text: str) -> list[str]:
    return _features(_tokens(text))


@dataclass(frozen=True)
class CodeSuggestion:
    """A code the text suggests, with its label and a confidence in [0, 1]."""

    code: str
    label: str
    confidence: float


class CodeSuggester(BaseEstimator):
    """Fit on the taxonomy; ``suggest(text, kind)`` ranks the codes the text points to."""

    def __init__(
        self,
        description_weight: float = 0.5,
        ambiguous_weight: float = 0.4,
        fuzzy_min_similarity: float = 0.8,
        fuzzy_min_length: int = 5,
    ) -> None:
        self.description_weight = description_weight
        self.ambiguous_weight = ambiguous_weight
        self.fuzzy_min_similarity = fuzzy_min_similarity
        self.fuzzy_min_length = fuzzy_min_length

    def fit(self, taxonomy: Taxonomy | None = None, y: Any = None) -> CodeSuggester:
        """Learn the phrase vocabulary and IDF from the taxonomy (default: the shipped one)."""
        for name, value, lo, hi in (
            ("description_weight", self.description_weight, 0.0, 1.0),
            ("ambiguous_weight", self.ambiguous_weight, 0.0, 1.0),
            ("fuzzy_min_similarity", self.fuzzy_min_similarity, 0.0, 1.0),
        ):
            if not (isinstance(value, int | float) and lo <= value <= hi):
                raise ValueError(
                    f"The {name!r} parameter of CodeSuggester must be a number in [{lo}, {hi}]. "
                    f"Got {value!r} instead."
                )
        tax = taxonomy or load_taxonomy()
        self.taxonomy_ = tax
        phrases: list[str] = []
        owners: list[tuple[str, int]] = []  # (kind, term index)
        documents: list[str] = []
        self.codes_: dict[str, tuple[str, ...]] = {}
        self.labels_: dict[str, tuple[str, ...]] = {}
        for kind in ("need", "strength"):
            terms = tax.terms(kind)
            self.codes_[kind] = tuple(t.code for t in terms)
            self.labels_[kind] = tuple(t.label for t in terms)
            for i, term in enumerate(terms):
                for phrase in (term.label, term.code.replace("-", " "), *term.synonyms):
                    phrases.append(phrase)
                    owners.append((kind, i))
                documents.append(f"{term.label}. {term.description}")
        # IDF over phrases and descriptions together: a word common to many terms tells little.
        self.vectorizer_ = TfidfVectorizer(
            analyzer=_analyse, use_idf=True, smooth_idf=True, norm=None, binary=True
        ).fit(phrases + documents)
        vocab = self.vectorizer_.vocabulary_
        idf = self.vectorizer_.idf_
        self.idf_ = idf
        self.words_ = sorted({f for f in vocab if " " not in f})
        phrase_matrix = self.vectorizer_.transform(phrases)
        self.phrase_weights_ = sp.csr_matrix(phrase_matrix.multiply(phrase_matrix))  # idf^2
        totals = np.asarray(self.phrase_weights_.sum(axis=1)).ravel()
        self.phrase_totals_ = np.where(totals > 0, totals, 1.0)
        self.phrase_kind_ = np.asarray([k for k, _ in owners], dtype=object)
        self.phrase_term_ = np.asarray([i for _, i in owners], dtype=np.intp)
        ambiguous = {_stem(w) for w in AMBIGUOUS_WORDS} | set(AMBIGUOUS_WORDS)
        self.phrase_cap_ = np.asarray(
            [
                float(self.ambiguous_weight) if _tokens(p) and set(_tokens(p)) <= ambiguous else 1.0
                for p in phrases
            ]
        )
        self.description_vectorizer_ = TfidfVectorizer(analyzer=_analyse, sublinear_tf=True).fit(
            documents
        )
        self.description_matrix_ = self.description_vectorizer_.transform(documents)
        self.document_kind_ = np.asarray(
            ["need"] * len(tax.needs) + ["strength"] * len(tax.strengths), dtype=object
        )
        return self

    # -- scoring ------------------------------------------------------------------------------

    def _text_vector(self, text: str) -> sp.csr_matrix:
        """The text's features (1 for an exact word, the similarity for a corrected typo)."""
        from rapidfuzz import fuzz, process

        vocab = self.vectorizer_.vocabulary_
        tokens = _tokens(text)
        weights: list[float] = []
        fixed: list[str] = []
        for tok in tokens:
            if tok in vocab or len(tok) < self.fuzzy_min_length:
                fixed.append(tok)
                weights.append(1.0)
                continue
            best = process.extractOne(
                tok,
                self.words_,
                scorer=fuzz.ratio,
                score_cutoff=100 * float(self.fuzzy_min_similarity),
            )
            if best is None:
                fixed.append(tok)
                weights.append(1.0)
            else:
                fixed.append(best[0])
                weights.append(best[1] / 100.0)
        values: dict[int, float] = {}
        pairs = list(zip(fixed, weights, strict=True))
        grams = [(w, s) for w, s in pairs] + [
            (f"{a} {b}", min(sa, sb)) for (a, sa), (b, sb) in zip(pairs, pairs[1:], strict=False)
        ]
        for gram, weight in grams:
            col = vocab.get(gram)
            if col is not None:
                values[col] = max(values.get(col, 0.0), weight)
        cols = np.fromiter(values.keys(), dtype=np.intp, count=len(values))
        data = np.fromiter(values.values(), dtype=float, count=len(values))
        return sp.csr_matrix(
            (data, (np.zeros(len(cols), dtype=np.intp), cols)), shape=(1, len(vocab))
        )

    def scores(self, text: str, kind: SuggestKind = "need") -> np.ndarray:
        """Confidence for every code of ``kind``, in taxonomy order."""
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("CodeSuggester is not fitted yet; call fit(taxonomy) first.")
        if kind not in ("need", "strength", "activity"):
            raise ValueError(
                "The 'kind' parameter of suggest must be 'need', 'strength' or 'activity'. "
                f"Got {kind!r} instead."
            )
        if not isinstance(text, str):
            raise TypeError(f"suggest expects text. Got {type(text)!r}.")
        kind = "strength" if kind == "activity" else kind
        n = len(self.codes_[kind])
        t = self._text_vector(text)
        if t.nnz == 0:
            return np.zeros(n)
        coverage = np.asarray(self.phrase_weights_ @ t.T.toarray()).ravel() / self.phrase_totals_
        coverage = np.minimum(coverage**2, self.phrase_cap_)
        phrase_best = np.zeros(n)
        mask = self.phrase_kind_ == kind
        np.maximum.at(phrase_best, self.phrase_term_[mask], coverage[mask])
        doc = self.description_vectorizer_.transform([" ".join(_tokens(text))])
        docs = self.description_matrix_[self.document_kind_ == kind]
        cosine = np.asarray((docs @ doc.T).toarray()).ravel()
        described = float(self.description_weight) * cosine
        return np.clip(1.0 - (1.0 - phrase_best) * (1.0 - described), 0.0, 1.0)

    def suggest(
        self,
        text: str,
        kind: SuggestKind = "need",
        top_n: int = 5,
        min_confidence: float = 0.5,
    ) -> list[CodeSuggestion]:
        """The codes ``text`` points to, most confident first (at most ``top_n``)."""
        if not isinstance(top_n, int | np.integer) or top_n < 1:
            raise ValueError(
                f"The 'top_n' parameter of suggest must be a positive int. Got {top_n!r} instead."
            )
        if not (isinstance(min_confidence, int | float) and 0.0 <= min_confidence <= 1.0):
            raise ValueError(
                "The 'min_confidence' parameter of suggest must be a number in [0, 1]. "
                f"Got {min_confidence!r} instead."
            )
        conf = self.scores(text, kind)
        key = "strength" if kind == "activity" else kind
        order = np.argsort(-conf, kind="stable")
        out: list[CodeSuggestion] = []
        for j in order[:top_n]:
            if conf[j] < min_confidence or conf[j] <= 0.0:
                break
            out.append(
                CodeSuggestion(self.codes_[key][j], self.labels_[key][j], round(float(conf[j]), 4))
            )
        return out


def infer_service_codes(
    catalogue: Catalogue | Iterable[Service],
    suggester: CodeSuggester | None = None,
    *,
    min_confidence: float = 0.5,
    top_n: int = 4,
) -> Catalogue:
    """A copy of the catalogue with codes inferred from each service's name and description.

    Only where a service published none: ``inferred_needs`` when ``needs`` is empty,
    ``inferred_activities`` when ``activities`` is empty. Living in the ``inferred_*`` fields is
    what marks them as inferred (``ServiceFeatures`` weighs them less).
    """
    suggester = suggester if suggester is not None else CodeSuggester().fit()
    services = list(catalogue.services if isinstance(catalogue, Catalogue) else catalogue)
    out: list[Service] = []
    for service in services:
        text = f"{service.name}. {service.description}"
        update: dict[str, list[str]] = {}
        if not service.needs:
            update["inferred_needs"] = [
                s.code for s in suggester.suggest(text, "need", top_n, min_confidence)
            ]
        if not service.activities:
            update["inferred_activities"] = [
                s.code for s in suggester.suggest(text, "activity", top_n, min_confidence)
            ]
        out.append(service.model_copy(update=update) if update else service)
    source = catalogue.source if isinstance(catalogue, Catalogue) else None
    return Catalogue(services=out, source=source)
