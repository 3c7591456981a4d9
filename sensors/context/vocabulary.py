"""A hospital's own words for roles and departments, mapped to phiwatch's classes.

Every hospital names its people and wards its own way — ``cashier`` or ``thu ngân``,
``xet-nghiem`` or ``lab``, ``Khoa Sản A`` or ``obstetrics-2``. Rules must not depend on
those words (a rule naming ``lab_tech`` goes blind, or noisy, at a hospital that says
``technician``), so the enricher adds *classes* and the shipped rules test only those:

Role classes (``phiwatch.user.role_class``):

- ``clinical``: cares for patients (doctors, nurses, midwives …);
- ``service``: works for every ward from a service department (laboratory, imaging,
  pharmacy, rehabilitation, nutrition);
- ``desk``: registration, reception, cashier and billing, medical records, insurance,
  administration, social work;
- ``it``: information technology;
- ``vendor``: contractors and partners' staff;
- ``management``: directors and heads, who may read widely for audits.

Department classes (``phiwatch.user.department_class``): ``care`` (wards, clinics,
emergency, theatres), ``service``, ``desk``, ``it``, ``partner``, ``management``.
Departments of class ``service`` and ``desk`` serve every ward: their staff open the
records of patients in care anywhere (``phiwatch.user.serves_all_wards``).

A word is classified by the hospital's configuration first (``context.vocabulary``),
then by the built-in keywords below (for a department code, on its full name when the
configuration gives one: ``department_names``), which cover common English and Vietnamese names
(compared without diacritics, case or punctuation, by whole words). A word nothing
matches is *unknown*: that one field is left out (never guessed), counted, and listed by
``phiwatch context check`` with what it switches off.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

ROLE_CLASSES = ("clinical", "service", "desk", "it", "vendor", "management")
DEPARTMENT_CLASSES = ("care", "service", "desk", "it", "partner", "management")
#: Department classes whose staff serve every ward.
SERVING = frozenset({"service", "desk"})

# Keyword tables: class → phrases (normalised: lowercase ASCII words). The first class
# with a phrase found in the word wins, so more specific classes come first.
ROLE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vendor", ("vendor", "contractor", "partner", "supplier", "external", "doi tac",
                "nha thau", "nha cung cap", "ncc", "outsource", "thue ngoai")),
    ("it", ("it", "ict", "cntt", "cong nghe thong tin", "it admin", "sysadmin",
            "system administrator", "network", "developer", "programmer", "helpdesk",
            "help desk", "quan tri he thong", "quan tri mang", "lap trinh")),
    ("management", ("director", "deputy director", "giam doc", "pho giam doc",
                    "head of department", "truong khoa", "pho truong khoa", "truong phong",
                    "manager", "quan ly", "chief")),
    ("desk", ("reception", "receptionist", "front desk", "tiep don", "tiep nhan", "le tan",
              "registration", "registrar", "dang ky", "cashier", "thu ngan", "billing",
              "biller", "vien phi", "accountant", "accounting", "ke toan", "finance",
              "tai chinh", "clerk", "van thu", "secretary", "thu ky", "medical records",
              "records", "ho so", "luu tru", "insurance", "bhyt", "bao hiem",
              "administrative", "administration", "hanh chinh", "social worker",
              "cong tac xa hoi", "ctxh", "coder", "coding")),
    ("service", ("lab", "laboratory", "xet nghiem", "technician", "technologist",
                 "ky thuat vien", "ktv", "radiographer", "radiology", "radiologic",
                 "imaging", "x quang", "sonographer", "ultrasound", "sieu am",
                 "pharmacist", "pharmacy", "duoc", "duoc si", "physiotherapist",
                 "physiotherapy", "rehabilitation", "phuc hoi chuc nang", "dietitian",
                 "nutritionist", "dinh duong", "sterilization", "tiet trung", "phlebotomist")),
    ("clinical", ("doctor", "physician", "md", "bac si", "bs", "nurse", "rn", "dieu duong",
                  "y ta", "midwife", "midwifery", "ho sinh", "nu ho sinh", "surgeon",
                  "phau thuat vien", "anesthetist", "anaesthetist", "anesthesiologist",
                  "gay me", "resident", "intern", "noi tru", "clinician", "y si",
                  "practitioner", "obstetrician", "pediatrician", "paediatrician",
                  "neonatologist", "caregiver", "ho ly", "nursing", "dentist",
                  "nha si", "psychologist", "consultant", "hospitalist", "medic")),
)
DEPARTMENT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("partner", ("doi tac", "vendor", "partner", "contractor", "nha thau", "outsource")),
    ("it", ("it", "ict", "cntt", "cong nghe thong tin", "information technology",
            "informatics", "tin hoc")),
    ("management", ("ban giam doc", "board", "directorate", "management")),
    ("desk", ("tiep nhan", "tiep don", "reception", "registration", "dang ky", "admission",
              "admissions", "tai chinh", "finance", "ke toan", "accounting", "cashier",
              "thu ngan", "vien phi", "billing", "hanh chinh", "administration",
              "ke hoach tong hop", "khth", "medical records", "records", "ho so",
              "bhyt", "insurance", "bao hiem", "cong tac xa hoi", "ctxh", "social work",
              "to chuc can bo", "human resources", "hr")),
    ("service", ("xet nghiem", "lab", "laboratory", "chan doan hinh anh", "cdha", "imaging",
                 "radiology", "x quang", "duoc", "pharmacy", "giai phau benh", "pathology",
                 "vi sinh", "microbiology", "huyet hoc", "hematology", "haematology",
                 "hoa sinh", "biochemistry", "kiem soat nhiem khuan", "infection control",
                 "dinh duong", "nutrition", "phuc hoi chuc nang", "rehabilitation",
                 "rehab", "physiotherapy", "tham do chuc nang", "functional",
                 "blood bank", "ngan hang mau", "truyen mau", "tiet trung",
                 "sterilization", "xn", "kxn")),
    ("care", ("ward", "clinic", "phong kham", "kham benh", "outpatient", "inpatient",
              "emergency", "cap cuu", "icu", "hoi suc", "intensive", "noi", "internal",
              "medicine", "ngoai", "surgery", "surgical", "san", "obstetric", "obstetrics",
              "gynecology", "gynaecology", "phu khoa", "phu san", "maternity", "labour",
              "labor", "delivery", "de", "postpartum", "postnatal", "antenatal", "prenatal",
              "kham thai", "hau san", "nhi", "pediatric", "paediatric", "pediatrics",
              "so sinh", "neonatal", "nicu", "newborn", "mat", "ophthalmology", "eye",
              "tai mui hong", "ent", "rang ham mat", "dental", "da lieu", "dermatology",
              "ung buou", "oncology", "tim mach", "cardiology", "than kinh", "neurology",
              "truyen nhiem", "infectious", "lao", "y hoc co truyen", "traditional",
              "gay me", "anesthesia", "anaesthesia", "theatre", "theater", "operating",
              "hau phau", "dieu tri", "treatment", "ho hap", "respiratory", "tieu hoa",
              "gastro", "than", "nephrology", "tiet nieu", "urology", "chan thuong",
              "orthopedic", "orthopaedic", "trauma", "bong", "burns", "tam than",
              "psychiatry", "geriatric", "lao khoa", "hiem muon", "fertility", "ivf",
              "dieu duong", "nursing")),
)
#: Built-in words of maternity, postpartum and neonatal departments (patients there are
#: ``phiwatch.patient.maternity``).
MATERNITY_KEYWORDS = ("san", "obstetric", "obstetrics", "maternity", "labour", "labor",
                      "delivery", "de", "postpartum", "postnatal", "antenatal", "prenatal",
                      "kham thai", "hau san", "phu san", "so sinh", "neonatal", "nicu",
                      "newborn", "midwifery", "hiem muon", "ivf")

#: Distinct lists of roles remembered by ``Vocabulary.roles_class``.
MAX_CACHED = 10_000

_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(word: str) -> str:
    """Lowercase ASCII words separated by single spaces: ``Khoa Sản-A`` → ``khoa san a``."""
    decomposed = unicodedata.normalize("NFKD", word.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", ascii_only.lower()).strip()


def _has_phrase(words: str, phrase: str) -> bool:
    return f" {phrase} " in f" {words} "


class Vocabulary:
    """Classifies role and department words; answers are cached per distinct word."""

    def __init__(self, roles: Mapping[str, str] | None = None,
                 departments: Mapping[str, str] | None = None,
                 maternity: tuple[str, ...] = (),
                 department_names: Mapping[str, str] | None = None) -> None:
        self._roles = {normalise(k): v for k, v in (roles or {}).items()}
        self._departments = {normalise(k): v for k, v in (departments or {}).items()}
        #: Department code → full name, for codes no keyword matches.
        self._names = {normalise(k): v for k, v in (department_names or {}).items()}
        self._maternity_words = {normalise(m) for m in maternity}
        self._role_cache: dict[str, str | None] = {}
        self._roles_cache: dict[tuple[str, ...], str | None] = {}
        self._department_cache: dict[str, str | None] = {}
        self._maternity_cache: dict[str, bool] = {}

    def role_class(self, word: str) -> str | None:
        """The class of one role word, or ``None`` when nothing matches."""
        found = self._role_cache.get(word, "")
        if found == "":
            found = self._role_cache[word] = _classify(word, self._roles, ROLE_KEYWORDS)
        return found

    def roles_class(self, roles: tuple[str, ...] | list[str]) -> str | None:
        """The class of the first role (in the roster's order) that has one.

        Cached per list of roles: the enricher asks for every event, and a hospital has
        few distinct lists (a roster's staff share them)."""
        key = roles if type(roles) is tuple else tuple(roles)
        found = self._roles_cache.get(key, "")
        if found == "":
            if len(self._roles_cache) >= MAX_CACHED:  # lists from logs: keep memory bounded
                self._roles_cache.clear()
            found = self._roles_cache[key] = self._first_class(key)
        return found

    def _first_class(self, roles: tuple[str, ...]) -> str | None:
        for role in roles:
            found = self.role_class(role)
            if found is not None:
                return found
        return None

    def department_class(self, word: str) -> str | None:
        """The class of one department word, or ``None`` when nothing matches."""
        found = self._department_cache.get(word, "")
        if found == "":
            found = _classify(word, self._departments, DEPARTMENT_KEYWORDS)
            name = self._names.get(normalise(word))
            if found is None and name is not None:
                found = _classify(name, self._departments, DEPARTMENT_KEYWORDS)
            self._department_cache[word] = found
        return found

    def is_maternity(self, department: str) -> bool:
        """Whether ``department`` is a maternity, postpartum or neonatal one."""
        found = self._maternity_cache.get(department)
        if found is None:
            words = normalise(department)
            name = normalise(self._names.get(words, ""))
            found = words in self._maternity_words or any(
                _has_phrase(w, k) for w in (words, name) if w for k in MATERNITY_KEYWORDS)
            self._maternity_cache[department] = found
        return found


def _classify(word: str, configured: Mapping[str, str],
              keywords: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    words = normalise(word)
    if not words:
        return None
    if words in configured:
        return configured[words]
    for cls, phrases in keywords:
        if any(_has_phrase(words, p) for p in phrases):
            return cls
    return None
