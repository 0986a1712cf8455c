"""Reference data in Postgres: villages, PPKS categories and bidang names, upserted on every start."""

from __future__ import annotations

import asyncpg

from referral import reference


class ReferenceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def load(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO bidang (code, name) VALUES ($1, $2)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name",
                list(reference.bidang_names().items()),
            )
            await conn.executemany(
                "INSERT INTO villages (code, name, kecamatan, kind) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kecamatan = EXCLUDED.kecamatan,"
                " kind = EXCLUDED.kind",
                [(v.code, v.name, v.kecamatan, v.kind) for v in reference.villages().values()],
            )
            # Partner offices are addressed like officers (role partner): their referrals' notices reach them.
            await conn.executemany(
                "INSERT INTO officers (officer_id, role, bidang, name, email, active) VALUES ($1, 'partner', $2, $3, $4, true)"
                " ON CONFLICT (officer_id) DO UPDATE SET role = 'partner', bidang = EXCLUDED.bidang,"
                " name = EXCLUDED.name, email = EXCLUDED.email, active = true",
                [(p.recipient_id, p.bidang, p.name, p.email) for p in reference.partners().values()],
            )
            await conn.executemany(
                "INSERT INTO ppks_categories (code, name, english, bidang) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, english = EXCLUDED.english,"
                " bidang = EXCLUDED.bidang",
                [(c.code, c.name, c.english, c.bidang) for c in reference.categories().values()],
            )
