"""A real library for the web tests, built with the indexer (``imgsearch index``).

Collections: ``ukbench_subset/images`` in place (66 photos, read-only), and a scratch folder
in a tmp dir with a few hymenoptera photos, a byte-identical copy of a ukbench photo, a photo
with EXIF orientation 6 (stored sideways), a text file named ``.jpg`` (a failed file), and for
reverse lookups: the near_duplicates edits of ``ukbench00120.jpg`` (whose original is in the
ukbench collection), a PNG re-save of it (same pixels, other bytes) and one more
near_duplicates original (``augly_dfdc_1.jpg``).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from search.settings import Settings

API = "/api/v1"
LOOKUP = f"{API}/lookup"
QUERY_NAME = "ukbench00000.jpg"  # group 0: ukbench00000..00003
COPY_NAME = "copy_of_ukbench00000.jpg"
ROTATED_NAME = "rotated_ukbench00001.jpg"
BROKEN_NAME = "broken.jpg"
EDITED_ORIGINAL = "ukbench00120.jpg"  # a near_duplicates original, in the ukbench collection
EDITS = (
    "ukbench00120__resize.jpg",
    "ukbench00120__hflip.jpg",
    "ukbench00120__gray.jpg",
    "ukbench00120__rotation.jpg",
)
RESAVED_NAME = "ukbench00120_resaved.png"  # the same pixels as EDITED_ORIGINAL, as a PNG
AUGLY_NAME = "augly_dfdc_1.jpg"
EXTRA_OK = 4 + 4 + 2 + len(EDITS) + 2  # indexed files of the extra collection


@dataclass(frozen=True)
class WebLibrary:
    settings: Settings
    models_dir: Path
    ukbench: Path
    extra: Path

    @property
    def query_photo(self) -> Path:
        return self.ukbench / QUERY_NAME


def run_index(
    library: Path, models_dir: Path, *paths: Path, database_url: str | None = None
) -> str:
    """``imgsearch index PATHS`` through click, as a user would run it."""
    from cli.main import cli

    args = ["--library", str(library), "--model-path", str(models_dir)]
    args += ["--database-url", database_url] if database_url else []
    args.append("index")
    result = CliRunner().invoke(cli, [*args, *map(str, paths), "--no-progress"])
    assert result.exit_code == 0, result.output
    return result.output


def make_extra_collection(data_dir: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    val = data_dir / "hymenoptera" / "images" / "val"
    for label in ("bees", "ants"):
        for source in sorted((val / label).glob("*.jpg"))[:4]:
            shutil.copy2(source, target / f"{label}_{source.name}")
    ukbench = data_dir / "ukbench_subset" / "images"
    shutil.copy2(ukbench / QUERY_NAME, target / COPY_NAME)
    with Image.open(ukbench / "ukbench00001.jpg") as im:
        upright = im.convert("RGB")
    # Stored rotated a quarter turn clockwise, with the EXIF tag that turns it upright again.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(target / ROTATED_NAME, "JPEG", quality=90, exif=exif)
    (target / BROKEN_NAME).write_text("this is a text file, not a photo\n")
    near = data_dir / "near_duplicates" / "images"
    for name in (*EDITS, AUGLY_NAME):
        shutil.copy2(near / name, target / name)
    with Image.open(ukbench / EDITED_ORIGINAL) as im:
        im.save(target / RESAVED_NAME)
    return target


def build_web_library(
    root: Path, data_dir: Path, models_dir: Path, database_url: str | None = None
) -> WebLibrary:
    """Index the two collections into ``root/library`` (ukbench first: lower ids; its
    database at ``database_url`` when given: PostgreSQL)."""
    ukbench = data_dir / "ukbench_subset" / "images"
    extra = make_extra_collection(data_dir, root / "extra")
    library = root / "library"
    run_index(library, models_dir, ukbench, database_url=database_url)
    run_index(library, models_dir, extra, database_url=database_url)
    settings = Settings(library=library, model_path=(models_dir,), database_url=database_url)
    return WebLibrary(settings, models_dir, ukbench, extra)


_BUILT: dict[tuple[Path, Path], Path] = {}  # (data, models) -> a library built in this process


def web_library(
    root: Path, data_dir: Path, models_dir: Path, database_url: str | None, built_in: Path
) -> WebLibrary:
    """:func:`build_web_library`'s library in ``root`` for a test module: on SQLite a copy of
    one built once per worker process in ``built_in`` (its extra collection and library
    folder copied, file times kept, the collection's root moved to the copy), so that the
    modules that use it index the same ~90 photos once, not each again; on PostgreSQL built
    here."""
    if database_url is not None:
        return build_web_library(root, data_dir, models_dir, database_url)
    key = (data_dir, models_dir)
    if key not in _BUILT:
        built_in.mkdir(parents=True, exist_ok=False)
        build_web_library(built_in, data_dir, models_dir)
        _BUILT[key] = built_in
    source = _BUILT[key]
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "extra", root / "extra")
    shutil.copytree(source / "library", root / "library")
    (root / "library" / "stats.json").unlink(missing_ok=True)  # of the library copied
    with contextlib.closing(sqlite3.connect(root / "library" / "imgsearch.sqlite3")) as db:
        with db:
            moved = db.execute(
                "UPDATE collections SET root = ? WHERE root = ?",
                (str(root / "extra"), str(source / "extra")),
            )
        assert moved.rowcount == 1
    settings = Settings(library=root / "library", model_path=(models_dir,))
    return WebLibrary(settings, models_dir, data_dir / "ukbench_subset" / "images", root / "extra")


# -- fixture bodies and helpers shared by the web test modules --------------------------------
# Each module declares its fixtures from these (module scope), e.g.
#     weblib = pytest.fixture(scope="module", name="weblib")(make_weblib)


def library_ids(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """File name -> image id of every file of the two collections (failed ones too)."""
    engine = app.extensions["imgsearch"].get()
    out = {}
    for collection in engine.admin.stats()["collections"]:
        for path in sorted(Path(collection["root"]).iterdir()):
            with contextlib.suppress(LookupError):
                out[path.name] = engine.records.image_id_for(path)
    return out


def upload(
    client,
    path: Path | None = None,
    data: bytes | None = None,
    name="q.jpg",  # type: ignore[no-untyped-def]
    url: str = f"{API}/search",
    **fields,
):
    """POST ``url`` (/api/v1/search) with ``path``'s bytes (or ``data``) as the ``image``."""
    body = {k: str(v) for k, v in fields.items()}
    if path is not None or data is not None:
        payload = data if data is not None else path.read_bytes()
        body["image"] = (io.BytesIO(payload), name)
    return client.post(url, data=body, content_type="multipart/form-data")


def assert_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """The response is a JSON error of ``status`` with a message for people."""
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    assert "Traceback" not in error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def lookup(client, path: Path | None = None, data: bytes | None = None, **fields):  # type: ignore[no-untyped-def]
    return upload(client, path, data, url=LOOKUP, **fields)


def names(results: list[dict], kind: str) -> list[str]:
    return [Path(r["path"]).name for r in results if r["match"] == kind]


def form_post(client, url: str, photo: Path, headers=None, **fields):  # type: ignore[no-untyped-def]
    data = {"image": (io.BytesIO(photo.read_bytes()), photo.name), **fields}
    return client.post(url, data=data, headers=headers or {})
