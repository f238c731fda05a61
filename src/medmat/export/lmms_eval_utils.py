"""lmms-eval task helpers for a medmat export (copied verbatim as ``utils.py`` next to the YAML).

Self-contained on purpose: the evaluation environment need not have medmat installed.

Answer parsing is deliberately strict: a reply counts as a letter only when the letter stands
alone ("B", "B.", "(B)", "B: Glioma", "The answer is B"), never as the first word of a sentence
("A benign lesion..." is not "A"). Unparseable replies count as wrong, never as a letter.
"""

from __future__ import annotations

import re
import string

DEFAULT_POST_PROMPT = "Answer with the option's letter from the given choices directly."


def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {}
    pre = kwargs.get("pre_prompt", "")
    post = kwargs.get("post_prompt", DEFAULT_POST_PROMPT)
    lines = [f"{string.ascii_uppercase[i]}. {opt}" for i, opt in enumerate(doc["options"])]
    body = "\n".join([doc["Question"], *lines])
    return f"{pre}{body}\n{post}" if post else f"{pre}{body}"


def doc_to_target(doc):
    return doc["Answer-choice"]


def parse_choice(response, options):
    """The option letter a free-text reply names, or None when it names none unambiguously."""
    if response is None:
        return None
    text = str(response).strip()
    if not text:
        return None
    letters = string.ascii_uppercase[: len(options)]
    cls = f"[{letters}]"
    patterns = [
        rf"^\(?({cls})\)?[.:)]?$",  # the whole reply is a letter
        rf"^\(?({cls})\)?[.:)]\s",  # "B. Glioma", "B: ...", "(B) ..."
        rf"answer\s*(?:is|:)?\s*\(?({cls})\)?(?![A-Za-z])",  # "the answer is B"
        rf"(?<![A-Za-z])\(({cls})\)",  # "... (B) ..."
    ]
    for k, pat in enumerate(patterns):
        # a lone "b" is a letter; "a. " inside prose is not, so only some patterns ignore case
        m = re.search(pat, text, flags=re.IGNORECASE if k in (0, 2) else 0)
        if m:
            return m.group(1).upper()
    texts = [str(opt).strip() for opt in options]
    exact = [letters[i] for i, t in enumerate(texts) if t and t.lower() == text.lower().rstrip(".")]
    if len(exact) == 1:
        return exact[0]
    hits = [
        i for i, t in enumerate(texts)
        if t and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", text, re.IGNORECASE)
    ]
    # "Not fractured" also contains the option "Fractured": keep only the longest match
    hits = [i for i in hits
            if not any(j != i and texts[i].lower() in texts[j].lower() for j in hits)]
    return letters[hits[0]] if len(hits) == 1 else None


def process_results(doc, results):
    predicted = parse_choice(results[0] if results else None, doc["options"])
    return {"exact_match": float(predicted is not None and predicted == doc["Answer-choice"])}
