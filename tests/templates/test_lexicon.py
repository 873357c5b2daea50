"""The pronunciation lexicon: names fixed for the ear, never for the eye."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from templates import BrokenTemplate, Entry, Lexicon, load_lexicon, render_message, sample_facts
from templates.locales import TEMPLATE_ROOT


def test_whole_words_only_and_case_is_ignored_unless_asked() -> None:
    lexicon = Lexicon((Entry("Nguyen", "Win"), Entry("ER", "E R", match_case=True)))
    assert lexicon.apply("Dr. Nguyen and DR. NGUYEN.") == "Dr. Win and DR. Win."
    assert lexicon.apply("Nguyens and SuperNguyen stay.") == "Nguyens and SuperNguyen stay."
    assert lexicon.apply("Go to the ER, or later.") == "Go to the E R, or later."
    assert lexicon.apply("Go to the er.") == "Go to the er."


def test_longest_entry_wins_and_a_replacement_is_not_replaced_again() -> None:
    lexicon = Lexicon(
        (Entry("Saint", "Sant"), Entry("Saint Mary", "Saint Mary's"), Entry("Sant", "X"))
    )
    assert lexicon.apply("Saint Mary clinic, Saint Luke.") == "Saint Mary's clinic, Sant Luke."


def test_a_name_inside_chinese_text_is_a_whole_word() -> None:
    lexicon = Lexicon((Entry("Nguyen", "Win"),))
    assert lexicon.apply("您将见医生 Nguyen。请找Nguyen医生。") == "您将见医生 Win。请找Win医生。"


def test_the_shipped_lexicon_fixes_the_spoken_text_only() -> None:
    assert load_lexicon("en").entries, "English ships with entries"
    assert load_lexicon("es").entries, "Spanish ships with entries"
    facts = dataclasses.replace(sample_facts("appointment_reminder"), provider="Dr. Nguyen")
    message = render_message("appointment_reminder", "en", "call", facts)
    assert message.text.count("Dr. Nguyen") == 2
    assert "Nguyen" not in message.spoken
    assert message.spoken.count("Doctor Win") == 2


def test_a_clinic_edit_takes_effect_without_a_restart(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATE_ROOT / "en", tmp_path / "en")
    facts = sample_facts("appointment_reminder")
    path = tmp_path / "en" / "lexicon.json"
    before = render_message("appointment_reminder", "en", "app", facts, root=tmp_path)
    assert "Riverside Clinic" in before.spoken
    path.write_text(
        json.dumps({"entries": [{"written": "Riverside", "spoken": "River side"}]}),
        encoding="utf-8",
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = render_message("appointment_reminder", "en", "app", facts, root=tmp_path)
    assert "River side Clinic" in after.spoken
    assert "Riverside Clinic" in after.text


BROKEN = ['{"entries": [{"spoken": "x"}]}', "[1,", '{"entries": [{"written": " ", "spoken": "x"}]}']


@pytest.mark.parametrize("body", BROKEN)
def test_a_broken_lexicon_is_a_broken_template(tmp_path: Path, body: str) -> None:
    shutil.copytree(TEMPLATE_ROOT / "en", tmp_path / "en")
    (tmp_path / "en" / "lexicon.json").write_text(body, encoding="utf-8")
    with pytest.raises(BrokenTemplate, match="lexicon"):
        render_message("result_ready", "en", "call", sample_facts("result_ready"), root=tmp_path)
