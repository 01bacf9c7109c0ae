"""The spot's look as a second witness for video verification (vision/spot_look.py): a spot
that still looks as it did when the problem was raised holds back "cleared", whatever the
detector says; light changes do not count as a change; a removed object does."""

from __future__ import annotations

import numpy as np
import pytest

from vision.spot_look import look, look_from_json, look_to_json, raised_look, similarity, unchanged
from vision.verify import CheckRequest, SceneCheck

BOX = (40.0, 30.0, 100.0, 90.0)


def street(seed: int = 1) -> np.ndarray:
    """A textured pavement (noise smoothed into blotches), BGR."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 140, (15, 20, 3)).astype(np.uint8)
    return np.ascontiguousarray(np.kron(small, np.ones((8, 8, 1), np.uint8)))


def with_bin(image: np.ndarray) -> np.ndarray:
    """A dark bin with a lighter lid and spilt bags in the box."""
    out = image.copy()
    out[40:88, 50:90] = (30, 60, 30)
    out[34:42, 46:94] = (90, 140, 90)
    out[70:88, 90:99] = (200, 200, 210)
    return out


def test_the_same_spot_under_other_light_is_the_same_look_and_a_removed_object_is_not() -> None:
    scene = with_bin(street())
    raised = look(scene, BOX)
    assert raised is not None and raised.shape == (24, 24)
    darker = np.clip(scene.astype(np.float32) * 0.6 + 10, 0, 255).astype(np.uint8)  # dusk
    noisy = np.clip(scene + np.random.default_rng(2).normal(0, 4, scene.shape), 0, 255).astype(np.uint8)
    assert unchanged(raised, darker, BOX) and unchanged(raised, noisy, BOX)
    assert not unchanged(raised, street(), BOX)  # the bin taken away: the pavement again
    assert similarity(raised, look(street(), BOX)) < 0.5  # type: ignore[arg-type]


def test_flat_looks_compare_by_their_mean_and_tiny_or_missing_boxes_are_not_compared() -> None:
    grey = np.full((120, 160, 3), 100, np.uint8)
    raised = look(grey, BOX)
    assert raised is not None and unchanged(raised, grey + 8, BOX)
    assert not unchanged(raised, grey + 40, BOX)  # a flat spot painted over
    assert not unchanged(raised, with_bin(grey), BOX)  # a flat look and a textured one differ
    assert look(grey, (10.0, 10.0, 18.0, 60.0)) is None  # 8 px wide: too few pixels to tell
    assert not unchanged(None, grey, BOX) and not unchanged(raised, grey, None)


def request(**options: object) -> CheckRequest:
    base: dict[str, object] = {"id": "V1", "camera_id": "cam", "region": (30.0, 20.0, 110.0, 100.0),
                               "labels": frozenset({"overflowing_bin"}), "hold_s": 10.0, "timeout_s": 30.0}  # fmt: skip
    return CheckRequest(**{**base, **options})  # type: ignore[arg-type]


@pytest.mark.parametrize("removed", [False, True])
def test_a_detector_gone_blind_cannot_clear_a_spot_that_still_looks_the_same(removed: bool) -> None:
    """The detector reports nothing at all in both cases: with the bin still there the check ends
    unsure at its timeout (a person decides); with it gone, cleared after hold_s as before."""
    scene = with_bin(street())
    check = SceneCheck(request(look=look(scene, BOX), look_box=BOX), 0.0, {"overflowing_bin": 0.2}, fps=5.0)
    now = street() if removed else scene
    verdict = None
    for i in range(5 * 40):
        verdict = check.update([], i / 5, 1e9 + i / 5, now)
        if verdict is not None:
            break
    assert verdict is not None
    if removed:
        assert verdict.outcome == "cleared" and verdict.unchanged_frames == 0
    else:
        assert verdict.outcome == "unsure" and verdict.unchanged_frames == verdict.frames


def test_a_look_needs_its_box() -> None:
    scene = street()
    with pytest.raises(ValueError, match="look"):
        request(look=look(scene, BOX))
    with pytest.raises(ValueError, match="look"):
        request(look_box=BOX)


@pytest.mark.parametrize("box", [BOX, (40.0, 2.0, 100.0, 70.0)])  # the second: its label sits inside it
def test_the_look_from_an_evidence_snapshot_leaves_the_drawing_out(box: tuple[float, float, float, float]) -> None:
    from vision.evidence import snapshot

    scene = with_bin(street())
    jpeg = snapshot(scene, box, "overflowing_bin 0.87", "overflowing_bin")
    found = raised_look(jpeg, box)
    assert found is not None
    grey, inner = found
    assert inner[0] > box[0] and inner[1] > box[1] and inner[2] < box[2] and inner[3] < box[3]
    clean = look(scene, inner)
    assert clean is not None and similarity(grey, clean) > 0.95  # the frame and label left out
    assert unchanged(grey, scene, inner) and not unchanged(grey, street(), inner)
    back = look_from_json(look_to_json(found))
    assert back is not None and np.abs(back[0] - grey).max() <= 0.5 and back[1] == pytest.approx(inner, abs=0.05)
    assert look_from_json({"box": [1, 2, 3], "grey": "AA=="}) is None and look_from_json("x") is None
    assert raised_look(b"not a jpeg", box) is None


def test_an_undecided_check_whose_spot_looked_the_same_says_so() -> None:
    from command_center.verification import explanation

    row = {"zone_name": "禁投区", "label_name": "满溢垃圾桶", "hold_s": 60}
    same = explanation(row, "unsure", {"looked_s": 300, "unchanged_frames": 1200})
    assert same == "视频核查：无法判定（禁投区内未识别到满溢垃圾桶，但画面与发现时相同，请人工核实）"
    assert explanation(row, "unsure", {"looked_s": 300, "unchanged_frames": 0}).startswith("视频核查：无法判定（300秒内")
