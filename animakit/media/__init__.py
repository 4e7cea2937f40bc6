"""Media I/O: images, audio, streaming video read/write through imageio-ffmpeg's ffmpeg."""
from .audio import (AudioClip, AudioInfo, audio_info, checked_audio_info, has_audio, load_audio,
                    stream_audio)
from .ffmpeg import atomic_output, check_readable, ffmpeg_exe
from .image import load_image, save_image
from .suffixes import IMAGE_SUFFIXES, OUTPUT_VIDEO_SUFFIXES, VIDEO_SUFFIXES
from .video import VideoReader, VideoWriter, even_frame, open_video, read_video, write_video

__all__ = ["AudioClip", "AudioInfo", "IMAGE_SUFFIXES", "OUTPUT_VIDEO_SUFFIXES", "VIDEO_SUFFIXES",
           "VideoReader", "VideoWriter", "atomic_output", "audio_info", "check_readable",
           "checked_audio_info", "even_frame", "ffmpeg_exe", "has_audio", "load_audio",
           "load_image", "open_video", "read_video", "save_image", "stream_audio", "write_video"]
