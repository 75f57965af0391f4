"""The simulated province's reference data: units over time, fields (lĩnh vực) and ministries.

Thừa Thiên Huế in 2024 (departments, 9 district-level units and their communes), the city of
Huế from 2025-01-01 (the old city split into quận Phú Xuân and quận Thuận Hóa), the
department mergers of 2025-03-01, and the 40 communes (21 phường, 19 xã) that replace the
district tier on 2025-07-01. Commune names before the reform are a real but partial list, to
keep the demo small (COMMUNES_BEFORE_REFORM).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PROVINCE = "H57"
HISTORY_START = dt.date(2024, 1, 1)
CITY_FROM = dt.date(2025, 1, 1)
MERGERS_ON = dt.date(2025, 3, 1)
REFORM_ON = dt.date(2025, 7, 1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    tier: str
    parent_code: str | None
    valid_from: dt.date
    valid_to: dt.date | None

    def active_on(self, d: dt.date) -> bool:
        return self.valid_from <= d and (self.valid_to is None or d <= self.valid_to)


def _dept(n: int) -> str:
    return f"000.00.{n:02d}.{PROVINCE}"


# (number, name, valid_from, valid_to, successor number): departments (sở, ban, ngành).
DEPARTMENTS: tuple[tuple[int, str, dt.date, dt.date | None, int | None], ...] = (
    (1, "Sở Tư pháp", HISTORY_START, None, None),
    (2, "Sở Nội vụ", HISTORY_START, None, None),
    (3, "Sở Tài chính", HISTORY_START, None, None),
    (4, "Sở Kế hoạch và Đầu tư", HISTORY_START, MERGERS_ON - DAY, 3),
    (5, "Sở Xây dựng", HISTORY_START, None, None),
    (6, "Sở Giao thông vận tải", HISTORY_START, MERGERS_ON - DAY, 5),
    (7, "Sở Tài nguyên và Môi trường", HISTORY_START, MERGERS_ON - DAY, 19),
    (8, "Sở Lao động - Thương binh và Xã hội", HISTORY_START, MERGERS_ON - DAY, 2),
    (9, "Sở Y tế", HISTORY_START, None, None),
    (10, "Sở Giáo dục và Đào tạo", HISTORY_START, None, None),
    (11, "Sở Công Thương", HISTORY_START, None, None),
    (12, "Sở Nông nghiệp và Phát triển nông thôn", HISTORY_START, MERGERS_ON - DAY, 19),
    (13, "Sở Văn hóa và Thể thao", HISTORY_START, None, None),
    (14, "Sở Du lịch", HISTORY_START, None, None),
    (15, "Sở Thông tin và Truyền thông", HISTORY_START, MERGERS_ON - DAY, 16),
    (16, "Sở Khoa học và Công nghệ", HISTORY_START, None, None),
    (17, "Ban Quản lý Khu kinh tế, công nghiệp tỉnh", HISTORY_START, None, None),
    (18, "Sở Ngoại vụ", HISTORY_START, None, None),
    (19, "Sở Nông nghiệp và Môi trường", MERGERS_ON, None, None),
)

# (number, name, valid_from, valid_to): district-level units (UBND cấp huyện).
DISTRICTS: tuple[tuple[int, str, dt.date, dt.date], ...] = (
    (31, "UBND thành phố Huế", HISTORY_START, CITY_FROM - DAY),
    (32, "UBND thị xã Hương Thủy", HISTORY_START, REFORM_ON - DAY),
    (33, "UBND thị xã Hương Trà", HISTORY_START, REFORM_ON - DAY),
    (34, "UBND huyện Phong Điền", HISTORY_START, REFORM_ON - DAY),
    (35, "UBND huyện Quảng Điền", HISTORY_START, REFORM_ON - DAY),
    (36, "UBND huyện Phú Vang", HISTORY_START, REFORM_ON - DAY),
    (37, "UBND huyện Phú Lộc", HISTORY_START, REFORM_ON - DAY),
    (38, "UBND huyện A Lưới", HISTORY_START, REFORM_ON - DAY),
    (39, "UBND huyện Nam Đông", HISTORY_START, REFORM_ON - DAY),
    (40, "UBND quận Phú Xuân", CITY_FROM, REFORM_ON - DAY),
    (41, "UBND quận Thuận Hóa", CITY_FROM, REFORM_ON - DAY),
)

# Communes before the reform, by district number: a real, partial list (kept small on purpose).
COMMUNES_BEFORE_REFORM: dict[int, tuple[str, ...]] = {
    31: (
        "phường Phú Hội",
        "phường Phú Nhuận",
        "phường Vĩnh Ninh",
        "phường Thuận Hòa",
        "phường Tây Lộc",
        "phường Đông Ba",
        "phường Phú Hậu",
        "phường An Cựu",
        "phường Xuân Phú",
        "phường Vỹ Dạ",
    ),
    32: (
        "phường Phú Bài",
        "phường Thủy Dương",
        "phường Thủy Phương",
        "phường Thủy Châu",
        "xã Thủy Thanh",
        "xã Phú Sơn",
        "xã Dương Hòa",
    ),
    33: (
        "phường Tứ Hạ",
        "phường Hương Văn",
        "phường Hương Xuân",
        "phường Hương Chữ",
        "xã Hương Toàn",
        "xã Bình Tiến",
        "xã Bình Thành",
    ),
    34: (
        "thị trấn Phong Điền",
        "xã Phong An",
        "xã Phong Hiền",
        "xã Phong Thu",
        "xã Điền Hương",
        "xã Phong Hải",
        "xã Phong Mỹ",
    ),
    35: (
        "thị trấn Sịa",
        "xã Quảng An",
        "xã Quảng Thành",
        "xã Quảng Phước",
        "xã Quảng Vinh",
        "xã Quảng Công",
        "xã Quảng Ngạn",
    ),
    36: (
        "thị trấn Phú Đa",
        "thị trấn Thuận An",
        "xã Phú Thượng",
        "xã Phú Mậu",
        "xã Vinh Thanh",
        "xã Phú Diên",
        "xã Phú Hồ",
    ),
    37: (
        "thị trấn Phú Lộc",
        "thị trấn Lăng Cô",
        "xã Lộc Trì",
        "xã Vinh Hưng",
        "xã Lộc Bổn",
        "xã Vinh Hiền",
        "xã Lộc Sơn",
    ),
    38: ("thị trấn A Lưới", "xã Hồng Thượng", "xã Hồng Kim", "xã A Roàng", "xã Trung Sơn"),
    39: ("thị trấn Khe Tre", "xã Hương Phú", "xã Thượng Long", "xã Hương Lộc", "xã Thượng Quảng"),
    40: (
        "phường Đông Ba",
        "phường Gia Hội",
        "phường Kim Long",
        "phường Hương Long",
        "phường Tây Lộc",
        "phường Thuận Hòa",
    ),
    41: (
        "phường Phú Hội",
        "phường Phú Nhuận",
        "phường Vĩnh Ninh",
        "phường An Cựu",
        "phường Xuân Phú",
        "phường Vỹ Dạ",
    ),
}

# The 40 communes of the two-tier city from 2025-07-01 (Resolution 1675/NQ-UBTVQH15).
COMMUNES_AFTER_REFORM: tuple[str, ...] = (
    "phường Phú Xuân",
    "phường Kim Long",
    "phường Vỹ Dạ",
    "phường Thuận Hóa",
    "phường An Cựu",
    "phường Thủy Xuân",
    "phường Hương An",
    "phường Hóa Châu",
    "phường Phú Bài",
    "phường Thanh Thủy",
    "phường Hương Thủy",
    "phường Hương Trà",
    "phường Kim Trà",
    "phường Phong Điền",
    "phường Phong Thái",
    "phường Phong Dinh",
    "phường Phong Phú",
    "phường Phong Quảng",
    "phường Thuận An",
    "phường Mỹ Thượng",
    "phường Dương Nỗ",
    "xã Đan Điền",
    "xã Quảng Điền",
    "xã Phú Vinh",
    "xã Phú Hồ",
    "xã Phú Vang",
    "xã Vinh Lộc",
    "xã Hưng Lộc",
    "xã Lộc An",
    "xã Phú Lộc",
    "xã Chân Mây - Lăng Cô",
    "xã Long Quảng",
    "xã Nam Đông",
    "xã Khe Tre",
    "xã Bình Điền",
    "xã A Lưới 1",
    "xã A Lưới 2",
    "xã A Lưới 3",
    "xã A Lưới 4",
    "xã A Lưới 5",
)
NEW_COMMUNE_BLOCK = 60  # middle part of the new communes' codes: 000.NN.60.H57


def all_units() -> list[Unit]:
    """Every unit of the province's history, in code order."""
    units = [Unit(_dept(n), name, "department", None, start, stop) for n, name, start, stop, _ in DEPARTMENTS]
    for n, name, start, stop in DISTRICTS:
        units.append(Unit(_dept(n), name, "district", None, start, stop))
        for i, commune in enumerate(COMMUNES_BEFORE_REFORM[n], start=1):
            units.append(
                Unit(f"000.{i:02d}.{n}.{PROVINCE}", f"UBND {commune}", "commune", _dept(n), start, stop)
            )
    for i, commune in enumerate(COMMUNES_AFTER_REFORM, start=1):
        code = f"000.{i:02d}.{NEW_COMMUNE_BLOCK}.{PROVINCE}"
        units.append(Unit(code, f"UBND {commune}", "commune", None, REFORM_ON, None))
    return sorted(units, key=lambda u: u.code)


def responsible_department(dept_code: str, on: dt.date) -> str:
    """The department answering for a field on a date: follows mergers to the successor."""
    successor = {_dept(n): (stop, _dept(s)) for n, _, _, stop, s in DEPARTMENTS if s is not None}
    while dept_code in successor and on > successor[dept_code][0]:
        dept_code = successor[dept_code][1]
    return dept_code


@dataclass(frozen=True)
class Field:
    name: str  # lĩnh vực
    department: int  # owner department number in 2024
    tiers: tuple[tuple[str, int], ...]  # (authority tier, number of procedures)
    objects: tuple[str, ...]  # what its procedures are about, for their names
    ministry: str
    origin: str = "provincial"  # or specialized:<system> when a ministry's software handles it
    certification: bool = False


FIELDS: tuple[Field, ...] = (
    Field(
        "Hộ tịch",
        1,
        (("department", 12), ("district", 18), ("commune", 40)),
        (
            "khai sinh",
            "khai tử",
            "kết hôn",
            "nhận cha, mẹ, con",
            "thay đổi, cải chính hộ tịch",
            "giám hộ",
            "trích lục hộ tịch",
        ),
        "Bộ Tư pháp",
        "specialized:hotich",
    ),
    Field(
        "Chứng thực",
        1,
        (("district", 12), ("commune", 14)),
        ("bản sao từ bản chính", "chữ ký", "hợp đồng, giao dịch", "việc sửa đổi hợp đồng"),
        "Bộ Tư pháp",
        certification=True,
    ),
    Field(
        "Lý lịch tư pháp",
        1,
        (("department", 6),),
        ("phiếu lý lịch tư pháp",),
        "Bộ Tư pháp",
        "specialized:lltp",
    ),
    Field(
        "Công chứng, luật sư",
        1,
        (("department", 45),),
        (
            "tổ chức hành nghề công chứng",
            "công chứng viên",
            "tổ chức hành nghề luật sư",
            "luật sư nước ngoài",
        ),
        "Bộ Tư pháp",
    ),
    Field(
        "Thi đua, khen thưởng",
        2,
        (("department", 30), ("district", 10), ("commune", 8)),
        ("danh hiệu thi đua", "bằng khen", "giấy khen"),
        "Bộ Nội vụ",
    ),
    Field(
        "Tôn giáo, tín ngưỡng",
        2,
        (("department", 40), ("district", 12), ("commune", 6)),
        ("hoạt động tôn giáo", "sinh hoạt tôn giáo tập trung", "tổ chức lễ hội tín ngưỡng"),
        "Bộ Nội vụ",
    ),
    Field(
        "Quản lý công sản",
        3,
        (("department", 35), ("district", 8)),
        ("tài sản công", "nhà, đất công"),
        "Bộ Tài chính",
    ),
    Field(
        "Thành lập và hoạt động doanh nghiệp",
        4,
        (("department", 120),),
        ("doanh nghiệp", "chi nhánh, văn phòng đại diện", "địa điểm kinh doanh"),
        "Bộ Kế hoạch và Đầu tư",
    ),
    Field(
        "Thành lập và hoạt động hộ kinh doanh",
        4,
        (("district", 10),),
        ("hộ kinh doanh",),
        "Bộ Kế hoạch và Đầu tư",
    ),
    Field(
        "Đầu tư tại Việt Nam",
        4,
        (("department", 45),),
        ("dự án đầu tư", "chủ trương đầu tư"),
        "Bộ Kế hoạch và Đầu tư",
    ),
    Field(
        "Hoạt động xây dựng",
        5,
        (("department", 60), ("district", 14)),
        ("giấy phép xây dựng", "chứng chỉ hành nghề xây dựng", "thẩm định thiết kế"),
        "Bộ Xây dựng",
    ),
    Field("Nhà ở", 5, (("department", 30),), ("nhà ở xã hội", "nhà ở thương mại"), "Bộ Xây dựng"),
    Field(
        "Đường bộ",
        6,
        (("department", 70), ("district", 6)),
        ("giấy phép lái xe", "đăng ký xe máy chuyên dùng", "giấy phép vận tải"),
        "Bộ Giao thông vận tải",
        "specialized:gplx",
    ),
    Field(
        "Đất đai",
        7,
        (("department", 45), ("district", 25), ("commune", 6)),
        ("giấy chứng nhận quyền sử dụng đất", "chuyển mục đích sử dụng đất", "đăng ký biến động đất đai"),
        "Bộ Tài nguyên và Môi trường",
        "specialized:vbdlis",
    ),
    Field(
        "Môi trường",
        7,
        (("department", 40), ("district", 6)),
        ("giấy phép môi trường", "đánh giá tác động môi trường"),
        "Bộ Tài nguyên và Môi trường",
    ),
    Field(
        "Lao động, việc làm",
        8,
        (("department", 50), ("district", 6)),
        ("giấy phép lao động", "trợ cấp thất nghiệp", "giấy phép cho thuê lại lao động"),
        "Bộ Lao động - Thương binh và Xã hội",
    ),
    Field(
        "Bảo trợ xã hội",
        8,
        (("department", 20), ("district", 18), ("commune", 16)),
        ("trợ giúp xã hội", "cơ sở trợ giúp xã hội"),
        "Bộ Lao động - Thương binh và Xã hội",
    ),
    Field(
        "Người có công",
        8,
        (("department", 40), ("district", 8), ("commune", 10)),
        ("chế độ ưu đãi người có công", "trợ cấp thờ cúng liệt sĩ"),
        "Bộ Lao động - Thương binh và Xã hội",
    ),
    Field(
        "Khám bệnh, chữa bệnh",
        9,
        (("department", 90),),
        ("giấy phép hành nghề khám bệnh, chữa bệnh", "giấy phép hoạt động cơ sở khám bệnh"),
        "Bộ Y tế",
    ),
    Field(
        "Dược phẩm",
        9,
        (("department", 60),),
        ("chứng chỉ hành nghề dược", "giấy chứng nhận đủ điều kiện kinh doanh dược"),
        "Bộ Y tế",
    ),
    Field(
        "Giáo dục và Đào tạo",
        10,
        (("department", 80), ("district", 20), ("commune", 4)),
        ("cơ sở giáo dục", "văn bằng, chứng chỉ", "chuyển trường"),
        "Bộ Giáo dục và Đào tạo",
    ),
    Field(
        "Lưu thông hàng hóa trong nước",
        11,
        (("department", 60), ("district", 10)),
        ("giấy phép bán lẻ rượu", "giấy phép kinh doanh thuốc lá", "cửa hàng xăng dầu"),
        "Bộ Công Thương",
    ),
    Field(
        "Nông nghiệp",
        12,
        (("department", 70), ("district", 10), ("commune", 6)),
        ("giống cây trồng", "thuốc bảo vệ thực vật", "an toàn thực phẩm nông sản", "tàu cá"),
        "Bộ Nông nghiệp và Phát triển nông thôn",
    ),
    Field(
        "Văn hóa, thể thao",
        13,
        (("department", 60), ("district", 8), ("commune", 6)),
        ("biểu diễn nghệ thuật", "karaoke, vũ trường", "câu lạc bộ thể thao", "gia đình văn hóa"),
        "Bộ Văn hóa, Thể thao và Du lịch",
    ),
    Field(
        "Du lịch",
        14,
        (("department", 30),),
        ("thẻ hướng dẫn viên du lịch", "lữ hành", "cơ sở lưu trú"),
        "Bộ Văn hóa, Thể thao và Du lịch",
    ),
    Field(
        "Thông tin, báo chí, xuất bản",
        15,
        (("department", 40), ("district", 4)),
        ("giấy phép xuất bản", "trang thông tin điện tử", "điểm cung cấp dịch vụ trò chơi"),
        "Bộ Thông tin và Truyền thông",
    ),
    Field(
        "Khoa học và công nghệ",
        16,
        (("department", 40),),
        ("tổ chức khoa học và công nghệ", "chuyển giao công nghệ"),
        "Bộ Khoa học và Công nghệ",
    ),
    Field(
        "Quản lý khu kinh tế, khu công nghiệp",
        17,
        (("department", 45),),
        ("dự án trong khu công nghiệp", "giấy phép lao động trong khu kinh tế"),
        "Bộ Kế hoạch và Đầu tư",
    ),
    Field(
        "Ngoại vụ", 18, (("department", 18),), ("đón đoàn nước ngoài", "hội nghị quốc tế"), "Bộ Ngoại giao"
    ),
)

ACTIONS: tuple[str, ...] = (
    "Cấp",
    "Cấp lại",
    "Cấp đổi",
    "Điều chỉnh",
    "Gia hạn",
    "Đăng ký",
    "Xác nhận",
    "Công nhận",
    "Thẩm định",
    "Phê duyệt",
    "Thu hồi",
    "Chấp thuận",
    "Đăng ký thay đổi",
)
