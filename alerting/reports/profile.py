"""Who issues the report: the hospital's configuration, validated once.

Everything that differs between hospitals and never comes from the logs lives here: the
names printed in the header, the code in "Số: N/BC-<code>", who signs, who the data
protection contact is, and the wording the hospital's own procedures prescribe for data
categories, likely consequences and standing measures. Defaults fit a public hospital
under the Ho Chi Minh City Department of Health.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_DATA_CATEGORIES: tuple[str, ...] = (
    "Thông tin định danh và liên hệ của người bệnh (họ tên, ngày sinh, địa chỉ, "
    "số điện thoại)",
    "Dữ liệu về tình trạng sức khỏe, chẩn đoán và điều trị trong hồ sơ bệnh án "
    "(dữ liệu cá nhân nhạy cảm)",
)
DEFAULT_CONSEQUENCES: tuple[str, ...] = (
    "Người bệnh và thân nhân có thể bị liên lạc, quấy rối, lừa đảo hoặc ép mua thuốc, "
    "dịch vụ bằng thông tin bị lộ.",
    "Lộ thông tin về tình trạng sức khỏe (dữ liệu cá nhân nhạy cảm) có thể xâm phạm danh "
    "dự, nhân phẩm và đời tư của người bệnh.",
    "Ảnh hưởng đến uy tín của bệnh viện và niềm tin của người bệnh.",
)
DEFAULT_MEASURES_TAKEN: tuple[str, ...] = (
    "Bảo toàn nhật ký truy cập HIS và nhật ký mạng liên quan làm chứng cứ.",
)
DEFAULT_MEASURES_PLANNED: tuple[str, ...] = (
    "Rà soát, thu hẹp quyền truy cập hồ sơ người bệnh theo nguyên tắc tối thiểu cần thiết.",
    "Tập huấn lại toàn bộ nhân viên về bảo mật thông tin người bệnh.",
    "Thông báo cho người bệnh bị ảnh hưởng và hướng dẫn cảnh giác với các cuộc gọi "
    "mạo danh.",
    "Phối hợp với cơ quan công an và Sở Y tế trong quá trình xác minh, xử lý.",
)
#: The Ministry of Public Security's data-protection agency (A05).
BREACH_AUTHORITY = "Cục An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Signer(_Config):
    """The signer block. ``authority`` is the line above the title when signing for the
    director ("KT. GIÁM ĐỐC" above "PHÓ GIÁM ĐỐC"); empty when the director signs."""

    title: str = Field("GIÁM ĐỐC", min_length=1)
    name: str = Field(min_length=1)
    authority: str = ""


class Contact(_Config):
    """The person in charge of personal-data protection (Law 91/2025 Art. 23)."""

    name: str = Field(min_length=1)
    title: str = ""
    phone: str = Field(min_length=1)
    email: str = Field(min_length=3)


class HospitalProfile(_Config):
    """One hospital as its reports name it. ``id`` is its ``organization.id``."""

    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, description="as in a sentence, e.g. Bệnh viện Từ Dũ "
                                                "(capitalised in the header)")
    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-ZĐ0-9][A-ZĐ0-9.\-]*$",
                      description="the symbol after BC- in 'Số: N/BC-<code>'")
    #: The body above the hospital, one printed line each (the column is 62 mm wide).
    issuing_body: tuple[str, ...] = ("SỞ Y TẾ", "THÀNH PHỐ HỒ CHÍ MINH")
    place: str = "Thành phố Hồ Chí Minh"
    address: str = ""
    recipient: str = "Sở Y tế Thành phố Hồ Chí Minh"
    copies_to: tuple[str, ...] = ("Như trên", "Ban Giám đốc", "Phòng Công nghệ thông tin")
    archive: str = Field("VT, CNTT", description="after 'Lưu:' in the recipients list")
    signer: Signer
    data_protection: Contact
    timezone: str = "Asia/Ho_Chi_Minh"
    data_categories: tuple[str, ...] = DEFAULT_DATA_CATEGORIES
    consequences: tuple[str, ...] = DEFAULT_CONSEQUENCES
    measures_taken: tuple[str, ...] = DEFAULT_MEASURES_TAKEN
    measures_planned: tuple[str, ...] = DEFAULT_MEASURES_PLANNED
    breach_authority: str = BREACH_AUTHORITY

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
