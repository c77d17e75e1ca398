"""The library's tables (SQLAlchemy 2 ORM). SQLite is the truth: vectors live here too.

Only portable constructs are used (no SQLite-only types), so the same schema runs on
PostgreSQL through ``--database-url``. The Alembic revisions in ``migrations/`` create
exactly these tables; ``tests/test_store.py`` checks that the two never drift apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Image status values.
STATUS_OK = "ok"
STATUS_FAILED = "failed"


class Base(DeclarativeBase):
    pass


class LibraryMeta(Base):
    """Key/value facts about the library: its id, model stamp, index generation."""

    __tablename__ = "library_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Collection(Base):
    """A root directory the user asked to index."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root: Mapped[str] = mapped_column(String(4096), unique=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)
    last_indexed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    images: Mapped[list[Image]] = relationship(back_populates="collection")


class Image(Base):
    """One file of a collection, indexed or failed (with its reason)."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("collection_id", "rel_path", name="uq_images_collection_path"),
        Index("ix_images_sha256", "sha256"),
        Index("ix_images_pixel_sha256", "pixel_sha256"),
        Index("ix_images_status", "status"),
        Index("ix_images_quality_flags", "quality_flags"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    rel_path: Mapped[str] = mapped_column(String(4096))
    file_size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pixel_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    exif_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_OK)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    indexed_at: Mapped[datetime] = mapped_column(DateTime)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # videos only
    # quality flags (models.quality.FLAGS bits) and their measures; NULL = not measured
    quality_flags: Mapped[int | None] = mapped_column(Integer, nullable=True)
    brightness: Mapped[float | None] = mapped_column(Float, nullable=True)
    contrast: Mapped[float | None] = mapped_column(Float, nullable=True)
    luma_p5: Mapped[float | None] = mapped_column(Float, nullable=True)
    luma_p95: Mapped[float | None] = mapped_column(Float, nullable=True)
    sharpness: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the whole picture's 16 x 16 grey levels (models.image_layout); NULL = not read yet
    layout: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    collection: Mapped[Collection] = relationship(back_populates="images")
    embedding: Mapped[Embedding | None] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True
    )
    frame: Mapped[ImageFrame | None] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True
    )
    labels: Mapped[list[ImageLabel]] = relationship(
        back_populates="image",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ImageLabel.rank",
    )


class Embedding(Base):
    """The image's vector (float32 little-endian bytes) and the model that made it."""

    __tablename__ = "embeddings"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    model_name: Mapped[str] = mapped_column(String(128))
    model_sha256: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    image: Mapped[Image] = relationship(back_populates="embedding")


class ImageFrame(Base):
    """The photo found inside a frame (screenshot, caption bars, padding): its box as fractions
    of the image, whether the frame dominates the canvas, and the photo's own vector (same
    model and encoding as :class:`Embedding`). Only framed images have a row."""

    __tablename__ = "image_frames"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    left: Mapped[float] = mapped_column(Float)
    top: Mapped[float] = mapped_column(Float)
    right: Mapped[float] = mapped_column(Float)
    bottom: Mapped[float] = mapped_column(Float)
    fill: Mapped[float] = mapped_column(Float)
    dominant: Mapped[bool] = mapped_column(Boolean)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    image: Mapped[Image] = relationship(back_populates="frame")


class ImageCrops(Base):
    """The unit vectors of an image's five crops (:data:`models.CROP_REGIONS`), one after the
    other in one blob (same model and encoding as :class:`Embedding`): libraries with the
    descriptor's ``crops`` on only, and only images indexed while it was on."""

    __tablename__ = "image_crops"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    vectors: Mapped[bytes] = mapped_column(LargeBinary)


class VideoFrame(Base):
    """A sampled frame of a video (an ``images`` row with a duration): its time, the end of
    the span of look-alike frames of its shot it stands for, and its vector (same model and
    encoding as :class:`Embedding`)."""

    __tablename__ = "video_frames"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    shot: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class DescriptorState(Base):
    """What the library learned for comparing images (the whitening, the calibration of
    copy scores), with the fingerprint of what it was learned for."""

    __tablename__ = "descriptor_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ImageLabel(Base):
    """Top class labels of an image (models with a class head), searchable by name."""

    __tablename__ = "image_labels"
    __table_args__ = (Index("ix_image_labels_label", "label"),)

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(256))
    score: Mapped[float] = mapped_column(Float)

    image: Mapped[Image] = relationship(back_populates="labels")


class IndexRun(Base):
    """One ``imgsearch index`` run, for the summary and the library page."""

    __tablename__ = "index_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    images_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)


class RemovedPath(Base):
    """A file or folder of a collection that ``imgsearch remove`` took out of the library:
    later index runs leave it out until ``imgsearch remove --undo`` (``rel_path`` "" is the
    whole collection)."""

    __tablename__ = "removed_paths"
    __table_args__ = (
        UniqueConstraint("collection_id", "rel_path", name="uq_removed_paths_collection_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    rel_path: Mapped[str] = mapped_column(String(4096))
    images: Mapped[int] = mapped_column(Integer)  # how many images the removal took out
    removed_at: Mapped[datetime] = mapped_column(DateTime)

    collection: Mapped[Collection] = relationship()


class CollectionExclude(Base):
    """An ``--exclude`` pattern remembered for a collection (``position``: its place among
    the collection's patterns): every later index run of the collection applies it, until a
    run gives ``--exclude`` (which replaces them) or ``--no-exclude`` (which drops them)."""

    __tablename__ = "collection_excludes"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(Text)
