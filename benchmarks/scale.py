"""Speech Commands at full size on one machine: load, one epoch's training, export.

    python benchmarks/scale.py --n-clips 105000 [--steps 40] [--jobs 2] [--precision float32[,mixed_bfloat16]]
        [--n-jobs none[,-1]] [--out scale.json]

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
2. **train**, once for each ``--precision`` and ``--n-jobs``: the recommended network
   (:func:`sklkws.recipes.recommended_classifier`, its per-batch waveform augmentation
   with the folder's background noise, SpecAugment) fitted on the whole int16 set for
   one epoch cut after ``--steps`` batches (a callback stops it: the epoch's memory is
   allocated before the first batch, so a cut epoch shows the same peak as a full one),
   with the network in ``--precision`` (a Keras dtype policy) and the classifier's
   ``n_jobs`` batches made at once. Reports clips/s and the step over the steps after the
   first two (graph tracing, compilation); the time to make one batch (shuffle,
   augmentation, front end, SpecAugment); the network's own step on one batch made in
   advance, repeated (``compute_ms_per_batch``: the step when the input never keeps it
   waiting), and so the share of the step spent waiting for input
   (``input_wait_share``); peak RSS and peak RSS minus the int16 array; the Keras
   backend and the accelerators it trains on.
3. **export** (where TensorFlow is installed): the fitted network as one int8 TFLite
   file (:func:`sklkws.export.export_compact`, 200 calibration clips): time and bytes.

Any Keras backend: ``KERAS_BACKEND=jax`` measures training on a GPU machine that has
JAX but no TensorFlow (the export is then skipped).

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
from sklkws.datasets import load_background_noise, load_speech_commands
from sklkws.models import _data
from sklkws.recipes import recommended_classifier

def accelerators():
    # The devices Keras's backend trains on, other than the CPU.
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax
        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []

X, y, groups = load_speech_commands({data!r}, labels="all", dtype="int16", n_jobs={jobs})
noise = load_background_noise({data!r})
after_load = rss_mb()

# Time spent making each batch (shuffle, augmentation, front end, SpecAugment), in whichever
# thread makes it: with n_jobs > 1 several run at once, so their sum may exceed the wall time.
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
                             n_jobs={n_jobs!r}, random_state=0)
t0 = time.perf_counter()
clf.fit(X, y)
fit_s = time.perf_counter() - t0
ends = np.array(stop.ends)
timed_steps = len(ends) - 2
step_s = (ends[-1] - ends[1]) / timed_steps
n_made = max(1, len(spent) - 2)
peak = rss_mb()

# The same network's step on one batch already made, repeated: what the accelerator (or CPU) needs
# per batch when the input never keeps it waiting. The difference to the step above is the wait.
batches = _data.TrainingBatches(X, np.eye(len(clf.classes_), dtype=np.float32)[np.searchsorted(clf.classes_, y)],
                                np.ones(len(X), np.float32), rows=np.arange(len(X)), batch_size=clf.batch_size,
                                seed=0, normalize=clf.normalizer_.transform, augment=clf.augment,
                                transform=clf.frontend_.transform, feature_augment=clf.feature_augment)
Xb, Yb, wb = original(batches, 0)
for _ in range(3):
    clf.model_.train_on_batch(Xb, Yb, sample_weight=wb)
times = []
for _ in range(30):
    t = time.perf_counter()
    clf.model_.train_on_batch(Xb, Yb, sample_weight=wb)
    times.append(time.perf_counter() - t)
compute_s = float(np.median(times))

result = dict(
    steps=len(ends), backend=keras.backend.backend(), accelerators=accelerators(), precision=clf.precision,
    n_jobs=clf.n_jobs, input_workers=_data.input_workers(clf.n_jobs), batch_size=clf.batch_size,
    clips_per_s=clf.batch_size / step_s, fit_s=fit_s, step_ms=1e3 * step_s,
    input_ms_per_batch=1e3 * float(np.sum(spent[2:])) / n_made,
    compute_ms_per_batch=1e3 * compute_s, input_wait_share=max(0.0, 1.0 - compute_s / step_s),
    rss_after_load_mb=after_load, peak_rss_mb=peak, int16_mb=X.nbytes / 2**20,
    peak_minus_int16_mb=peak - X.nbytes / 2**20,
)
try:
    import tensorflow  # noqa: F401  (the TFLite converter)
except ImportError:
    result["export"] = "skipped: TensorFlow is not installed here"
else:
    from sklkws.export import export_compact
    path = os.path.join({workdir!r}, "scale.tflite")
    t0 = time.perf_counter()
    export_compact(clf, path, quantize="int8", representative_data=X[:: max(1, len(X) // 200)][:200],
                   check=False, verbose=False)
    result.update(export_s=time.perf_counter() - t0, export_bytes=os.path.getsize(path))
print(json.dumps(result))
"""


def _child(code, timeout):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed (status {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _save(result, path):
    if path:
        Path(path).write_text(json.dumps(result, indent=2) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, required=True, help="clips to write (the full v0.02 set: 105000)")
    parser.add_argument("--data", default=str(DATA), help="real clips to tile (a Speech Commands folder)")
    parser.add_argument("--steps", type=int, default=40, help="training batches of the cut epoch (>= 4)")
    parser.add_argument("--jobs", type=int, default=2, help="threads writing and decoding files")
    parser.add_argument("--workdir", default=None, help="where the temporary folder goes (default: $TMPDIR)")
    parser.add_argument("--no-train", action="store_true", help="only write and load")
    parser.add_argument("--precision", default="float32",
                        help="the network's Keras dtype policy: float32, mixed_float16 or mixed_bfloat16 (mixed: for "
                             "GPUs; slower on most CPUs); several, comma-separated, train once each")
    parser.add_argument("--n-jobs", default="none",
                        help="the classifier's n_jobs (batches made at once): none, a count or -1 for every core; "
                             "several, comma-separated, train once each")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.n_clips < 1 or args.steps < 4:
        parser.error("--n-clips must be >= 1 and --steps >= 4")
    precisions = args.precision.split(",")
    if not set(precisions) <= {"float32", "mixed_float16", "mixed_bfloat16"}:
        parser.error(f"--precision: float32, mixed_float16 or mixed_bfloat16, got {args.precision!r}")
    try:
        n_jobs = [None if v.strip().lower() == "none" else int(v) for v in args.n_jobs.split(",")]
    except ValueError:
        parser.error(f"--n-jobs: none or integers, comma-separated, got {args.n_jobs!r}")

    tmp = Path(tempfile.mkdtemp(prefix="sklkws-scale-", dir=args.workdir))
    try:
        root = tmp / "speech_commands"
        write_s, flac_bytes = write_dataset(root, args.n_clips, data=args.data, jobs=args.jobs)
        result = dict(n_clips=args.n_clips, write_s=write_s, flac_mb=flac_bytes / 2**20, jobs=args.jobs,
                      date=time.strftime("%Y-%m-%d"))
        fmt = dict(root=str(ROOT), data=str(root), jobs=args.jobs, steps=args.steps, workdir=str(tmp))
        result["load"] = _child(_LOAD.format(**fmt), timeout=3600)
        _save(result, args.out)
        if not args.no_train:
            runs = []
            for precision in precisions:
                for jobs in n_jobs:
                    runs.append(_child(_TRAIN.format(**fmt, precision=precision, n_jobs=jobs), timeout=3600))
                    result["train"] = runs[0] if len(runs) == 1 else runs
                    _save(result, args.out)  # a run cut short keeps the finished steps
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _save(result, args.out)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
