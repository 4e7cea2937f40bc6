from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from animakit.errors import ImageTooLargeError, MediaError
from animakit.media import (AudioClip, VideoReader, VideoWriter, load_audio, load_image,
                            open_video, stream_audio, write_video)

from conftest import moving_square_frames, sine


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


# -- video round trip ------------------------------------------------------------------------
def test_round_trip_frames_fps_duration_audio(video_with_audio):
    path, n, fps, seconds = video_with_audio
    r = VideoReader(path)
    assert r.fps == pytest.approx(fps)
    assert r.size == (96, 64)
    assert r.num_frames == n
    frames = r.read_all()
    assert len(frames) == n
    assert abs(r.duration - n / fps) <= 1 / fps
    audio = r.audio(16000)
    assert r.has_audio and audio is not None
    # audio was 1.2 s, video 30/25 = 1.2 s: muxed length within one frame of the video's
    assert abs(audio.duration - n / fps) <= 1 / fps + 0.03   # + AAC priming granularity
    # content survives encoding at the default quality
    src = moving_square_frames(n)
    err = np.abs(frames[10].astype(float) - src[10]).mean()
    assert err < 3.0

def test_counted_at_open_matches_the_decoded_frames(video_with_audio, tmp_path):
    """``count=True`` counts the frames while the header is read; the count and the audio
    check (run beside it) agree with what decoding finds, with or without audio."""
    path, n, fps, _ = video_with_audio
    r = open_video(path, count=True)
    assert r._num_frames == n and r.has_audio
    assert len(r.read_all()) == n
    silent = write_video(tmp_path / "silent.mp4", moving_square_frames(7), 10)
    r = open_video(silent, count=True)
    assert r._num_frames == 7 and not r.has_audio and r.audio() is None



def _ffmpeg_children() -> list[int]:
    """Pids of this process's running (not zombie) ffmpeg children, from /proc."""
    import os
    from pathlib import Path
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        state, ppid = rest.split()[:2]
        if int(ppid) == os.getpid() and "ffmpeg" in name and state != "Z":
            out.append(int(stat.parent.name))
    return out


def test_a_kept_decoder_reads_the_first_pass_and_then_stops(tmp_path):
    """``keep_decoder``: the ffmpeg that read the header decodes the first pass (the same
    frames a fresh one gives), a second pass starts its own, and none is left running
    after a pass, at ``close()`` or when an unread reader is dropped."""
    import gc
    frames = moving_square_frames(9)
    path = write_video(tmp_path / "clip.mp4", frames, 10)
    plain = VideoReader(path).read_all()
    assert _ffmpeg_children() == []
    r = VideoReader(path, keep_decoder=True)
    assert len(_ffmpeg_children()) == 1                       # the header's, waiting
    first = [f.copy() for f in r]
    assert _ffmpeg_children() == []
    second = [f.copy() for f in r]
    assert len(first) == len(second) == len(plain) == 9
    assert all(np.array_equal(a, b) and np.array_equal(a, c)
               for a, b, c in zip(first, second, plain))
    partial = VideoReader(path, keep_decoder=True)
    assert next(iter(partial)).shape == frames[0].shape       # one frame, then dropped
    gc.collect()
    assert _ffmpeg_children() == []
    unread = VideoReader(path, keep_decoder=True)
    unread.close()
    assert _ffmpeg_children() == [] and len(unread.read_all()) == 9
    VideoReader(path, keep_decoder=True)                      # dropped unread
    gc.collect()
    assert _ffmpeg_children() == []


def test_colours_survive_the_in_process_yuv_conversion(tmp_path):
    """The writer converts to I420 itself: flat patches of saturated and grey colours come
    back within a few levels (a wrong matrix or range would shift them by tens)."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (128, 128, 128),
               (20, 20, 20), (235, 235, 235), (200, 120, 60)]
    frame = np.zeros((64, 32 * len(colours), 3), np.uint8)
    for i, c in enumerate(colours):
        frame[:, 32 * i:32 * (i + 1)] = c
    path = write_video(tmp_path / "colours.mp4", [frame] * 3, 25)
    back = VideoReader(path).read_all()[1].astype(int)
    for i, c in enumerate(colours):
        patch = back[16:48, 32 * i + 8:32 * i + 24].reshape(-1, 3).mean(0)
        assert np.abs(patch - c).max() < 6, (c, patch)


def test_i420_planes_are_bt601_limited_with_2x2_mean_chroma():
    from animakit.media.video import i420_into
    rng = np.random.default_rng(0)
    h, w = 6, 10
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = i420_into(frame, np.empty(w * h * 3 // 2, np.uint8)).astype(float)
    m = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0],
                  [112.0, -93.786, -18.214]]) / 255
    ycc = frame.astype(float) @ m.T + [16, 128, 128]
    blocks = ycc.reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3))     # one chroma per 2x2 block
    n, q = w * h, w * h // 4
    assert np.abs(out[:n].reshape(h, w) - ycc[..., 0]).max() <= 1
    assert np.abs(out[n:n + q].reshape(h // 2, w // 2) - blocks[..., 1]).max() <= 1
    assert np.abs(out[n + q:].reshape(h // 2, w // 2) - blocks[..., 2]).max() <= 1


def test_outputs_get_ordinary_permissions(tmp_path):
    import os
    from animakit.media import atomic_output
    out = write_video(tmp_path / "p.mp4", moving_square_frames(3), 25)
    with atomic_output(tmp_path / "x.npz") as tmp:
        tmp.write_bytes(b"data")
    umask = os.umask(0)
    os.umask(umask)
    for p in (out, tmp_path / "x.npz"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask


def test_odd_frame_rate_and_odd_size(tmp_path):
    frames = [np.full((33, 47, 3), i * 8, np.uint8) for i in range(12)]
    path = write_video(tmp_path / "odd.mp4", frames, 30000 / 1001)
    r = VideoReader(path)
    assert r.fps == pytest.approx(29.97, abs=0.01)
    assert r.size == (48, 34)          # padded to even by edge replication
    assert r.num_frames == 12


def test_audio_longer_than_video_is_trimmed(tmp_path):
    path = write_video(tmp_path / "t.mp4", moving_square_frames(10), 10,
                       audio=AudioClip(sine(5.0), 16000))
    a = VideoReader(path).audio()
    assert a.duration == pytest.approx(1.0, abs=0.1)


def test_writer_leaves_nothing_when_interrupted(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, 25) as w:
            for i, f in enumerate(moving_square_frames(10)):
                w.write(f)
                if i == 5:
                    raise KeyboardInterrupt
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", [np.zeros((16, 16), np.uint8), np.zeros((16, 16, 3), np.float32),
                                 np.zeros((20, 16, 3), np.uint8)])
def test_writer_leaves_nothing_on_bad_frames(tmp_path, bad):
    out = tmp_path / "x.mp4"
    with pytest.raises(ValueError):
        with VideoWriter(out, 25) as w:
            w.write(np.zeros((16, 16, 3), np.uint8))
            w.write(bad)
    assert _leftovers(tmp_path) == []


def test_writer_with_no_frames_writes_nothing(tmp_path):
    with pytest.raises(MediaError, match="no frames"):
        with VideoWriter(tmp_path / "x.mp4", 25):
            pass
    assert _leftovers(tmp_path) == []


# -- bad inputs --------------------------------------------------------------------------------
def test_bad_video_inputs(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    corrupt = tmp_path / "corrupt.mp4"
    good = write_video(tmp_path / "good.mp4", moving_square_frames(20), 25)
    corrupt.write_bytes(good.read_bytes()[:300])
    for path, msg in [(empty, "empty"), (text, "not a readable video"),
                      (corrupt, "not a readable video|no decodable"),
                      (tmp_path / "missing.mp4", "not found")]:
        with pytest.raises(MediaError, match=msg) as ei:
            list(VideoReader(path))
        assert str(path) in str(ei.value)


def test_bad_audio_inputs(tmp_path):
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match="no audio samples") as ei:
        load_audio(zero)
    assert "zero.wav" in str(ei.value)
    text = tmp_path / "speech.mp3"
    text.write_text("hello")
    with pytest.raises(MediaError, match="not a readable audio"):
        load_audio(text)
    silent_video = write_video(tmp_path / "v.mp4", moving_square_frames(5), 25)
    with pytest.raises(MediaError, match="no audio samples|not a readable"):
        load_audio(silent_video)
    assert VideoReader(silent_video).audio() is None


def test_audio_resample_and_stream(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, sine(2.0, sr=44100), 44100)
    clip = load_audio(path, sr=16000)
    assert clip.sr == 16000 and clip.duration == pytest.approx(2.0, abs=0.01)
    blocks = list(stream_audio(path, sr=16000, block_seconds=0.5))
    assert len(blocks) == 4 and sum(map(len, blocks)) == len(clip.samples)


def _png_header_only(path, w, h):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_bad_images(tmp_path):
    huge = tmp_path / "huge.png"
    _png_header_only(huge, 20000, 20000)
    with pytest.raises(ImageTooLargeError, match="20000x20000"):
        load_image(huge)
    text = tmp_path / "photo.jpg"
    text.write_text("not an image")
    with pytest.raises(MediaError, match="not a readable image"):
        load_image(text)
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        load_image(empty)
    good = tmp_path / "g.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    trunc = tmp_path / "t.png"
    trunc.write_bytes(good.read_bytes()[:60])
    with pytest.raises(MediaError):
        load_image(trunc)


def test_image_modes_exif_and_cap(tmp_path):
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :10, 3] = 255                      # left half opaque red, right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = load_image(tmp_path / "a.png")
    assert a.shape == (10, 20, 3) and tuple(a[0, 0]) == (255, 0, 0) and tuple(a[0, 15]) == (255, 255, 255)
    Image.fromarray(np.full((8, 8), 77, np.uint8), "L").save(tmp_path / "g.png")
    assert tuple(load_image(tmp_path / "g.png")[0, 0]) == (77, 77, 77)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (8, 8, 3)
    # EXIF orientation 6 (rotate 90° CW to display): stored 30 wide x 10 high -> shown 10 x 30
    img = Image.new("RGB", (30, 10), (0, 0, 0))
    img.putpixel((0, 0), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    r = load_image(tmp_path / "r.jpg")
    assert r.shape == (30, 10, 3)
    assert r[0, -1].mean() > 150                 # the top-left pixel ends up top-right
    big = np.zeros((300, 500, 3), np.uint8)
    assert load_image(big, max_side=100).shape == (60, 100, 3)


def test_writer_muxes_from_a_path_only_clip(tmp_path):
    """Long audio can be handed over as a file reference with no samples in memory."""
    src = tmp_path / "long.wav"
    sf.write(src, sine(3.0), 16000)
    clip = AudioClip(np.zeros(0, np.float32), 16000, path=src, offset=1.0)
    out = write_video(tmp_path / "o.mp4", moving_square_frames(25), 25, audio=clip)
    a = VideoReader(out).audio()
    assert a is not None and a.duration == pytest.approx(1.0, abs=0.1)


def test_rotated_phone_video_reads_upright_and_quietly(tmp_path, caplog):
    """A video whose stream carries a 90 degree display rotation (as phones record) decodes
    rotated, at the rotated size, with no library notice on the terminal."""
    import subprocess
    from animakit.media.ffmpeg import ffmpeg_exe
    frames = moving_square_frames(6, (64, 32))               # 64 wide, 32 high
    write_video(tmp_path / "plain.mp4", frames, 12, crf=10)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-display_rotation", "90",
                    "-i", str(tmp_path / "plain.mp4"), "-c", "copy", str(tmp_path / "rot.mp4")],
                   check=True)
    caplog.clear()
    r = VideoReader(tmp_path / "rot.mp4")
    got = list(r)
    assert r.size == (32, 64) and got[0].shape == (64, 32, 3) and len(got) == 6
    plain = np.rot90(list(VideoReader(tmp_path / "plain.mp4"))[3], 1)  # counter-clockwise
    assert np.abs(got[3].astype(int) - plain).mean() < 3
    assert not [rec for rec in caplog.records if "frame size" in rec.getMessage()]


def test_bad_image_is_named_once_when_the_caller_passes_its_path(tmp_path):
    """Callers that pass the path as the name still get one mention of the file."""
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    for name in (str(bad), "broken.png"):
        with pytest.raises(MediaError) as e:
            load_image(bad, name=name)
        assert str(e.value).count("broken.png") == 1 and "image is not a readable image" in str(e.value)
