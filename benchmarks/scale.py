"""Speech Commands at full size on one machine: load, one epoch's training, export.

    python benchmarks/scale.py --n-clips 105000 [--steps 40] [--jobs 2] [--precision float32] [--out scale.json]

Writes ``--n-clips`` one-second 16-bit FLAC clips in the dataset's standard layout
(one folder per word, ``<speaker>_nohash_<n>.flac``, ``_background_noise_/``,
``validation_list.txt`` / ``testing_list.txt``) into a temporary folder that is
removed afterwards. The clips are the real clips of ``--data`` (the project's
3,781-clip development copy) tiled and perturbed, in chunks of whole arrays: each
copy gets a random gain, a circular shift of up to 100 ms and a little white noise,
and a fresh speaker id, so no two files hold the same bytes.

Then, each in a fresh subprocess (so peak resident memory, ``VmHWM``, is that
step's alone):

1. **load**: ``load_speech_commands(root, labels="all", dtype="int16", n_jobs=J)``:
   wall time, peak RSS, the RSS before loading (interpreter + imports) and the int16
   array's size.
2. **train**: the recommended network (:func:`sklkws.recipes.recommended_classifier`,
   its per-batch waveform augmentation with the folder's background noise, SpecAugment)
   fitted on the whole int16 set for one epoch cut after ``--steps`` batches (a
   callback stops it: the epoch's memory is allocated before the first batch, so a cut
   epoch shows the same peak as a full one). Reports clips/s over the steps after the
   first two (graph tracing), with the network in ``--precision`` (a Keras dtype
   policy), the share of the wall time spent in the tf.data input pipeline's Python
   batch function (shuffle, augmentation, front end, SpecAugment),
   peak RSS and peak RSS minus the int16 array, and whether TensorFlow saw a GPU.
3. **export**: the fitted network as one int8 TFLite file
   (:func:`sklkws.export.export_compact`, 200 calibration clips): time and bytes.

The two CPU cores of the development machine are shared; run it with ``nice`` and
read the times as "on a loaded machine". Prints one JSON object and writes it to
``--out`` when given.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "speech_commands"
SAMPLE_RATE = 16000
_CHUNK = 2048


def _split_of(key):
    """The dataset's own rule in spirit: a stable hash of the speaker picks the list (10 % / 10 %)."""
    bucket = zlib.crc32(key.encode()) % 10
    return "validation" if bucket == 0 else "testing" if bucket == 1 else "training"


def write_dataset(root, n_clips, *, data=DATA, jobs=2, seed=0):
    """Write ``n_clips`` perturbed copies of the clips in ``data`` under ``root``; return seconds and bytes."""
    from sklkws.datasets import load_speech_commands

    start = time.perf_counter()
    X, words, groups = load_speech_commands(data, labels="all", dtype="int16", n_jobs=jobs)
    rng = np.random.default_rng(seed)
    root = Path(root)
    for word in np.unique(words):
        (root / word).mkdir(parents=True, exist_ok=True)
    shutil.copytree(Path(data) / "_background_noise_", root / "_background_noise_")
    lists = {"validation": [], "testing": []}
    positions = np.arange(X.shape[1])

    def write(item):
        path, clip = item
        sf.write(path, clip, SAMPLE_RATE, format="FLAC", subtype="PCM_16")

    with ThreadPoolExecutor(jobs) as pool:  # libsndfile releases the GIL while encoding
        for first in range(0, n_clips, _CHUNK):
            index = np.arange(first, min(first + _CHUNK, n_clips))
            source = index % len(X)
            copy = index // len(X)
            gain = rng.uniform(0.5, 1.0, size=(len(index), 1))
            shift = rng.integers(-1600, 1601, size=(len(index), 1))
            clips = X[source[:, None], (positions[None, :] - shift) % X.shape[1]] * gain
            clips += rng.normal(0.0, 20.0, size=clips.shape)
            clips = np.clip(np.rint(clips), -32768, 32767).astype(np.int16)
            items = []
            for row, (i, s, c) in enumerate(zip(index, source, copy)):
                speaker = f"{copy[row]:02x}{groups[s][2:]}" if "/" not in groups[s] else f"c{c}"
                key = f"{words[s]}/{speaker}_nohash_{i}"
                items.append((root / f"{key}.flac", clips[row]))
                split = _split_of(speaker)
                if split != "training":
                    lists[split].append(f"{key}.wav")  # the official lists name .wav files
            list(pool.map(write, items))
    for split, keys in lists.items():
        (root / f"{split}_list.txt").write_text("\n".join(keys) + "\n")
    size = sum(f.stat().st_size for f in root.rglob("*.flac"))
    return time.perf_counter() - start, size


_PRELUDE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
def rss_mb():
    # VmHWM (peak RSS) starts afresh at exec; ru_maxrss would keep the parent's peak from before the fork.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
"""

_LOAD = _PRELUDE + """
from sklkws.datasets import load_speech_commands
before = rss_mb()
t0 = time.perf_counter()
X, y, groups = load_speech_commands({data!r}, labels="all", dtype="int16", n_jobs={jobs})
seconds = time.perf_counter() - t0
print(json.dumps(dict(n_clips=len(X), load_s=seconds, rss_before_mb=before, peak_rss_mb=rss_mb(),
                      int16_mb=X.nbytes / 2**20)))
"""

_TRAIN = _PRELUDE + """
import os
import numpy as np
import keras
import tensorflow as tf
from sklkws.datasets import load_background_noise, load_speech_commands
from sklkws.models import _data
from sklkws.recipes import recommended_classifier

X, y, groups = load_speech_commands({data!r}, labels="all", dtype="int16", n_jobs={jobs})
noise = load_background_noise({data!r})
after_load = rss_mb()

# Time spent in the input pipeline's Python batch function (it runs in tf.data's threads).
spent = []
original = _data.TrainingBatches.__getitem__
def timed(self, index):
    t = time.perf_counter()
    out = original(self, index)
    spent.append(time.perf_counter() - t)
    return out
_data.TrainingBatches.__getitem__ = timed

class Stop(keras.callbacks.Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps, self.ends = steps, []
    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())
        if len(self.ends) >= self.steps:
            self.model.stop_training = True

stop = Stop({steps})
clf = recommended_classifier(epochs=1, background_noise=noise, callbacks=[stop], precision={precision!r},
                             random_state=0)
t0 = time.perf_counter()
clf.fit(X, y)
fit_s = time.perf_counter() - t0
ends = np.array(stop.ends)
timed_steps = len(ends) - 2
clips_per_s = timed_steps * clf.batch_size / (ends[-1] - ends[1])
input_s = float(np.sum(spent[2:len(ends)]))
peak = rss_mb()

from sklkws.export import export_compact
path = os.path.join({workdir!r}, "scale.tflite")
t0 = time.perf_counter()
export_compact(clf, path, quantize="int8", representative_data=X[:: max(1, len(X) // 200)][:200], check=False,
               verbose=False)
export_s = time.perf_counter() - t0
print(json.dumps(dict(
    steps=len(ends), precision=clf.precision, batch_size=clf.batch_size, clips_per_s=clips_per_s,
    fit_s=fit_s,
    input_share=input_s / (ends[-1] - ends[1]), input_ms_per_batch=1e3 * input_s / timed_steps,
    step_ms=1e3 * (ends[-1] - ends[1]) / timed_steps,
    gpus=[d.name for d in tf.config.list_physical_devices("GPU")],
    rss_after_load_mb=after_load, peak_rss_mb=peak, int16_mb=X.nbytes / 2**20,
    peak_minus_int16_mb=peak - X.nbytes / 2**20, export_s=export_s, export_bytes=os.path.getsize(path),
)))
"""


def _child(code, timeout):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed (status {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, required=True, help="clips to write (the full v0.02 set: 105000)")
    parser.add_argument("--data", default=str(DATA), help="real clips to tile (a Speech Commands folder)")
    parser.add_argument("--steps", type=int, default=40, help="training batches of the cut epoch (>= 4)")
    parser.add_argument("--jobs", type=int, default=2, help="threads writing and decoding files")
    parser.add_argument("--workdir", default=None, help="where the temporary folder goes (default: $TMPDIR)")
    parser.add_argument("--no-train", action="store_true", help="only write and load")
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_float16", "mixed_bfloat16"),
                        help="the network's Keras dtype policy (mixed: for GPUs; slower on most CPUs)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.n_clips < 1 or args.steps < 4:
        parser.error("--n-clips must be >= 1 and --steps >= 4")

    tmp = Path(tempfile.mkdtemp(prefix="sklkws-scale-", dir=args.workdir))
    try:
        root = tmp / "speech_commands"
        write_s, flac_bytes = write_dataset(root, args.n_clips, data=args.data, jobs=args.jobs)
        result = dict(n_clips=args.n_clips, write_s=write_s, flac_mb=flac_bytes / 2**20, jobs=args.jobs,
                      date=time.strftime("%Y-%m-%d"))
        fmt = dict(root=str(ROOT), data=str(root), jobs=args.jobs, steps=args.steps, workdir=str(tmp),
                   precision=args.precision)
        result["load"] = _child(_LOAD.format(**fmt), timeout=3600)
        if not args.no_train:
            result["train"] = _child(_TRAIN.format(**fmt), timeout=3600)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
