"""Vietnamese personal names with realistic frequencies, for staff and patients.

Surname shares follow the commonly cited national figures (Nguyễn ≈ 38 %, Trần ≈ 11 %,
Lê ≈ 9.5 %, Phạm ≈ 7 %, Hoàng/Huỳnh ≈ 5 %, …). Ho Chi Minh City is in the South, where
Hoàng is usually written Huỳnh and Vũ usually Võ, so those pairs are split in the
Southern proportion. A full name is ``surname middle given``; many women carry the
middle name Thị and many men Văn, which is why middle names are drawn by sex.
"""

from __future__ import annotations

import random
from itertools import accumulate

#: Surname → share in percent (the shares add up to 100).
SURNAME_SHARES: dict[str, float] = {
    "Nguyễn": 38.4, "Trần": 11.2, "Lê": 9.5, "Phạm": 7.0, "Huỳnh": 3.3, "Hoàng": 1.8,
    "Phan": 4.5, "Võ": 2.7, "Vũ": 1.2, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3,
    "Ngô": 1.3, "Dương": 1.0, "Lý": 0.5, "Trương": 0.9, "Đinh": 0.7, "Lâm": 0.7, "Mai": 0.5,
    "Đoàn": 0.5, "Cao": 0.4, "Lương": 0.4, "Hà": 0.4, "Tô": 0.3, "Châu": 0.4, "Tạ": 0.3,
    "Thái": 0.3, "Lưu": 0.3, "Quách": 0.2, "Tăng": 0.2, "La": 0.2, "Phùng": 0.2,
    "Kiều": 0.1, "Triệu": 0.2, "Chung": 0.2, "Văn": 0.2, "Diệp": 0.1, "Từ": 0.1,
    "Nghiêm": 0.1, "Khổng": 0.1, "Trịnh": 0.5, "Vương": 0.4, "Lại": 0.3, "Tống": 0.3,
    "Hứa": 0.2, "Thân": 0.2, "Mã": 0.2, "Giang": 0.2, "Mạc": 0.1, "Âu": 0.1, "Ông": 0.1,
    "Khúc": 0.1, "Hầu": 0.1,
}

_MIDDLE_F: dict[str, float] = {
    "Thị": 45, "Ngọc": 10, "Thanh": 6, "Thu": 5, "Kim": 5, "Hồng": 4, "Mỹ": 4, "Minh": 3,
    "Phương": 3, "Bích": 3, "Như": 3, "Hoàng": 2, "Khánh": 2, "Bảo": 2, "Diệu": 2,
    "Tuyết": 1,
}
_MIDDLE_M: dict[str, float] = {
    "Văn": 35, "Minh": 10, "Quốc": 7, "Hoàng": 6, "Thanh": 6, "Đức": 6, "Hữu": 6,
    "Công": 5, "Thành": 4, "Trọng": 4, "Ngọc": 3, "Tuấn": 3, "Gia": 3, "Anh": 2,
}
_GIVEN_F: tuple[str, ...] = (
    "Lan", "Hương", "Linh", "Trang", "Hạnh", "Thảo", "Ngọc", "Phương", "Mai", "Hà", "Hằng",
    "Thủy", "Nhung", "Hoa", "Yến", "Vy", "Anh", "Nhi", "Trâm", "Uyên", "Quyên", "Hiền",
    "Loan", "Tuyết", "Dung", "Diễm", "Oanh", "Thúy", "Giang", "Châu", "Ngân", "Vân", "My",
    "Tâm", "Thư", "Hân", "Nga", "Huyền", "Liên", "Trinh", "Xuân", "Thơ", "Duyên", "Hậu",
)
_GIVEN_M: tuple[str, ...] = (
    "Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Long", "Hải", "Sơn", "Phúc", "Khoa", "Huy",
    "Bảo", "Đức", "Thắng", "Quang", "Trung", "Hiếu", "Tài", "Thành", "Vinh", "Khánh",
    "Phong", "Tùng", "Cường", "Lộc", "Nghĩa", "Toàn", "Đạt", "Tâm", "Kiên", "Nhân",
    "Thịnh", "Trí", "Việt", "Thái", "Hưng", "Phát", "Tín", "Duy", "An",
)


class NameGenerator:
    """Draws full names; cumulative weights are prepared once because millions are drawn."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._surnames = list(SURNAME_SHARES)
        self._surname_cum = list(accumulate(SURNAME_SHARES.values()))
        self._mid_f = list(_MIDDLE_F)
        self._mid_f_cum = list(accumulate(_MIDDLE_F.values()))
        self._mid_m = list(_MIDDLE_M)
        self._mid_m_cum = list(accumulate(_MIDDLE_M.values()))

    def surname(self) -> str:
        return self._rng.choices(self._surnames, cum_weights=self._surname_cum)[0]

    def full_name(self, female: bool) -> str:
        """``Nguyễn Thị Lan``: surname, a middle name typical of the sex, a given name."""
        rng = self._rng
        if female:
            middle = rng.choices(self._mid_f, cum_weights=self._mid_f_cum)[0]
            given = rng.choice(_GIVEN_F)
        else:
            middle = rng.choices(self._mid_m, cum_weights=self._mid_m_cum)[0]
            given = rng.choice(_GIVEN_M)
        while given == middle:  # "Ngọc Ngọc" is not a name anyone is given
            given = rng.choice(_GIVEN_F if female else _GIVEN_M)
        return f"{self.surname()} {middle} {given}"
