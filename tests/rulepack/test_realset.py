"""The real-world development set's manifest (bench/realset/) and `bench/rulepack.py --real`.

The manifest is committed; the excerpts are not (third-party text), so these tests check
the manifest's shape and the bench's handling of present, missing and partial text
folders on small sets written here, never the real texts.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from ._pack import REPO

MANIFEST = REPO / "bench" / "realset" / "manifest.jsonl"
CORE = ("kallas", "rutte", "greenland", "safe", "rearm-europe", "defence-union")


def cases() -> list[dict]:
    return [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_manifest_cases_are_well_formed(bench):
    ids = set(bench.rule_ids())
    seen = set()
    for case in cases():
        assert set(case) >= {"id", "url", "query", "lang", "labels", "reason", "split", "sha256", "chars"}, case
        assert case["id"] not in seen, case["id"]
        seen.add(case["id"])
        assert case["split"] in {"tune", "held"}, case["id"]
        assert set(case["labels"]) <= ids, (case["id"], sorted(set(case["labels"]) - ids))
        assert case["reason"].strip() and case["query"].strip() and case["url"].startswith("http"), case["id"]
        assert len(case["sha256"]) == 64 and case["chars"] > 0, case["id"]


def test_manifest_meets_the_issue_minimums():
    rows = cases()
    labels = Counter(label for case in rows for label in case["labels"])
    langs = {case["lang"] for case in rows}
    assert len(rows) >= 400
    assert len(langs) >= 10
    assert {"en", "de", "fr", "es", "it", "nl", "pl", "et", "ru"} <= langs
    assert langs & {"sv", "da", "no", "fi", "is"} and langs & {"et", "lv", "lt"} and langs & {"ru", "uk", "bg", "sr"}
    for rule in CORE:
        assert labels[rule] >= 40, rule
    for rule in set(labels) - set(CORE):
        assert labels[rule] >= 10, rule
    hard = [c for c in rows if not c["labels"] and c["reason"].startswith("hard negative")]
    passing = [c for c in rows if c["labels"] and ("passing" in c["reason"] or "aside" in c["reason"])]
    assert len(hard) + len(passing) >= 150


def test_both_halves_are_used():
    halves = Counter(case["split"] for case in cases())
    assert halves["tune"] >= 150 and halves["held"] >= 150


def write_set(folder, rows, texts):
    folder.mkdir(parents=True)
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if texts is not None:
        (folder / "texts").mkdir()
        for cid, text in texts.items():
            (folder / "texts" / f"{cid}.txt").write_text(text + "\n", encoding="utf-8")


def row(cid, labels, split):
    return {"id": cid, "url": f"https://example.org/{cid}", "query": "q", "lang": "en", "labels": labels,
            "reason": "r", "split": split, "sha256": "0" * 64, "chars": 1}


def small_pack(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules:\n  - id: safe\n    query: '{SAFE} NEAR/5 loans'\n", encoding="utf-8")
    return rules


def test_missing_texts_folder_is_reported_and_exits_2(bench, tmp_path, capsys):
    rules = small_pack(tmp_path)
    write_set(tmp_path / "real", [row("a1", ["safe"], "tune")], texts=None)
    assert bench.main(["--rules", str(rules), "--real", str(tmp_path / "real")]) == 2
    err = capsys.readouterr().err
    assert "texts are missing" in err and "README.md" in err


def test_a_missing_text_is_named_and_exits_2(bench, tmp_path, capsys):
    rules = small_pack(tmp_path)
    write_set(tmp_path / "real", [row("a1", ["safe"], "tune"), row("b2", [], "held")],
              texts={"a1": "The SAFE loans for defence."})
    assert bench.main(["--rules", str(rules), "--real", str(tmp_path / "real")]) == 2
    assert "missing text b2.txt" in capsys.readouterr().err


def test_exact_scores_a_partial_rebuild_and_says_what_it_left_out(bench, tmp_path, capsys):
    rules = small_pack(tmp_path)
    text = "EU SAFE loans for joint procurement."
    exact = dict(row("a1", ["safe"], "tune"), sha256=hashlib.sha256(text.encode()).hexdigest())
    rows = [exact, row("b1", [], "tune"), row("c1", ["safe"], "held")]
    write_set(tmp_path / "real", rows, texts={"a1": text, "b1": "Is it safe?"})   # b1 approximate, c1 missing
    assert bench.main(["--rules", str(rules), "--real", str(tmp_path / "real")]) == 2   # never a full score
    capsys.readouterr()
    assert bench.main(["--rules", str(rules), "--real", str(tmp_path / "real"), "--exact"]) == 0
    captured = capsys.readouterr()
    assert "scoring 1 byte-exact texts; 1 approximate and 1 missing" in captured.err
    assert "== tune: 1 cases" in captured.out and "== held: 0 cases" in captured.out


def test_real_scores_each_half_and_lists_misses(bench, tmp_path, capsys):
    rules = small_pack(tmp_path)
    rows = [row("a1", ["safe"], "tune"), row("b1", [], "tune"), row("c1", ["safe"], "held"), row("d1", [], "held")]
    texts = {"a1": "EU SAFE loans for joint procurement.", "b1": "Is it safe to take out loans?",
             "c1": "The Safe scheme lends money.", "d1": "SAFE loans, said the bank."}
    write_set(tmp_path / "real", rows, texts)
    assert bench.main(["--rules", str(rules), "--real", str(tmp_path / "real"), "--misses"]) == 0
    out = capsys.readouterr().out
    tune = out.split("== held")[0]
    held = out.split("== held")[1].split("== all")[0]
    assert "safe" in tune and "1.00    1.00" in tune          # a1 found, b1 quiet
    assert "0.00    0.00" in held                              # c1 missed, d1 a false alarm
    assert "missed [held c1" in held and "fired [held d1" in held


def load_collect():
    import importlib.util

    spec = importlib.util.spec_from_file_location("collect", REPO / "bench" / "realset" / "collect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rebuild_finds_the_stored_selection_of_sentences(tmp_path):
    collect = load_collect()
    excerpt = ("A headline about the plan\nFirst sentence of the lead, with a clause. "
               "Second sentence that was left out. Third sentence, kept.\n\nA closing line.")
    for stored in ("A headline about the plan\nFirst sentence of the lead, with a clause.\nThird sentence, kept.",
                   "A headline about the plan\nFirst sentence of the lead.",     # cut at the comma
                   "First sentence of the lead, with a clause. Third sentence, kept."):
        sha = collect.hashlib.sha256(stored.encode()).hexdigest()
        exact, _ = collect.find_selection(excerpt, sha, len(stored))
        assert exact == stored
    exact, closest = collect.find_selection(excerpt, "0" * 64, 40)
    assert exact is None and closest and closest in excerpt.replace("\n\n", "\n")


def test_rebuild_reads_a_line_the_store_broke_in_two_as_one(tmp_path):
    collect = load_collect()
    stored = "The minister spoke on Monday about the loans for defence. Nothing else was said."
    excerpt = "The minister spoke on Monday\nabout the loans for defence. Nothing else was said."
    sha = collect.hashlib.sha256(stored.encode()).hexdigest()
    assert collect.find_selection(excerpt, sha, len(stored))[0] == stored


def test_rebuild_gives_up_on_one_excerpt_after_its_seconds(tmp_path):
    collect = load_collect()
    # many short clauses: the clause-cut pass alone would walk for a long time
    excerpt = " ".join(f"Clause {i}, part {i}; more {i}." for i in range(60))
    start = collect.time.monotonic()
    exact, _ = collect.find_selection(excerpt, "0" * 64, 900, budget=10**9, seconds=0.5)
    assert exact is None
    assert collect.time.monotonic() - start < 5


def test_rebuild_reads_saved_answers_and_writes_only_exact_texts(tmp_path, monkeypatch):
    collect = load_collect()
    stored = "Kaja Kallas said so.\nShe said it twice."
    excerpt = "Kaja Kallas said so. Another sentence.\nShe said it twice."
    case = {"id": "abc123", "url": "https://example.org/a", "query": "q", "lang": "en", "labels": ["kallas"],
            "reason": "r", "split": "tune", "sha256": collect.hashlib.sha256(stored.encode()).hexdigest(),
            "chars": len(stored)}
    other = dict(case, id="def456", url="https://example.org/b", sha256="0" * 64, chars=10)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps(case) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "Q.txt").write_text(f"#query: q\n=== https://example.org/a\n{excerpt}\n"
                                   f"=== https://example.org/b\nNothing here matches.\n", encoding="utf-8")
    monkeypatch.setattr(collect, "MANIFEST", manifest)
    monkeypatch.setattr(collect, "TEXTS", tmp_path / "texts")
    assert collect.rebuild(answers, approx=False, verbose=False) == 0
    assert (tmp_path / "texts" / "abc123.txt").read_text(encoding="utf-8") == stored + "\n"
    assert not (tmp_path / "texts" / "def456.txt").exists()
