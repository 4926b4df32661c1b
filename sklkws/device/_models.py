"""A documented device model: estimated Raspberry Pi latency from a multiply-accumulate count.

The estimate is ``latency = MACs / throughput``, with a single-thread throughput
derived from published figures (see ``docs/export.md`` for the citations):

- XNNPACK's README (google/XNNPACK, benchmarked 2020-02-12 with ``end2end-bench``,
  Raspbian Buster, 4 threads): MobileNet v2 1.0 takes 79 ms on a Raspberry Pi 3B+
  (BCM2837B0) and 44 ms on a Raspberry Pi 4 (BCM2711); MobileNet v1 1.0 takes 115 and
  75 ms.
- MobileNet v2 1.0 (224 px) is 300 M multiply-adds (Sandler et al., 2018);
  MobileNet v1 1.0 is 569 M (Howard et al., 2017).

MobileNet v2, being depthwise-heavy like the small keyword-spotting networks, gives
the lower (more conservative) throughput of the two: 3.80 G MAC/s on the Pi 3B+ and
6.82 G MAC/s on the Pi 4 with four threads. One thread is taken as a quarter of that
(conservative: multi-thread scaling is at most linear), and the Pi 3B's 1.2 GHz
Cortex-A53 as 1.2 / 1.4 of the Pi 3B+'s 1.4 GHz. int8 is assumed no faster than
float32 (the published figures are float32). Per-operator overhead is not modelled:
for very small graphs the real latency can be above the estimate. It is an estimate,
labelled as such everywhere it is reported. ``pi3b`` and ``pi4`` are the one-thread
estimates that the limits check; ``pi3b_4threads`` and ``pi4_4threads`` use the
four-thread figures directly (an optimistic bound for small graphs).
"""

from dataclasses import dataclass

__all__ = ["DEVICE_MODELS", "DeviceModel", "estimate_device_latency"]

_MOBILENET_V2_MACS = 300e6


@dataclass(frozen=True)
class DeviceModel:
    """Single-thread throughput of one device, and where it comes from.

    Attributes
    ----------
    name : str
    macs_per_second : float
        Effective single-thread multiply-accumulates per second.
    source : str
        The published figures it is derived from.
    """

    name: str
    macs_per_second: float
    source: str


DEVICE_MODELS = {
    "pi3b": DeviceModel(
        "Raspberry Pi 3 Model B (Cortex-A53, 1.2 GHz), 1 thread",
        _MOBILENET_V2_MACS / 0.079 / 4 * (1.2 / 1.4),
        "XNNPACK README: MobileNet v2 1.0 in 79 ms on a Pi 3B+ (4 threads); 300 M MACs "
        "(Sandler et al. 2018); / 4 threads; x 1.2/1.4 GHz for the Pi 3B",
    ),
    "pi4": DeviceModel(
        "Raspberry Pi 4 Model B (Cortex-A72, 1.5 GHz), 1 thread",
        _MOBILENET_V2_MACS / 0.044 / 4,
        "XNNPACK README: MobileNet v2 1.0 in 44 ms on a Pi 4 (4 threads); 300 M MACs "
        "(Sandler et al. 2018); / 4 threads",
    ),
    # The published figures as they are, for an interpreter given all four cores
    # (``num_threads=4``): no scaling assumption at all, but small graphs parallelise
    # worse than MobileNet, so these are the optimistic bound.
    "pi3b_4threads": DeviceModel(
        "Raspberry Pi 3 Model B (Cortex-A53, 1.2 GHz), 4 threads",
        _MOBILENET_V2_MACS / 0.079 * (1.2 / 1.4),
        "XNNPACK README: MobileNet v2 1.0 in 79 ms on a Pi 3B+ (4 threads); 300 M MACs; x 1.2/1.4 GHz",
    ),
    "pi4_4threads": DeviceModel(
        "Raspberry Pi 4 Model B (Cortex-A72, 1.5 GHz), 4 threads",
        _MOBILENET_V2_MACS / 0.044,
        "XNNPACK README: MobileNet v2 1.0 in 44 ms on a Pi 4 (4 threads); 300 M MACs",
    ),
}


def estimate_device_latency(macs, device="pi3b"):
    """Estimated single-thread latency (ms) of one forward pass on a device.

    Parameters
    ----------
    macs : int
        Multiply-accumulates of one clip (e.g. :func:`sklkws.export.tflite_macs`).
    device : str or DeviceModel, default="pi3b"
        A key of :data:`DEVICE_MODELS` (``"pi3b"``, ``"pi4"``) or a model of one's own.

    Returns
    -------
    latency_ms : float
        An estimate; see the module docstring for its assumptions.

    Examples
    --------
    >>> round(estimate_device_latency(75_000_000, "pi4"), 1)  # a quarter of MobileNet v2
    44.0
    """
    if not isinstance(device, DeviceModel):
        try:
            device = DEVICE_MODELS[device]
        except (KeyError, TypeError):
            raise ValueError(f"Unknown device {device!r}; use one of {sorted(DEVICE_MODELS)} or a DeviceModel.") from None
    if macs is None or macs < 0:
        raise ValueError(f"macs must be a non-negative count, got {macs!r}.")
    return 1000.0 * float(macs) / device.macs_per_second
