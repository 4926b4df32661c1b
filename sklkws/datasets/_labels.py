"""The label vocabulary of the Speech Commands task."""

#: The ten command words of the 12-class Speech Commands task.
COMMAND_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: Label of background-noise-only clips.
SILENCE = "_silence_"
#: Label of any word outside the chosen vocabulary.
UNKNOWN = "_unknown_"
#: Folder of the long background recordings in the dataset's layout.
BACKGROUND_NOISE = "_background_noise_"
#: The 12 classes of the TensorFlow Speech Recognition Challenge, in a fixed order.
SPEECH_COMMANDS_12 = COMMAND_WORDS + (SILENCE, UNKNOWN)
#: Sample rate of the dataset.
SAMPLE_RATE = 16000
