"""SQL of the award workflow and the rules catalogue (migration 0011). It stores and finds; what may happen
to a record is ``ledger.workflow``, what the rules say is ``ledger.rulebook``, and the use cases are
``sync.server.awards``.

Reached as ``CentralUnit.awards``, on the same connection, so a step, its record's new state and the
award it posts are one database transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from ledger.rulebook import Direction, RuleItem, RuleVersion, VillageChange
from ledger.storage.store import _table
from ledger.storage.tables import (
    ObjectionRow,
    PointsRecordRow,
    RecordPhotoRow,
    RecordStepRow,
    ReviewBatchRow,
    RuleVersionRow,
)
from ledger.workflow import Batch, Objection, ObjectionStatus, PointsRecord, Source, Stage, Step

T_RULE_VERSION = _table(RuleVersionRow)
T_RECORD = _table(PointsRecordRow)
T_STEP = _table(RecordStepRow)
T_BATCH = _table(ReviewBatchRow)
T_OBJECTION = _table(ObjectionRow)
T_PHOTO = _table(RecordPhotoRow)


class AwardTables:
    def __init__(self, connection: Any) -> None:
        self.c = connection

    # ----- the rules ---------------------------------------------------------------------------------------
    def rule_versions(self) -> list[RuleVersion]:
        """Every version of the township's and the villages' rules (a few dozen a year)."""
        query = select(T_RULE_VERSION).order_by(T_RULE_VERSION.c.village_id, T_RULE_VERSION.c.version)
        return [_rule_version(r) for r in self.c.execute(query)]

    def next_rule_version(self, village_id: str | None) -> int:
        query = select(func.coalesce(func.max(T_RULE_VERSION.c.version), 0)).where(
            T_RULE_VERSION.c.village_id == (village_id or "")
        )
        return int(self.c.execute(query).scalar_one()) + 1

    def add_rule_version(self, version: RuleVersion) -> None:
        content = {
            "items": [{**asdict(i), "direction": str(i.direction)} for i in version.items],
            "changes": [asdict(c) for c in version.changes],
        }
        self.c.execute(
            insert(T_RULE_VERSION).values(
                village_id=version.village_id or "",
                version=version.version,
                effective_from=version.effective_from,
                content=json.dumps(content, ensure_ascii=False, sort_keys=True),
                note=version.note,
                made_by=version.made_by,
                made_at=version.made_at,
            )
        )

    # ----- records and their steps ---------------------------------------------------------------------------
    def next_record_number(self, village_id: str) -> int:
        """The next number of a village's records (its ids read "XF-000042"); writes are serialised."""
        query = select(func.count()).select_from(T_RECORD).where(T_RECORD.c.village_id == village_id)
        return int(self.c.execute(query).scalar_one()) + 1

    def add_records(self, records: Sequence[PointsRecord]) -> None:
        if records:
            self.c.execute(insert(T_RECORD), [_record_values(r) for r in records])

    def put_record(self, record: PointsRecord) -> None:
        values = _record_values(record)
        del values["record_id"]
        self.c.execute(update(T_RECORD).where(T_RECORD.c.record_id == record.record_id).values(**values))

    def put_records(self, records: Sequence[PointsRecord]) -> None:
        """Many records' new states in one statement (a bulk check, a meeting's approvals, an issue)."""
        if not records:
            return
        rows = []
        for r in records:
            values = _record_values(r)
            values["b_record_id"] = values.pop("record_id")
            rows.append(values)
        columns = [c for c in rows[0] if c != "b_record_id"]
        statement = (
            update(T_RECORD)
            .where(T_RECORD.c.record_id == bindparam("b_record_id"))
            .values({c: bindparam(c) for c in columns})
        )
        self.c.execute(statement, rows)

    def records_by_id(self, record_ids: Sequence[str]) -> list[PointsRecord]:
        """Records by id, in the order asked, 500 per query; unknown ids are left out."""
        found: dict[str, PointsRecord] = {}
        for start in range(0, len(record_ids), 500):
            chunk = list(record_ids[start : start + 500])
            found.update(
                (r.record_id, _record(r))
                for r in self.c.execute(select(T_RECORD).where(T_RECORD.c.record_id.in_(chunk)))
            )
        return [found[i] for i in record_ids if i in found]

    def add_steps(self, steps: Sequence[Step]) -> None:
        if steps:
            self.c.execute(insert(T_STEP), [_step_values(s) for s in steps])

    def record(self, record_id: str) -> PointsRecord | None:
        row = self.c.execute(select(T_RECORD).where(T_RECORD.c.record_id == record_id)).first()
        return _record(row) if row else None

    def record_issued_as(self, txn_id: str) -> PointsRecord | None:
        """The record an award, deduction or clearing was issued for (the auditor's way back)."""
        row = self.c.execute(select(T_RECORD).where(T_RECORD.c.issued_txn_id == txn_id)).first()
        return _record(row) if row else None

    def records(
        self,
        *,
        village_id: str | None = None,
        villages: Sequence[str] | None = None,
        stage: str | None = None,
        household_id: str | None = None,
        batch_id: int | None = None,
        offset: int = 0,
        limit: int = 1000,
    ) -> list[PointsRecord]:
        query = select(T_RECORD).order_by(T_RECORD.c.recorded_at, T_RECORD.c.record_id)
        if village_id is not None:
            query = query.where(T_RECORD.c.village_id == village_id)
        if villages is not None:
            query = query.where(T_RECORD.c.village_id.in_(list(villages)))
        if stage is not None:
            query = query.where(T_RECORD.c.stage == stage)
        if household_id is not None:
            query = query.where(T_RECORD.c.household_id == household_id)
        if batch_id is not None:
            query = query.where(T_RECORD.c.batch_id == batch_id)
        return [_record(r) for r in self.c.execute(query.offset(offset).limit(limit))]

    def count_records(self, village_id: str | None = None, stage: str | None = None, before: str | None = None) -> int:
        """Records of a village (None: all) in a stage, recorded before a time (the overdue checks)."""
        query = select(func.count()).select_from(T_RECORD)
        if village_id is not None:
            query = query.where(T_RECORD.c.village_id == village_id)
        if stage is not None:
            query = query.where(T_RECORD.c.stage == stage)
        if before is not None:
            query = query.where(T_RECORD.c.recorded_at < before)
        return int(self.c.execute(query).scalar_one())

    def steps(self, record_id: str) -> list[Step]:
        query = select(T_STEP).where(T_STEP.c.record_id == record_id).order_by(T_STEP.c.step_id)
        return [
            Step(r.record_id, r.action, r.by, r.at, r.points_before, r.points_after, r.note, r.batch_id)
            for r in self.c.execute(query)
        ]

    # ----- batches --------------------------------------------------------------------------------------
    def add_batch(self, batch: Batch) -> Batch:
        """Store a new batch; its id and its number in the village are given here."""
        number = int(
            self.c.execute(
                select(func.coalesce(func.max(T_BATCH.c.number), 0)).where(T_BATCH.c.village_id == batch.village_id)
            ).scalar_one()
        )
        values = _batch_values(batch)
        values.pop("batch_id")
        values["number"] = number + 1
        batch_id = self.c.execute(insert(T_BATCH).values(**values).returning(T_BATCH.c.batch_id)).scalar_one()
        return Batch(**{**values, "batch_id": int(batch_id)})

    def put_batch(self, batch: Batch) -> None:
        values = _batch_values(batch)
        self.c.execute(update(T_BATCH).where(T_BATCH.c.batch_id == batch.batch_id).values(**values))

    def batch(self, batch_id: int) -> Batch | None:
        row = self.c.execute(select(T_BATCH).where(T_BATCH.c.batch_id == batch_id)).first()
        return _batch(row) if row else None

    def batches(self, village_id: str | None = None, published: bool | None = None) -> list[Batch]:
        query = select(T_BATCH).order_by(T_BATCH.c.village_id, T_BATCH.c.number.desc())
        if village_id is not None:
            query = query.where(T_BATCH.c.village_id == village_id)
        if published is not None:
            query = query.where(T_BATCH.c.published_at.is_not(None) if published else T_BATCH.c.published_at.is_(None))
        return [_batch(r) for r in self.c.execute(query)]

    # ----- objections ---------------------------------------------------------------------------------------
    def add_objection(self, objection: Objection) -> Objection:
        values = _objection_values(objection)
        values.pop("objection_id")
        objection_id = self.c.execute(
            insert(T_OBJECTION).values(**values).returning(T_OBJECTION.c.objection_id)
        ).scalar_one()
        return Objection(**{**values, "objection_id": int(objection_id), "status": ObjectionStatus(values["status"])})

    def put_objection(self, objection: Objection) -> None:
        values = _objection_values(objection)
        self.c.execute(update(T_OBJECTION).where(T_OBJECTION.c.objection_id == objection.objection_id).values(**values))

    def objection(self, objection_id: int) -> Objection | None:
        row = self.c.execute(select(T_OBJECTION).where(T_OBJECTION.c.objection_id == objection_id)).first()
        return _objection(row) if row else None

    def objections(self, *, record_ids: Sequence[str] | None = None, status: str | None = None) -> list[Objection]:
        query = select(T_OBJECTION).order_by(T_OBJECTION.c.objection_id)
        if record_ids is not None:
            query = query.where(T_OBJECTION.c.record_id.in_(list(record_ids)))
        if status is not None:
            query = query.where(T_OBJECTION.c.status == status)
        return [_objection(r) for r in self.c.execute(query)]

    # ----- photos --------------------------------------------------------------------------------------------
    def add_photo(self, record_id: str, media_type: str, content: bytes, by: int, at: str) -> int:
        inserted = self.c.execute(
            insert(T_PHOTO)
            .values(record_id=record_id, media_type=media_type, content=content, added_by=by, added_at=at)
            .returning(T_PHOTO.c.photo_id)
        )
        return int(inserted.scalar_one())

    def photos(self, record_id: str) -> list[tuple[int, str]]:
        """(photo id, media type) of a record's photos, without their bytes."""
        query = (
            select(T_PHOTO.c.photo_id, T_PHOTO.c.media_type)
            .where(T_PHOTO.c.record_id == record_id)
            .order_by(T_PHOTO.c.photo_id)
        )
        return [(int(r.photo_id), str(r.media_type)) for r in self.c.execute(query)]

    def photo(self, photo_id: int) -> tuple[str, str, bytes] | None:
        """(record id, media type, bytes) of one photo."""
        row = self.c.execute(select(T_PHOTO).where(T_PHOTO.c.photo_id == photo_id)).first()
        return (str(row.record_id), str(row.media_type), bytes(row.content)) if row else None


# ----- rows to records and back -------------------------------------------------------------------------------


def _rule_version(row: Any) -> RuleVersion:
    content = json.loads(row.content)
    items = tuple(RuleItem(**{**i, "direction": Direction(i["direction"])}) for i in content.get("items", ()))
    changes = tuple(VillageChange(**c) for c in content.get("changes", ()))
    return RuleVersion(
        version=int(row.version),
        effective_from=str(row.effective_from),
        village_id=row.village_id or None,
        items=items,
        changes=changes,
        note=str(row.note),
        made_by=str(row.made_by),
        made_at=str(row.made_at),
    )


def _record_values(record: PointsRecord) -> dict[str, Any]:
    values = asdict(record)
    values.update(direction=str(record.direction), source=str(record.source), stage=str(record.stage))
    return values


def _record(row: Any) -> PointsRecord:
    values = dict(row._mapping)
    values.update(
        direction=Direction(values["direction"]), source=Source(values["source"]), stage=Stage(values["stage"])
    )
    return PointsRecord(**values)


def _step_values(step: Step) -> dict[str, Any]:
    return asdict(step)


def _batch_values(batch: Batch) -> dict[str, Any]:
    return asdict(batch)


def _batch(row: Any) -> Batch:
    return Batch(**dict(row._mapping))


def _objection_values(objection: Objection) -> dict[str, Any]:
    values = asdict(objection)
    values["status"] = str(objection.status)
    return values


def _objection(row: Any) -> Objection:
    values = dict(row._mapping)
    values["status"] = ObjectionStatus(values["status"])
    return Objection(**values)
