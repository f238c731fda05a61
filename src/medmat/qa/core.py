"""Pass 2: turn a batch of records into QA items, vectorised over the batch.

Per item (see :mod:`medmat.qa.rng` for the random stream and :mod:`medmat.qa.balance` for
letters):

1. template = draw(0) mod 6 among the six questions resolved for (subset, task);
2. correct label = the record's label (single-label) or its ``draw(1) mod n_true``-th true label
   (multi-label);
3. distractor score of label j of the subset = draw(2 + j) with its 16 low bits replaced by j
   (unique, so ties cannot make the choice ambiguous); labels true for the image are never
   candidates; the up-to-three lowest-scoring candidates are the distractors, in score order;
4. options = distractors with the correct label inserted at the balanced letter position.

A multi-label record whose true labels cover the whole label space of its subset has no false
label to offer; it becomes no item and is reported as skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medmat.errors import MedmatError
from medmat.qa.balance import MAX_OPTIONS, LetterBalancer, LetterStats
from medmat.qa.fmt import CLOSING, LETTERS, json_inner, json_inner_array
from medmat.qa.labels import LabelSpaces
from medmat.qa.rng import DRAW_LABEL0, DRAW_TEMPLATE, DRAW_TRUE_LABEL, draw_np, item_keys_np
from medmat.qa.templates import N_TEMPLATES, TemplateSet
from medmat.records import ANSWER_BOX_FIELD, ITEMS_SCHEMA, SPLITS

_MAX_SCORE = np.uint64(0xFFFFFFFFFFFFFFFF)
_LOW16 = np.uint64(0xFFFF)
_SCORE_CELLS = 1 << 22  # rows x labels per distractor-score block (bounds memory)
SKIP_ALL_TRUE = "every label of the subset is true for this image: no false distractor"


@dataclass
class BatchItems:
    table: pa.Table  # ITEMS_SCHEMA, kept rows only
    jsonl: pa.Buffer  # the JSON lines of ``table``, newline-terminated
    skipped: list[dict] = field(default_factory=list)


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, type=pa.string())


def _take(arr: pa.Array, idx: pa.Array) -> pa.Array:
    return pc.take(arr, idx)


def _join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    """Element-wise concatenation of string arrays / scalars (no separator)."""
    return pc.binary_join_element_wise(*parts, _s(""))


class ItemFactory:
    """Holds the per-build state (label spaces, templates, letter counters, statistics).

    ``box_column``: the build also has grounding items, so every table carries the
    ``answer_box`` column (null here) and every JSON line ends with ``"answer_box": null``.
    """

    def __init__(self, spaces: LabelSpaces, templates: TemplateSet, seed: int,
                 box_column: bool = False) -> None:
        self.spaces, self.templates, self.seed = spaces, templates, seed
        self.box_column = box_column
        self.balancer = LetterBalancer(seed)
        self.letters = LetterStats()
        self.template_sources: dict[str, set[str]] = {}
        self.n_options: dict[str, Counter] = {}
        g = spaces.global_labels
        esc = [json_inner(lab) for lab in g]
        self._labels = pa.array(g, type=pa.string())
        self._esc_labels = pa.array(esc, type=pa.string())
        self._letters = pa.array(list(LETTERS[:MAX_OPTIONS]), type=pa.string())
        # per option slot q: raw "X: label\n" lines, their escaped form, and the JSON list pieces;
        # index len(g) is the empty string used where slot q is beyond the item's options
        self._lines, self._esc_lines, self._opt_json = [], [], []
        for q in range(MAX_OPTIONS):
            raw = [f"{LETTERS[q]}: {lab}\n" for lab in g]
            self._lines.append(pa.array([*raw, ""], type=pa.string()))
            self._esc_lines.append(pa.array([*(json_inner(r) for r in raw), ""], type=pa.string()))
            sep = "" if q == 0 else ", "
            self._opt_json.append(pa.array([*(f'{sep}"{e}"' for e in esc), ""], type=pa.string()))

    # ------------------------------------------------------------------ choices (numbers)

    def _choices(self, batch: pa.RecordBatch, keys: np.ndarray) -> dict[str, np.ndarray]:
        sp = self.spaces
        n = batch.num_rows
        labels = batch.column("labels")
        flat = pc.list_flatten(labels)
        parents = np.asarray(pc.list_parent_indices(labels), dtype=np.int64)
        lens = np.asarray(pc.list_value_length(labels), dtype=np.int64)
        starts = np.cumsum(lens) - lens
        enc = pc.dictionary_encode(batch.column("subset"))
        codes = np.asarray(enc.indices, dtype=np.int64)
        names = enc.dictionary.to_pylist()
        gsub_local = np.array([sp.index.get(s, -1) for s in names], dtype=np.int64)
        if (gsub_local < 0).any():
            raise MedmatError(f"subset {names[int(np.argmin(gsub_local))]!r} is not in the label "
                              "spaces of this build (records changed between the two passes?)")
        gsub = gsub_local[codes]
        li_flat = np.empty(len(flat), dtype=np.int64)
        flat_codes = codes[parents]
        distract = np.full((n, MAX_OPTIONS - 1), -1, dtype=np.int64)
        n_false = np.zeros(n, dtype=np.int64)
        for local, gs in enumerate(gsub_local):
            fmask = flat_codes == local
            idx = pc.index_in(flat.filter(pa.array(fmask)), value_set=sp.value_sets[gs])
            if idx.null_count:
                raise MedmatError(f"subset {names[local]!r}: a label is missing from its label "
                                  "space (records changed between the two passes?)")
            li_flat[fmask] = np.asarray(idx)
            rows = np.flatnonzero(codes == local)
            size = int(sp.size[gs])
            step = max(1, _SCORE_CELLS // size)
            for lo in range(0, len(rows), step):
                self._distractors(rows[lo:lo + step], size, keys, parents, li_flat, lens,
                                  distract, n_false, batch)
            distract[rows] = np.where(distract[rows] >= 0, distract[rows] + sp.offset[gs], -1)
        pick = (draw_np(keys, DRAW_TRUE_LABEL) % lens.astype(np.uint64)).astype(np.int64)
        correct = sp.offset[gsub] + li_flat[starts + pick]
        template = (draw_np(keys, DRAW_TEMPLATE) % np.uint64(N_TEMPLATES)).astype(np.int64)
        n_opt = 1 + np.minimum(MAX_OPTIONS - 1, n_false)
        return {"correct": correct, "distract": distract, "n_opt": n_opt, "template": template}

    @staticmethod
    def _distractors(rows, size, keys, parents, li_flat, lens, distract, n_false, batch) -> None:
        b = len(rows)
        j = np.arange(size, dtype=np.uint64)
        scores = draw_np(keys[rows][:, None], DRAW_LABEL0 + j[None, :])
        scores = (scores & ~_LOW16) | j[None, :]
        local_row = np.full(len(keys), -1, dtype=np.int64)
        local_row[rows] = np.arange(b)
        fr = local_row[parents]
        fm = fr >= 0
        scores[fr[fm], li_flat[fm]] = _MAX_SCORE  # true labels are never distractors
        n_true = np.count_nonzero(scores == _MAX_SCORE, axis=1)
        dup = n_true != lens[rows]
        if dup.any():
            r = int(rows[np.flatnonzero(dup)[0]])
            raise MedmatError(f"record {batch.column('record_id')[r].as_py()!r} lists the same "
                              "label twice; remove the duplicate from its labels")
        k = min(MAX_OPTIONS - 1, size)
        part = (np.argpartition(scores, k - 1, axis=1)[:, :k] if size > k
                else np.broadcast_to(np.arange(size), (b, size)).copy())
        order = np.argsort(np.take_along_axis(scores, part, axis=1), axis=1)
        chosen = np.take_along_axis(part, order, axis=1)
        nf = size - n_true
        chosen[np.arange(k)[None, :] >= np.minimum(nf, k)[:, None]] = -1
        distract[rows, :k] = chosen
        n_false[rows] = nf

    # ------------------------------------------------------------------ items (strings)

    def _questions(self, kb: pa.RecordBatch, template: np.ndarray) -> tuple[pa.Array, pa.Array]:
        cols = ("subset", "task", "modality", "area")
        encs = [pc.dictionary_encode(kb.column(c)) for c in cols]
        combo = np.zeros(kb.num_rows, dtype=np.int64)
        for e in encs:
            combo = combo * len(e.dictionary) + np.asarray(e.indices, dtype=np.int64)
        uniq, first, inv = np.unique(combo, return_index=True, return_inverse=True)
        texts: list[str] = []
        for r in first:
            vals = [e.dictionary[e.indices[int(r)].as_py()].as_py() for e in encs]
            texts.extend(self.templates.render(*vals))
            source, _ = self.templates.choose(vals[0], vals[1])
            self.template_sources.setdefault(vals[0], set()).add(source)
        qidx = pa.array(inv.reshape(-1) * N_TEMPLATES + template)
        questions = pa.array(texts, type=pa.string())
        esc = pa.array([json_inner(t) for t in texts], type=pa.string())
        return _take(questions, qidx), _take(esc, qidx)

    def make(self, batch: pa.RecordBatch, ids: np.ndarray) -> BatchItems:
        """Items for ``batch``; ``ids`` are the rows' indices in the records table."""
        keys = item_keys_np(batch.column("record_id"), self.seed)
        ch = self._choices(batch, keys)
        keep = ch["n_opt"] > 1
        skipped = []
        if not keep.all():
            for r in np.flatnonzero(~keep):
                skipped.append({"id": int(ids[r]),
                                "record_id": batch.column("record_id")[int(r)].as_py(),
                                "subset": batch.column("subset")[int(r)].as_py(),
                                "reason": SKIP_ALL_TRUE})
            rows = np.flatnonzero(keep)
            batch = batch.take(pa.array(rows))
            ids = ids[rows]
            ch = {k: v[rows] for k, v in ch.items()}
        correct, distract, n_opt = ch["correct"], ch["distract"], ch["n_opt"]
        m = batch.num_rows
        # letter position: balanced within (subset, split, n_options, correct label)
        w, n_splits = MAX_OPTIONS + 1, len(SPLITS)
        split_code = np.asarray(pc.index_in(batch.column("split"), value_set=pa.array(SPLITS)))
        ukeys, inv = np.unique((correct * n_splits + split_code) * w + n_opt, return_inverse=True)
        groups = []
        for u in ukeys.tolist():
            label, rest = divmod(u, n_splits * w)
            split, n = divmod(rest, w)
            groups.append((self.spaces.subset_of_label[label], SPLITS[split], n,
                           self.spaces.global_labels[label]))
        pos = self.balancer.positions(groups, inv.reshape(-1), n_opt)
        self.letters.add(n_opt, pos)
        enc = pc.dictionary_encode(batch.column("subset"))
        per = np.bincount(np.asarray(enc.indices, dtype=np.int64) * w + n_opt,
                          minlength=len(enc.dictionary) * w).reshape(-1, w)
        for s, row in zip(enc.dictionary.to_pylist(), per, strict=True):
            counter = self.n_options.setdefault(s, Counter())
            for k in np.flatnonzero(row).tolist():
                counter[k] += int(row[k])
        # option matrix in letter order (global label indices; len(labels) = no option)
        none = len(self.spaces.global_labels)
        slots = np.full((m, MAX_OPTIONS), none, dtype=np.int64)
        for q in range(MAX_OPTIONS):
            d = np.where(q < pos, distract[:, min(q, MAX_OPTIONS - 2)],
                         distract[:, max(q - 1, 0)])
            val = np.where(q == pos, correct, d)
            slots[:, q] = np.where(q < n_opt, val, none)
        question, esc_q = self._questions(batch, ch["template"])
        cidx = pa.array(correct)
        sl = [pa.array(slots[:, q]) for q in range(MAX_OPTIONS)]
        table = self._table(batch, ids, ch["template"], question, cidx, pos, n_opt, slots, sl)
        return BatchItems(table, self._jsonl(table, esc_q, cidx, sl), skipped)

    def _table(self, kb, ids, template, question, cidx, pos, n_opt, slots, sl) -> pa.Table:
        qc = _join(question, _s("\n"), *(_take(self._lines[q], sl[q]) for q in range(MAX_OPTIONS)),
                   _s(CLOSING))
        flat = slots[slots < len(self.spaces.global_labels)]
        offsets = np.concatenate([[0], np.cumsum(n_opt)]).astype(np.int32)
        options = pa.ListArray.from_arrays(pa.array(offsets), _take(self._labels, pa.array(flat)))
        cols = {
            "id": pa.array(ids, type=pa.int64()),
            "caption": pc.binary_join(kb.column("labels"), ", "),
            "image": kb.column("image").fill_null(""),
            "Question": question,
            "Answer": _take(self._labels, cidx),
            "Question-choice": qc,
            "Answer-choice": self._letters.take(pa.array(pos)),
            "data-no": kb.column("source").fill_null(""),
            "options": options,
            **{c: kb.column(c) for c in ("modality", "area", "task", "subset", "split",
                                         "record_id")},
            "template": pa.array(template, type=pa.int32()),
        }
        schema = ITEMS_SCHEMA
        if self.box_column:
            schema = schema.append(ANSWER_BOX_FIELD)
            cols[ANSWER_BOX_FIELD.name] = pa.nulls(kb.num_rows, ANSWER_BOX_FIELD.type)
        return pa.Table.from_arrays([cols[f.name].cast(f.type) for f in schema], schema=schema)

    def _jsonl(self, t: pa.Table, esc_q: pa.Array, cidx: pa.Array, sl: list) -> pa.Buffer:
        if t.num_rows == 0:
            return pa.py_buffer(b"")
        c = {name: t.column(name).combine_chunks() for name in t.column_names}
        e = {k: json_inner_array(c[k]) for k in ("caption", "image", "data-no", "modality",
                                                 "area", "task", "subset", "split", "record_id")}
        esc_lines = (_take(self._esc_lines[q], sl[q]) for q in range(MAX_OPTIONS))
        qc = _join(esc_q, _s("\\n"), *esc_lines,
                   _s(json_inner(CLOSING)))
        opts = _join(*(_take(self._opt_json[q], sl[q]) for q in range(MAX_OPTIONS)))
        parts = [
            '{"id": ', c["id"].cast(pa.string()), ', "caption": "', e["caption"],
            '", "image": "', e["image"], '", "Question": "', esc_q,
            '", "Answer": "', _take(self._esc_labels, cidx), '", "Question-choice": "', qc,
            '", "Answer-choice": "', c["Answer-choice"], '", "data-no": "', e["data-no"],
            '", "options": [', opts, '], "modality": "', e["modality"], '", "area": "', e["area"],
            '", "task": "', e["task"], '", "subset": "', e["subset"], '", "split": "', e["split"],
            '", "record_id": "', e["record_id"], '", "template": ',
            c["template"].cast(pa.string()),
            ', "answer_box": null}\n' if self.box_column else "}\n",
        ]
        lines = _join(*(_s(p) if isinstance(p, str) else p for p in parts))
        off = np.frombuffer(lines.buffers()[1], dtype=np.int32)
        lo, hi = int(off[lines.offset]), int(off[lines.offset + len(lines)])
        return lines.buffers()[2].slice(lo, hi - lo)
