"""Datasets: any labelled audio folder, real Speech Commands folders, the official download, synthetic clips."""

from ._labels import (
    BACKGROUND_NOISE,
    COMMAND_WORDS,
    SAMPLE_RATE,
    SILENCE,
    SPEECH_COMMANDS_12,
    UNKNOWN,
)
from ._folder import AUDIO_FOLDER_EXTENSIONS, CROP_POLICIES, ClipLengthWarning, load_audio_folder
from ._speech_commands import load_speech_commands, load_background_noise
from ._fetch import fetch_speech_commands
from ._synthetic import make_synthetic_commands
from ._tagging import make_synthetic_tagging

__all__ = [
    "AUDIO_FOLDER_EXTENSIONS",
    "BACKGROUND_NOISE",
    "COMMAND_WORDS",
    "CROP_POLICIES",
    "ClipLengthWarning",
    "SAMPLE_RATE",
    "SILENCE",
    "SPEECH_COMMANDS_12",
    "UNKNOWN",
    "fetch_speech_commands",
    "load_audio_folder",
    "load_background_noise",
    "load_speech_commands",
    "make_synthetic_commands",
    "make_synthetic_tagging",
]
