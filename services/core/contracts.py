"""The fixed data contracts of DESIGN.md §3: what the API answers and what the CLI prints.

Fields may be added, never renamed: the phone app, the CLI's ``--json`` and the tests read them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Stage(StrEnum):
    detect = "detect"
    classify = "classify"
    recommend = "recommend"
    done = "done"


class Label(BaseModel):
    label: str
    score: float


class Reference(BaseModel):
    provider: str  # "unsplash" | "local"
    id: str
    url: str
    thumb_url: str
    author: str = ""
    author_url: str = ""
    source_url: str = Field("", description="the photo's own page (Unsplash, a COCO explore page, ...)")
    # Added in round 3 (local photos: the most specific credit the source gives; "" when it gives none).
    collection: str = Field("", description="the set the photo comes from, e.g. 'COCO 2017'")
    title: str = Field("", description="the photo within its set, e.g. 'COCO image 370'")
    license: str = Field("", description="the photo's licence, e.g. 'Apache-2.0'; '' when unknown")
    license_url: str = ""
    # Unsplash only: the photo's download-tracking endpoint, triggered server-side when a user picks it.
    download_location: str | None = None


class DetectedObject(BaseModel):
    box: list[float] = Field(description="[x1, y1, x2, y2] in pixels of the submitted image")
    score: float
    detector_label: str
    labels: list[Label] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    confident: bool = Field(False, description="the top label is right >= 90% of the time at this score "
                            "(calibrated on val); false: 'not sure', the labels are only guesses")
    picked_label: str | None = Field(default=None, description=(
        "the label the user picked for this object (POST /v1/jobs/{id}/objects/{i}/label); "
        "its references follow the pick"))
    references_label: str | None = Field(default=None, description=(
        "the label the references show: the object's label (its pick, else its top label), or, when "
        "there are no photos of that, the next candidate that has some (the app says so: 'No photos "
        "of a face — here is the next guess, owl'); null when no candidate has photos"))


class ImageInfo(BaseModel):
    width: int
    height: int
    sha256: str


class Timings(BaseModel):
    detect: float = 0.0
    classify: float = 0.0
    recommend: float = 0.0
    total: float = 0.0


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Job(BaseModel):
    id: str
    status: JobStatus = JobStatus.queued
    stage: Stage = Stage.detect
    created_at: str = Field(default_factory=utcnow)
    updated_at: str = Field(default_factory=utcnow)
    image: ImageInfo | None = None
    objects: list[DetectedObject] = Field(default_factory=list)
    timings_ms: Timings = Field(default_factory=Timings)
    error: str | None = None
    top_k: int = 5
    references: int = 6
    # The model versions that served the job, by worker kind (round 2): {"detector": "v3", ...}.
    models: dict[str, str] = Field(default_factory=dict)
