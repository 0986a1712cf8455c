"""Sample complaints for `python starter.py demo`: fictitious people across Buleleng's kecamatan."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from referral.intake import ComplaintIntake

# (village, category, urgency, channel, subject name, sex, description, conditions). No sample has a NIK (a
# made-up one could be a real person's), so intake adds `tanpa_nik` to each.
_SAMPLES = [
    ("51.08.08.2010", "penyandang_disabilitas", "normal", "puskesos", "Ketut Sudarma", "male",
     "Warga tuna rungu wicara, belum menerima alat bantu dan belum terdata di DTSEN.", []),
    ("51.08.07.2008", "lanjut_usia_telantar", "urgent", "hotline", "Nyoman Rai", "female",
     "Lansia 78 tahun tinggal sendiri, sakit dan tidak ada keluarga yang merawat.",
     ["lansia_tinggal_sendiri", "sakit_kronis"]),
    ("51.08.06.1019", "fakir_miskin", "normal", "walk_in", "Putu Ardana", "male",
     "Keluarga dengan tiga anak, kepala keluarga kehilangan pekerjaan, rumah tidak layak huni.",
     ["miskin_ekstrem"]),
    ("51.08.01.2002", "anak_telantar", "urgent", "whatsapp", "Kadek Ayu", "female",
     "Anak 12 tahun putus sekolah, orang tua bekerja di luar daerah, tinggal tanpa pengasuh.", []),
    ("51.08.02.2005", "korban_bencana_sosial", "emergency", "other_service", "Made Wirawan", "male",
     "Rumah terbakar tadi malam, keluarga lima orang membutuhkan tempat tinggal sementara.", []),
    ("51.08.09.2003", "penyandang_disabilitas", "normal", "lapor", "Wayan Sukra", "male",
     "ODGJ dipasung keluarga, perlu rujukan ke RSJ Provinsi Bali dan pendampingan.", ["odgj", "dipasung"]),
    ("51.08.04.2010", "perempuan_rawan_sosial_ekonomi", "normal", "pendamping", "Luh Sari", "female",
     "Ibu tunggal tanpa penghasilan tetap, membutuhkan bantuan usaha ekonomi produktif.", []),
    ("51.08.05.2005", "korban_tindak_kekerasan", "urgent", "hotline", "Komang Dewi", "female",
     "Korban kekerasan dalam rumah tangga membutuhkan perlindungan dan pendampingan.", []),
]


def demo_complaints(now: datetime | None = None, batch: str | None = None) -> list[ComplaintIntake]:
    now = now or datetime.now(timezone.utc)
    batch = batch or now.strftime("%Y%m%d%H%M%S")
    intakes = []
    for i, (village, category, urgency, channel, name, sex, text, conditions) in enumerate(_SAMPLES, start=1):
        intakes.append(ComplaintIntake.model_validate({
            "external_ref": f"demo-{batch}-{i}",
            "channel": channel,
            "reporter": {"name": "Petugas Puskesos (contoh)", "phone": "081200000000", "relation": "puskesos"},
            "subject": {"name": f"{name} (contoh)", "sex": sex, "address": "Banjar Dinas Kaja (contoh)"},
            "village_code": village,
            "category": category,
            "description": text,
            "urgency": urgency,
            "reported_at": (now - timedelta(hours=i)).isoformat(),
            "conditions": conditions,
        }, context={"now": now}))
    return intakes
