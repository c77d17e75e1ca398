"""One ONNX model: session, preprocessing (ROI -> centre crop -> bilinear resize), outputs.

Preprocessing contract (also for a region of interest): the ROI is cut from the upright image
first and then treated exactly like a whole image - the model's own central crop
(``crop_fraction``) and resize apply *inside* the ROI. So embedding an image with an ROI
equals embedding the image pre-cropped to that ROI. Crop and resize are one Pillow
``resize(box=...)`` call with a fractional box, so a JPEG decoded at a reduced draft scale
maps to exactly the same source region as the full decode.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from models.catalog import DEFAULT_MODEL_NAME, LocatedModel, ModelSpec, locate_model
from models.cores import usable_cores
from models.errors import ModelSpecError
from models.labels import read_labels
from models.load import DEFAULT_MAX_PIXELS, DecodedImage, load_image
from models.roi import RegionOfInterest, coerce_roi
from models.sources import ImageSource

if TYPE_CHECKING:  # imported where a session is made: in the opener thread of a background open
    import onnxruntime as ort

log = logging.getLogger(__name__)

RESAMPLE = Image.Resampling.BILINEAR
REDUCING_GAP: float | None = 3.0  # integer box pre-reduction only when >= 3x too big


@dataclass
class ModelOutput:
    """``embeddings`` float32 [N, D] unit-length; ``probs`` [N, C] or ``None``; ``raw`` the
    un-normalised embedding [N, D] when asked for."""

    embeddings: np.ndarray
    probs: np.ndarray | None = None
    raw: np.ndarray | None = None


# Opens sessions in the background (OnnxModel(background=True)); its thread starts on first use.
_OPENER = ThreadPoolExecutor(1, thread_name_prefix="imgsearch-model-open")


def import_onnxruntime():  # type: ignore[no-untyped-def]  # the module
    """onnxruntime, imported with its telemetry off (1.32 writes a device id and an event
    store under ~/.cache/Microsoft and sends a process event unless ``ORT_DISABLE_TELEMETRY``
    is set; a user's own value wins) and its default logger at errors only."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    return ort


def session_options(threads: int = 0, *, spinning: bool = False) -> ort.SessionOptions:
    """Session options tuned for CPU inference next to decoding threads. ``threads`` 0: ONNX
    Runtime's default (a thread per physical core), held to the cores the process may use when
    it may use fewer than the machine has (a container's CPU quota, a pinning)."""
    ort = import_onnxruntime()
    threads = max(0, int(threads))
    if not threads and usable_cores() < (os.cpu_count() or 1):
        threads = usable_cores()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # the int8 graph warns about unused initialisers
    # Busy-waiting worker threads would steal the cores the decoders need.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return opts


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class OnnxModel:
    """A located model with an ONNX Runtime session. ``run`` is thread-safe."""

    def __init__(
        self,
        located: LocatedModel,
        threads: int = 0,
        *,
        spinning: bool = False,
        background: bool = False,
        lazy: bool = False,
    ):
        """Open the model's session now, or with ``background`` in a thread, so that a caller
        can decode images meanwhile, or with ``lazy`` when it is first used (an index run
        with nothing new never opens it) or :meth:`open_in_background` is called. The first
        use of :attr:`session` waits for an open under way and raises what opening raised."""
        self.located = located
        self.spec: ModelSpec = located.spec
        self.threads = threads
        self.num_classes: int | None = None
        self.labels: list[str] | None = (
            read_labels(located.labels_path) if located.labels_path is not None else None
        )
        self._session: ort.InferenceSession | None = None
        self._opening: Future[None] | None = None
        self._spinning = spinning
        self._opening_lock = threading.Lock()
        if background:
            self.open_in_background()
        elif not lazy:
            self._open()

    def open_in_background(self) -> None:
        """Start opening the session in a thread, unless it is open or opening already."""
        with self._opening_lock:
            if self._session is None and self._opening is None:
                self._opening = _OPENER.submit(self._open)

    def settle(self) -> None:
        """Wait for an open under way (its outcome is the first use's to raise); start none:
        e.g. before forking worker processes, which must not inherit a half-made session."""
        opening = self._opening
        if opening is not None:
            wait([opening])

    def _open(self) -> None:
        ort = import_onnxruntime()
        located = self.located
        try:
            session = ort.InferenceSession(
                str(located.path),
                sess_options=session_options(self.threads, spinning=self._spinning),
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelSpecError(f"cannot load ONNX model {located.path}: {exc}") from exc
        self._check_graph(session)
        if self.labels is not None and self.num_classes and len(self.labels) != self.num_classes:
            raise ModelSpecError(
                f"{located.labels_path} has {len(self.labels)} labels but model "
                f"'{self.name}' outputs {self.num_classes} classes"
            )
        self._session = session

    @property
    def session(self) -> ort.InferenceSession:
        """The ONNX Runtime session (opened on first use, or waits for a background open)."""
        if self._session is None:
            self.open_in_background()
            assert self._opening is not None
            self._opening.result()
        assert self._session is not None
        return self._session

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sha256(self) -> str:
        return self.spec.sha256

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the network input."""
        return int(self.spec.size[0]), int(self.spec.size[1])

    @property
    def has_class_head(self) -> bool:
        return self.spec.probs_output is not None

    def _check_graph(self, session: ort.InferenceSession) -> None:
        spec = self.spec
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name: o for o in session.get_outputs()}
        problems = []
        if spec.input_name not in inputs:
            problems.append(f"no input '{spec.input_name}' (has {sorted(inputs)})")
        for out in (spec.embedding_output, spec.probs_output, spec.raw_output):
            if out is not None and out not in outputs:
                problems.append(f"no output '{out}' (has {sorted(outputs)})")
        if not problems:
            dim = outputs[spec.embedding_output].shape[-1]
            if isinstance(dim, int) and dim != spec.dimension:
                problems.append(f"embedding has {dim} values, spec says {spec.dimension}")
            want = "tensor(uint8)" if spec.input_dtype == "uint8" else "tensor(float)"
            if inputs[spec.input_name].type != want:
                problems.append(f"input type {inputs[spec.input_name].type}, spec says {want}")
        if problems:
            raise ModelSpecError(
                f"model '{spec.name}' ({self.located.path}): " + "; ".join(problems)
            )
        if spec.probs_output is not None:
            classes = outputs[spec.probs_output].shape[-1]
            self.num_classes = classes if isinstance(classes, int) else None

    # ------------------------------------------------------------------ input side
    def load(
        self,
        source: ImageSource,
        roi: RegionOfInterest | None = None,
        *,
        rotation_degrees: int = 0,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ) -> DecodedImage:
        """Decode ``source`` with a JPEG draft scale suited to this model (and ROI)."""
        return load_image(
            source,
            rotation_degrees=rotation_degrees,
            draft_size=self.input_size,
            max_pixels=max_pixels,
            roi=roi,
            crop_fraction=self.spec.crop_fraction,
        )

    def source_box(
        self, image: Image.Image | DecodedImage, roi: object = None
    ) -> tuple[float, float, float, float]:
        """The fractional box of ``image`` (in its own pixels) that is resized to the input."""
        if isinstance(image, DecodedImage):
            pil, full_w, full_h = image.image, image.width, image.height
        else:
            pil, full_w, full_h = image, image.width, image.height
        region = coerce_roi(roi)
        if region is not None:
            left, top, right, bottom = region.to_box(full_w, full_h)
        else:
            left, top, right, bottom = 0, 0, full_w, full_h
        frac = self.spec.crop_fraction
        w, h = right - left, bottom - top
        cl = left + (w - w * frac) / 2.0
        ct = top + (h - h * frac) / 2.0
        sx, sy = pil.width / full_w, pil.height / full_h
        return (cl * sx, ct * sy, (cl + w * frac) * sx, (ct + h * frac) * sy)

    def preprocess(
        self, image: Image.Image | DecodedImage, roi: object = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """ROI -> central crop -> bilinear resize; uint8 [H, W, 3] RGB (``out`` is filled if
        given). :meth:`run` maps it to the model's dtype, range and layout."""
        pil = image.image if isinstance(image, DecodedImage) else image
        if pil.mode != "RGB":
            from models.load import to_rgb

            pil = to_rgb(pil)
        box = self.source_box(image if isinstance(image, DecodedImage) else pil, roi)
        resized = pil.resize(self.input_size, RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
        arr = np.asarray(resized)
        if out is None:
            return arr
        out[...] = arr
        return out

    def prepare(self, batch: np.ndarray) -> np.ndarray:
        """uint8 NHWC 0..255 -> the model's input (dtype, value range, layout)."""
        spec = self.spec
        if batch.ndim == 3:
            batch = batch[None]
        if batch.dtype == np.uint8:
            lo, hi = spec.input_range
            if spec.input_dtype == "uint8":
                if (lo, hi) != (0, 255):
                    raise ModelSpecError(f"uint8 input with range {spec.input_range}")
                x = batch
            else:
                x = batch.astype(np.float32)
                x *= np.float32((hi - lo) / 255.0)
                if lo:
                    x += np.float32(lo)
        else:  # already in the model's range
            x = batch.astype(np.float32 if spec.input_dtype == "float32" else np.uint8, copy=False)
        if spec.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    # ------------------------------------------------------------------ inference
    def run(self, batch: np.ndarray, *, raw: bool = False) -> ModelOutput:
        """Run a batch (uint8 [N, H, W, 3] from :meth:`preprocess`, or already prepared)."""
        spec = self.spec
        names = [spec.embedding_output]
        if spec.probs_output:
            names.append(spec.probs_output)
        if raw and spec.raw_output:
            names.append(spec.raw_output)
        feeds = {spec.input_name: self.prepare(batch)}
        results = self.session.run(names, feeds)
        emb = np.asarray(results[0], dtype=np.float32)
        raw_out = emb.copy() if raw and not spec.raw_output else None
        if not spec.output_normalized:
            emb = l2_normalize(emb)
        probs = np.asarray(results[1], dtype=np.float32) if spec.probs_output else None
        if raw and spec.raw_output:
            raw_out = np.asarray(results[-1], dtype=np.float32)
        return ModelOutput(emb, probs, raw_out)

    def embed_images(self, images: Sequence[Image.Image | DecodedImage]) -> np.ndarray:
        """Convenience: preprocess and embed PIL/decoded images, float32 [N, D]."""
        w, h = self.input_size
        batch = np.empty((len(images), h, w, 3), np.uint8)
        for i, image in enumerate(images):
            self.preprocess(image, out=batch[i])
        return self.run(batch).embeddings

    def __repr__(self) -> str:
        return f"OnnxModel({self.name!r}, path={str(self.located.path)!r})"


_open_lock = threading.Lock()
_open_cache: dict[tuple[str, str, int], OnnxModel] = {}


def open_model(
    name: str | None = None,
    search_path: Sequence[Path] = (),
    *,
    threads: int = 0,
    verify: bool = True,
) -> OnnxModel:
    """Locate (sha256-checked) and open a model; one shared session per (file, threads)."""
    located = locate_model(name or DEFAULT_MODEL_NAME, search_path, verify=verify)
    key = (str(located.path.absolute()), str(located.labels_path), int(threads))
    with _open_lock:
        model = _open_cache.get(key)
        if model is None or model.spec != located.spec:
            model = OnnxModel(located, threads)
            _open_cache[key] = model
        return model
