"""The studio's per-session render history, kept on the server (no browser)."""
from __future__ import annotations

from animakit.studio import history as H


def test_each_session_and_tab_keeps_its_own_renders_in_order():
    H._add("s1", "video.kenburns", {"label": "a"})
    H._add("s1", "video.kenburns", {"label": "b"})
    H._add("s2", "video.kenburns", {"label": "c"})
    H._add("s1", "portrait.talking", {"label": "d"})
    assert [e["label"] for e in H.entries_of("s1", "video.kenburns")] == ["a", "b"]
    assert [e["label"] for e in H.entries_of("s2", "video.kenburns")] == ["c"]
    assert [e["label"] for e in H.entries_of("s1", "portrait.talking")] == ["d"]
    assert H.entries_of("nobody", "video.kenburns") == []


def test_the_lists_are_bounded_per_tab_and_in_sessions(monkeypatch):
    monkeypatch.setattr(H, "_ENTRIES", {})
    monkeypatch.setattr(H, "MAX_SESSIONS", 3)
    for i in range(H.MAX_ENTRIES + 5):
        H._add("s", "t", {"label": str(i)})
    kept = H.entries_of("s", "t")
    assert len(kept) == H.MAX_ENTRIES and kept[-1]["label"] == str(H.MAX_ENTRIES + 4)
    for s in ("a", "b", "c"):
        H._add(s, "t", {"label": s})
    # "s" was used longest ago: its list is the one forgotten
    assert H.entries_of("s", "t") == [] and H.entries_of("a", "t")
