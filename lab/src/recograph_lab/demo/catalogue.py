"""What the TechHeaven demo store sells and who buys it: categories, products, personas, patterns.

Everything here is fixed data (no randomness): the generator turns it into a store. The
catalogue holds 291 products in 40 categories; 20 of them (``new=True``) are the newest
arrivals that nobody has ordered yet. Personas say which categories and brands a kind of
customer favours; bundles are the planted complement patterns (an anchor product pulls
complements into the same order); the follow-up is the planted later purchase (ear cushions a
few months after over-ear headphones). Consumables are the categories customers buy again;
everything else is a durable, bought once (``CONSUMABLES``, ``REPURCHASE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SpecValue = str | int | float | bool


@dataclass(frozen=True)
class Item:
    """One catalogue product; ``name`` is ``f"{brand} {model}"``."""

    brand: str
    model: str
    price: float
    new: bool = False
    specs: tuple[tuple[str, SpecValue], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.brand} {self.model}"


@dataclass(frozen=True)
class Spec:
    """A spec attribute; ordered values run from entry-level to high-end and follow price."""

    attr: str
    values: tuple[SpecValue, ...]
    ordered: bool = True


@dataclass(frozen=True)
class Category:
    """A category: its products (most popular first), spec schema and description vocabulary."""

    name: str
    code: str
    noun: str
    items: tuple[Item, ...]
    specs: tuple[Spec, ...]
    features: tuple[str, ...]
    cost_ratio: tuple[float, float] = (0.6, 0.8)
    qty_weights: tuple[float, ...] = (1.0,)
    brand_specs: Mapping[str, Mapping[str, SpecValue]] = field(
        default_factory=lambda: MappingProxyType({})
    )


def _i(brand: str, model: str, price: float, *, new: bool = False, **specs: SpecValue) -> Item:
    return Item(brand, model, price, new, tuple(specs.items()))


def _s(attr: str, *values: SpecValue, ordered: bool = True) -> Spec:
    return Spec(attr, values, ordered)


def _c(attr: str, *values: SpecValue) -> Spec:
    return Spec(attr, values, ordered=False)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _frozen(mapping: dict[str, dict[str, SpecValue]]) -> Mapping[str, Mapping[str, SpecValue]]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in mapping.items()})


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Laptops",
        "LAP",
        "laptop",
        (
            _i("Apple", "MacBook Air 13 M3", 1099.00, screen_in=13.6),
            _i("Lenovo", "ThinkPad X1 Carbon Gen 12", 1749.00, screen_in=14.0),
            _i("Dell", "XPS 14", 1499.00, screen_in=14.5),
            _i("Apple", "MacBook Pro 14 M3 Pro", 1999.00, screen_in=14.2),
            _i("HP", "EliteBook 840 G11", 1399.00, screen_in=14.0),
            _i("ASUS", "Zenbook 14 OLED", 999.99, screen_in=14.0),
            _i("Lenovo", "IdeaPad Slim 5", 749.99, screen_in=14.0),
            _i("Microsoft", "Surface Laptop 7", 1199.99, screen_in=13.8),
            _i("Acer", "Swift Go 14", 799.99, screen_in=14.0),
            _i("Razer", "Blade 15", 2499.99, screen_in=15.6),
            _i("Dell", "Latitude 7450", 1599.00, screen_in=14.0),
            _i("ASUS", "ProArt P16", 2199.99, new=True, screen_in=16.0),
        ),
        (
            _s(
                "cpu",
                "Intel Core i5-1335U",
                "AMD Ryzen 5 7535U",
                "Intel Core Ultra 5 125U",
                "AMD Ryzen 7 8840HS",
                "Intel Core Ultra 7 155H",
                "Intel Core Ultra 9 185H",
            ),
            _s("ram_gb", 8, 16, 16, 32),
            _s("storage_gb", 256, 512, 1024, 2048),
            _c("weight_kg", 1.13, 1.24, 1.36, 1.49, 1.62),
            _s("battery_wh", 50, 57, 70, 75, 86),
            _s("os", "Windows 11 Home", "Windows 11 Pro"),
        ),
        (
            "A backlit keyboard and a precision glass touchpad make long typing sessions easy.",
            "Thunderbolt and USB-C ports drive external displays and charge the notebook.",
            "The thin aluminium chassis slips into a bag for travel between meetings.",
            "All-day battery life keeps the notebook running through a full workday.",
            "A 1080p webcam with a privacy shutter handles video calls.",
            "The bright anti-glare display is calibrated for sharp text and accurate colour.",
        ),
        cost_ratio=(0.78, 0.9),
        brand_specs=_frozen(
            {
                "Apple": {"cpu": "Apple M3", "os": "macOS"},
                "Razer": {"cpu": "Intel Core i9-13950HX", "gpu": "NVIDIA GeForce RTX 4070"},
            }
        ),
    ),
    Category(
        "Wireless Mice",
        "MOU",
        "wireless mouse",
        (
            _i("Logitech", "MX Master 3S", 99.99),
            _i("Logitech", "MX Anywhere 3S", 79.99),
            _i("Apple", "Magic Mouse", 79.00),
            _i("Lenovo", "ThinkPad Bluetooth Silent Mouse", 34.99),
            _i("Dell", "Premier Rechargeable Mouse MS7421W", 69.99),
            _i("Microsoft", "Surface Arc Mouse", 79.99),
            _i("HP", "930 Creator Wireless Mouse", 69.99),
            _i("Logitech", "Pebble Mouse 2 M350s", 24.99),
            _i("Razer", "Pro Click Mini", 79.99),
            _i("ASUS", "Marshmallow Mouse MD100", 29.99),
        ),
        (
            _s("dpi", 1000, 1600, 2400, 4000, 8000),
            _c("connectivity", "Bluetooth", "Bluetooth + USB receiver"),
            _s("battery_days", 30, 70, 90, 120),
            _s("buttons", 3, 4, 6, 7),
            _c("silent_clicks", True, False),
        ),
        (
            "The sculpted shape supports the hand during long spreadsheet sessions.",
            "A quiet scroll wheel flicks through long documents and web pages.",
            "Pair it over Bluetooth with up to three computers and switch at a button press.",
            "The optical sensor tracks on glass, wood and fabric desks.",
            "USB-C quick charging gives a full day of mousing from one minute on the cable.",
        ),
        cost_ratio=(0.45, 0.62),
    ),
    Category(
        "Mechanical Keyboards",
        "KEY",
        "mechanical keyboard",
        (
            _i("Keychron", "K2 Pro", 99.00),
            _i("Logitech", "MX Mechanical", 169.99),
            _i("Keychron", "Q1 Pro", 199.00),
            _i("Razer", "BlackWidow V4 Pro", 229.99),
            _i("Logitech", "G915 TKL", 229.99),
            _i("Corsair", "K70 RGB Pro", 169.99),
            _i("SteelSeries", "Apex Pro TKL", 189.99),
            _i("HyperX", "Alloy Origins 65", 99.99),
            _i("Ducky", "One 3 SF", 119.00),
            _i("Keychron", "Q1 HE", 219.00, new=True, switches="Gateron magnetic (Hall effect)"),
        ),
        (
            _c("switches", "Gateron Brown", "Gateron Red", "Cherry MX Red", "Cherry MX Brown"),
            _c("layout", "75%", "TKL", "65%", "full-size"),
            _c("hot_swappable", True, False),
            _c("connectivity", "wired USB-C", "2.4 GHz + Bluetooth + USB-C"),
            _s("polling_hz", 1000, 1000, 4000, 8000),
        ),
        (
            "Hot-swappable sockets accept new switches without soldering.",
            "Double-shot PBT keycaps resist shine after years of typing.",
            "Per-key RGB lighting can be remapped with open-source firmware.",
            "Gasket-mounted plates give a soft, muffled typing sound.",
            "Mac and Windows keycaps come in the box.",
        ),
        cost_ratio=(0.5, 0.65),
        brand_specs=_frozen(
            {
                "Razer": {"switches": "Razer Yellow"},
                "SteelSeries": {"switches": "OmniPoint 2.0 adjustable"},
                "Logitech": {"switches": "GL Tactile"},
                "Keychron": {"switches": "Gateron Jupiter Brown"},
                "HyperX": {"switches": "HyperX Red"},
            }
        ),
    ),
    Category(
        "USB-C Hubs & Docks",
        "HUB",
        "USB-C hub",
        (
            _i("Anker", "555 USB-C Hub 8-in-1", 49.99),
            _i("CalDigit", "TS4 Thunderbolt 4 Dock", 399.99),
            _i("Satechi", "USB-C Multiport Adapter V2", 89.99),
            _i("Belkin", "Connect Pro Thunderbolt 4 Dock", 299.99),
            _i("Dell", "WD22TB4 Thunderbolt Dock", 289.99),
            _i("Lenovo", "ThinkPad Universal USB-C Dock", 239.99),
            _i("UGREEN", "Revodok 105 USB-C Hub", 19.99),
            _i("HP", "USB-C Dock G5", 199.00),
        ),
        (
            _s("ports", 5, 7, 8, 11, 18),
            _s("power_delivery_w", 60, 85, 90, 98),
            _s("max_displays", 1, 1, 2, 2),
            _c("hdmi", "HDMI 4K60", "HDMI 4K30", "DisplayPort 1.4 + HDMI"),
            _c("ethernet", True, False),
        ),
        (
            "One cable to the laptop carries power, displays, Ethernet and USB.",
            "Pass-through charging powers the notebook while the hub drives a monitor.",
            "SD and microSD card readers copy photos without a dongle.",
            "A compact aluminium shell stays cool on the desk or in a bag.",
            "Gigabit Ethernet gives a stable wired connection for video calls.",
        ),
        cost_ratio=(0.4, 0.6),
    ),
    Category(
        "Laptop Sleeves",
        "SLV",
        "laptop sleeve",
        (
            _i("Tomtoc", "360 Protective Laptop Sleeve 14", 29.99),
            _i("Bellroy", "Laptop Sleeve 14", 69.00),
            _i("Incase", "Compact Sleeve in Flight Nylon", 49.95),
            _i("Lenovo", "ThinkPad Professional Sleeve 14", 39.99),
            _i("Moshi", "Muse 13 3-in-1 Slim Sleeve", 59.95),
            _i("Dell", "EcoLoop Pro Sleeve 14", 44.99),
            _i("HP", "Renew Business Sleeve 14", 34.99),
        ),
        (
            _c("fits_in", 13, 14, 15, 16),
            _c("material", "recycled polyester", "woven nylon", "vegan leather"),
            _c("padding", "foam corner bumpers", "fleece lining", "shock-absorbing foam"),
            _c("water_resistant", True, False),
        ),
        (
            "Corner armour protects the notebook when the bag is dropped.",
            "A soft microfibre lining keeps the lid free of scratches.",
            "An outer pocket holds the charger, a mouse and cables.",
            "The slim profile slides into a backpack or tote.",
            "Water-repellent fabric shrugs off rain on the commute.",
        ),
        cost_ratio=(0.3, 0.45),
    ),
    Category(
        "External SSDs",
        "SSD",
        "portable SSD",
        (
            _i("Samsung", "T7 Shield 1TB", 109.99, capacity_gb=1000),
            _i("SanDisk", "Extreme Portable SSD V2 1TB", 99.99, capacity_gb=1000),
            _i("Samsung", "T9 2TB", 199.99, capacity_gb=2000),
            _i("SanDisk", "Extreme PRO Portable SSD 2TB", 219.99, capacity_gb=2000),
            _i("Crucial", "X9 Pro 1TB", 94.99, capacity_gb=1000),
            _i("WD", "My Passport SSD 1TB", 89.99, capacity_gb=1000),
            _i("LaCie", "Rugged SSD 2TB", 279.99, capacity_gb=2000),
            _i("Kingston", "XS1000 1TB", 74.99, capacity_gb=1000),
            _i("Crucial", "X10 2TB", 199.99, new=True, capacity_gb=2000),
        ),
        (
            _s("read_mb_s", 1000, 1050, 1050, 2000),
            _s("write_mb_s", 900, 1000, 1000, 2000),
            _c("interface", "USB 3.2 Gen 2", "USB 3.2 Gen 2x2", "USB4"),
            _c("drop_proof_m", 2.0, 3.0),
            _c("hardware_encryption", True, False),
        ),
        (
            "NVMe flash copies a folder of 4K video in seconds.",
            "A rubberised shell survives drops and dusty location shoots.",
            "Hardware AES encryption protects files with a password.",
            "Works with Mac, Windows, iPad and Android phones over USB-C.",
            "Pocket-sized storage for backups and camera footage.",
        ),
        cost_ratio=(0.65, 0.8),
    ),
    Category(
        "Over-Ear Headphones",
        "OEH",
        "pair of over-ear headphones",
        (
            _i(
                "Sony",
                "WH-1000XM5",
                399.99,
                design="closed-back",
                noise_cancelling=True,
                wireless=True,
            ),
            _i(
                "Sennheiser",
                "HD 600",
                399.00,
                design="open-back",
                noise_cancelling=False,
                wireless=False,
            ),
            _i(
                "Bose",
                "QuietComfort Ultra Headphones",
                429.00,
                design="closed-back",
                noise_cancelling=True,
                wireless=True,
            ),
            _i(
                "Audio-Technica",
                "ATH-M50x",
                169.00,
                design="closed-back",
                noise_cancelling=False,
                wireless=False,
            ),
            _i(
                "Sennheiser",
                "HD 650",
                499.00,
                design="open-back",
                noise_cancelling=False,
                wireless=False,
            ),
            _i(
                "Beyerdynamic",
                "DT 770 Pro 80 Ohm",
                159.00,
                design="closed-back",
                noise_cancelling=False,
                wireless=False,
            ),
            _i(
                "HiFiMAN",
                "Sundara",
                349.00,
                design="open-back",
                noise_cancelling=False,
                wireless=False,
            ),
            _i(
                "Sennheiser",
                "Momentum 4 Wireless",
                379.95,
                design="closed-back",
                noise_cancelling=True,
                wireless=True,
            ),
            _i(
                "Apple",
                "AirPods Max",
                549.00,
                design="closed-back",
                noise_cancelling=True,
                wireless=True,
            ),
            _i(
                "Focal",
                "Clear MG",
                1490.00,
                design="open-back",
                noise_cancelling=False,
                wireless=False,
            ),
            _i(
                "Sony",
                "WH-1000XM6",
                449.99,
                new=True,
                design="closed-back",
                noise_cancelling=True,
                wireless=True,
            ),
        ),
        (
            _s("impedance_ohm", 32, 38, 80, 150, 250, 300),
            _s("driver_mm", 40, 42, 45, 50),
        ),
        (
            "Large dynamic drivers deliver a wide, natural soundstage for acoustic recordings.",
            "Replaceable velour ear pads and headband keep the headphones going for years.",
            "A detachable cable can be swapped for a balanced lead.",
            "Active noise cancelling quiets trains and open-plan offices.",
            "Studio-grade tuning reveals detail in vocals and strings.",
            "Plush memory-foam cushions stay comfortable through long listening sessions.",
        ),
        cost_ratio=(0.6, 0.75),
    ),
    Category(
        "In-Ear Headphones",
        "IEH",
        "pair of in-ear headphones",
        (
            _i("Apple", "AirPods Pro 2", 249.00),
            _i("Soundcore", "Liberty 4 NC", 99.99),
            _i("Sony", "WF-1000XM5", 299.99),
            _i("Samsung", "Galaxy Buds3 Pro", 249.99),
            _i("Shure", "SE215", 99.00),
            _i("Moondrop", "Aria 2", 89.99),
            _i("Sennheiser", "Momentum True Wireless 4", 299.95),
            _i("Bose", "QuietComfort Ultra Earbuds", 299.00),
            _i("Apple", "AirPods Pro 3", 249.00, new=True),
        ),
        (
            _c("type", "true wireless"),
            _s("battery_h", 6, 7, 8, 10),
            _c("noise_cancelling", True),
            _c("water_resistance", "IPX4", "IP54", "IP57"),
            _s("driver_mm", 6, 8, 10, 11),
        ),
        (
            "Silicone and foam ear tips seal out noise on the commute.",
            "The pocketable charging case adds days of playback.",
            "Transparency mode lets announcements through without removing the buds.",
            "Sweat-resistant earbuds stay put during runs and workouts.",
            "Multipoint Bluetooth switches between phone and laptop.",
        ),
        cost_ratio=(0.55, 0.7),
        brand_specs=_frozen(
            {
                "Shure": {"type": "wired IEM", "noise_cancelling": False},
                "Moondrop": {"type": "wired IEM", "noise_cancelling": False},
            }
        ),
    ),
    Category(
        "Headphone Amplifiers",
        "AMP",
        "headphone amplifier",
        (
            _i("Schiit", "Magni+", 119.00),
            _i("JDS Labs", "Atom Amp+", 119.00),
            _i("FiiO", "K7 Desktop DAC/Amp", 199.99),
            _i("Schiit", "Asgard 3", 229.00),
            _i("Topping", "L30 II", 179.00),
            _i("iFi", "Zen Can", 199.00),
            _i("Drop", "+ THX AAA 789 Linear Amplifier", 199.00, topology="THX AAA feed-forward"),
        ),
        (
            _s("output_mw_32ohm", 1000, 1500, 2000, 3500),
            _c("topology", "discrete class-AB", "op-amp"),
            _c("inputs", "RCA", "RCA + 4.4 mm balanced", "RCA + XLR"),
            _c("gain_settings", 2, 3, 4),
            _c("preamp_out", True, False),
        ),
        (
            "Enough clean power to drive 300-ohm studio headphones to full volume.",
            "A dead-quiet background suits sensitive in-ear monitors.",
            "Selectable gain settings match low- and high-impedance headphones.",
            "The stepped volume knob tracks channels evenly at low levels.",
            "Preamp outputs feed powered speakers from the same desktop stack.",
        ),
        cost_ratio=(0.55, 0.7),
    ),
    Category(
        "DACs & Balanced Cables",
        "DAC",
        "DAC or balanced headphone cable",
        (
            _i("Topping", "E30 II DAC", 139.00, kind="desktop DAC", connector="USB-C + optical"),
            _i(
                "Schiit",
                "Modi+ DAC",
                129.00,
                kind="desktop DAC",
                connector="USB + optical + coaxial",
            ),
            _i(
                "Sennheiser",
                "HD 600 Balanced 4.4 mm Cable",
                149.00,
                kind="balanced cable",
                connector="4.4 mm Pentaconn",
                length_m=1.8,
            ),
            _i(
                "FiiO",
                "BTR7 Portable DAC",
                199.99,
                kind="portable DAC",
                connector="USB-C + 4.4 mm balanced",
            ),
            _i("iFi", "Zen DAC V2", 159.00, kind="desktop DAC", connector="USB + 4.4 mm balanced"),
            _i(
                "Beyerdynamic",
                "DT Pro Balanced XLR Cable",
                99.00,
                kind="balanced cable",
                connector="4-pin XLR",
                length_m=3.0,
            ),
            _i(
                "HiFiMAN",
                "Balanced 4.4 mm Cable for Sundara",
                79.00,
                kind="balanced cable",
                connector="4.4 mm Pentaconn",
                length_m=1.5,
            ),
            _i(
                "Moondrop",
                "Dawn Pro USB DAC",
                59.99,
                kind="portable DAC",
                connector="USB-C to 4.4 mm + 3.5 mm",
            ),
        ),
        (
            _s("max_sample_rate_khz", 96, 192, 384, 768),
            _c("mqa", True, False),
        ),
        (
            "A high-resolution DAC chip decodes lossless streams bit-perfect.",
            "Balanced wiring lowers crosstalk for a wider stereo image.",
            "Oxygen-free copper conductors are braided to reject interference.",
            "USB-C bus power means no extra power supply on the desk.",
            "Optical and coaxial inputs connect a TV or CD transport.",
        ),
        cost_ratio=(0.45, 0.65),
    ),
    Category(
        "Headphone Cases",
        "HPC",
        "headphone case",
        (
            _i("Geekria", "UltraShell Headphone Case", 24.99),
            _i("Sony", "WH-1000XM5 Carrying Case", 49.99),
            _i("Sennheiser", "HD 600 Series Travel Case", 59.00),
            _i("Bose", "QuietComfort Ultra Carry Case", 39.00),
            _i("Beyerdynamic", "DT Series Hard Case", 39.00),
            _i("Audio-Technica", "ATH Hard Carrying Case", 34.99),
        ),
        (
            _c("shell", "EVA hard shell", "moulded ABS", "semi-rigid fabric"),
            _s("interior_cm", 22, 24, 25, 27),
            _c("cable_pocket", True, False),
            _c("colour", "black", "grey", "navy"),
        ),
        (
            "A crush-resistant hard shell protects folded headphones in luggage.",
            "Soft velvet lining cradles the ear cups and headband.",
            "An inner mesh pocket keeps cables and adapters tidy.",
            "A carry handle clips to a backpack strap.",
            "Custom-moulded to the headphones so they cannot rattle.",
        ),
        cost_ratio=(0.3, 0.45),
    ),
    Category(
        "Ear Cushions",
        "EAR",
        "set of replacement ear cushions",
        (
            _i("Sennheiser", "HD 600 Replacement Ear Pads", 49.00),
            _i("Sony", "WH-1000XM5 Replacement Ear Pads", 29.99),
            _i("Dekoni", "Elite Velour Ear Pads", 69.00),
            _i("Bose", "QuietComfort Ultra Ear Cushion Kit", 35.00),
            _i("Beyerdynamic", "EDT 770 V Velour Ear Pads", 29.00),
            _i("Audio-Technica", "ATH-M50x Replacement Ear Pads", 25.00),
            _i("HiFiMAN", "Sundara Hybrid Ear Pads", 45.00),
            _i("Brainwavz", "Sheepskin Leather Ear Pads", 39.99),
        ),
        (
            _c("material", "velour", "protein leather", "sheepskin", "hybrid velour/leather"),
            _c("shape", "oval", "round", "angled"),
            _s("thickness_mm", 18, 20, 22, 25),
            _c("memory_foam", True),
        ),
        (
            "Fresh memory foam restores the seal and bass of worn-out pads.",
            "Breathable velour keeps ears cool through long sessions.",
            "The pads clip onto the original baffle in a minute, no tools needed.",
            "Replacing flattened cushions brings back the original comfort.",
            "Sold as a pair, cut to the original dimensions.",
        ),
        cost_ratio=(0.25, 0.4),
        qty_weights=(0.82, 0.18),
    ),
    Category(
        "Gaming Mice",
        "GMS",
        "gaming mouse",
        (
            _i("Logitech", "G Pro X Superlight 2", 159.00),
            _i("Razer", "DeathAdder V3 Pro", 149.99),
            _i("Razer", "Viper V3 Pro", 159.99),
            _i("SteelSeries", "Aerox 5 Wireless", 139.99),
            _i("Logitech", "G502 X Plus", 159.99),
            _i("Glorious", "Model O 2 Wireless", 99.99),
            _i("HyperX", "Pulsefire Haste 2 Wireless", 89.99),
            _i("ASUS", "ROG Keris II Ace", 149.99),
            _i("Razer", "DeathAdder V4 Pro", 169.99, new=True),
        ),
        (
            _s("sensor_dpi", 16000, 26000, 30000, 32000, 42000),
            _s("weight_g", 89, 74, 63, 60, 54),
            _s("polling_hz", 1000, 1000, 4000, 8000),
            _c("wireless", True),
            _c("shape", "ergonomic right-handed", "symmetrical"),
        ),
        (
            "A flawless optical sensor tracks flick shots without acceleration.",
            "Ultralight shell cuts fatigue in long FPS matches.",
            "Low-latency wireless is indistinguishable from a cable.",
            "Optical switches register clicks in well under a millisecond.",
            "PTFE feet glide smoothly over cloth and hard mouse pads.",
        ),
        cost_ratio=(0.45, 0.6),
    ),
    Category(
        "Gaming Headsets",
        "GHS",
        "gaming headset",
        (
            _i("HyperX", "Cloud III Wireless", 169.99),
            _i("SteelSeries", "Arctis Nova Pro Wireless", 349.99),
            _i("Razer", "BlackShark V2 Pro", 199.99),
            _i("Logitech", "G Pro X 2 Lightspeed", 249.99),
            _i("Corsair", "HS80 RGB Wireless", 149.99),
            _i("Logitech", "G Astro A50 X", 379.99),
            _i("ASUS", "ROG Delta II", 199.99),
            _i("HyperX", "Cloud Alpha 2 Wireless", 199.99, new=True),
        ),
        (
            _s("driver_mm", 40, 50, 50, 53),
            _c("surround", "Dolby Atmos", "DTS Headphone:X 2.0", "THX Spatial Audio"),
            _c("mic", "detachable boom mic", "retractable boom mic", "flip-to-mute mic"),
            _s("battery_h", 20, 30, 50, 70),
            _c("platforms", "PC / PS5 / Switch", "PC / PS5 / Xbox"),
        ),
        (
            "A noise-cancelling boom mic keeps squad chat clear.",
            "Spatial audio places footsteps precisely in competitive shooters.",
            "Low-latency 2.4 GHz wireless plus Bluetooth for the phone.",
            "Memory-foam cushions and a steel band last through marathon raids.",
            "Onboard dials balance game and chat volume.",
        ),
        cost_ratio=(0.5, 0.65),
    ),
    Category(
        "Gaming Monitors",
        "GMN",
        "gaming monitor",
        (
            _i("MSI", "MAG 274QRF-QD", 299.99),
            _i("ASUS", "ROG Swift PG27AQDM", 899.00),
            _i("LG", "UltraGear 27GR95QE-B", 999.99),
            _i("Alienware", "AW2725DF", 899.99),
            _i("Samsung", "Odyssey OLED G8", 1299.99),
            _i("AOC", "24G2SP", 149.99),
            _i("Corsair", "Xeneon 27QHD240", 999.99),
            _i("ASUS", "ROG Swift OLED PG27UCDM", 1099.00, new=True),
        ),
        (
            _s("refresh_hz", 144, 165, 240, 240, 360),
            _s("panel", "IPS", "Rapid IPS", "OLED", "QD-OLED"),
            _c("resolution", "2560x1440", "1920x1080", "3440x1440"),
            _s("response_ms", 1.0, 1.0, 0.5, 0.03),
            _c("adaptive_sync", "G-Sync compatible", "FreeSync Premium Pro"),
        ),
        (
            "A high refresh rate makes fast shooters look fluid.",
            "Near-instant pixel response removes ghosting from motion.",
            "HDR highlights and deep blacks suit dark game scenes.",
            "Adaptive sync eliminates tearing with any modern graphics card.",
            "A height-adjustable stand keeps the crosshair at eye level.",
        ),
        cost_ratio=(0.7, 0.85),
    ),
    Category(
        "XL Mouse Pads",
        "PAD",
        "extended mouse pad",
        (
            _i("SteelSeries", "QcK XXL", 29.99),
            _i("Razer", "Gigantus V2 XXL", 29.99),
            _i("Logitech", "G840 XL", 49.99),
            _i("Corsair", "MM700 RGB Extended", 59.99),
            _i("HyperX", "Pulsefire Mat XL", 29.99),
            _i("Glorious", "3XL Extended", 39.99),
            _i("ASUS", "ROG Scabbard II", 49.99),
        ),
        (
            _s("width_mm", 900, 900, 930, 1220),
            _s("depth_mm", 400, 400, 410, 610),
            _c("surface", "micro-woven cloth", "speed cloth", "control cloth"),
            _c("rgb", True, False),
        ),
        (
            "A desk-sized surface holds keyboard and mouse with room for wide swipes.",
            "Stitched edges stop fraying after months of play.",
            "A non-slip rubber base keeps the mat from creeping.",
            "Consistent cloth texture gives predictable stopping power.",
            "Water-resistant coating wipes clean after spills.",
        ),
        cost_ratio=(0.3, 0.45),
    ),
    # --- the other 24 categories ------------------------------------------------------------
    Category(
        "Smartphones",
        "PHN",
        "smartphone",
        (
            _i("Apple", "iPhone 16", 799.00),
            _i("Samsung", "Galaxy A55", 449.99),
            _i("Apple", "iPhone 16 Pro", 999.00),
            _i("Samsung", "Galaxy S24 Ultra", 1299.99),
            _i("Google", "Pixel 8a", 499.00),
            _i("Xiaomi", "Redmi Note 13 Pro", 329.99),
            _i("Google", "Pixel 9 Pro", 999.00),
            _i("Google", "Pixel 10 Pro", 999.00, new=True),
        ),
        (
            _s("storage_gb", 128, 256, 256, 512),
            _c("screen_in", 6.1, 6.3, 6.7, 6.8),
            _s("main_camera_mp", 48, 50, 50, 200),
            _s("battery_mah", 3561, 4500, 5000, 5000),
            _c("5g", True),
            _s("os", "Android 14"),
        ),
        (
            "The OLED display is bright enough to read in direct sunlight.",
            "A multi-lens camera system shoots sharp photos at night.",
            "Fast charging tops the battery up over a coffee break.",
            "Years of security updates keep the phone safe.",
            "An IP68 rating protects against dust and a dip in the pool.",
        ),
        cost_ratio=(0.75, 0.88),
        brand_specs=_frozen({"Apple": {"os": "iOS 18"}}),
    ),
    Category(
        "Tablets",
        "TAB",
        "tablet",
        (
            _i("Apple", "iPad (10th generation)", 349.00),
            _i("Amazon", "Fire HD 10", 139.99),
            _i("Apple", "iPad Air 11 M2", 599.00),
            _i("Samsung", "Galaxy Tab S9 FE", 449.99),
            _i("Microsoft", "Surface Pro 11", 999.99),
            _i("Lenovo", "Tab P12", 349.99),
            _i("Apple", "iPad mini (A17 Pro)", 499.00, new=True),
        ),
        (
            _s("storage_gb", 32, 64, 128, 256),
            _c("screen_in", 8.3, 10.1, 10.9, 11.0, 12.7, 13.0),
            _c("stylus_support", True, False),
            _c("cellular", False, True),
            _s("os", "Fire OS", "Android 14", "Windows 11 Home"),
        ),
        (
            "A laminated display makes sketching and note-taking feel natural.",
            "Stereo speakers fill a room for films on the sofa.",
            "The keyboard cover turns it into a light laptop replacement.",
            "Split-screen multitasking runs two apps side by side.",
            "A long-lasting battery covers a flight with films and games.",
        ),
        cost_ratio=(0.72, 0.85),
        brand_specs=_frozen(
            {
                "Apple": {"os": "iPadOS 18"},
                "Amazon": {"os": "Fire OS"},
                "Samsung": {"os": "Android 14"},
                "Lenovo": {"os": "Android 14"},
                "Microsoft": {"os": "Windows 11 Home"},
            }
        ),
    ),
    Category(
        "Cameras",
        "CAM",
        "camera",
        (
            _i("Sony", "Alpha 7 IV", 2499.99, sensor_format="full-frame"),
            _i("Canon", "EOS R50", 679.00, sensor_format="APS-C"),
            _i("Fujifilm", "X-T5", 1699.00, sensor_format="APS-C"),
            _i("Canon", "EOS R6 Mark II", 2499.00, sensor_format="full-frame"),
            _i("Sony", "ZV-E10 II", 999.99, sensor_format="APS-C"),
            _i("GoPro", "HERO13 Black", 399.99, sensor_format="1/1.9-inch"),
            _i("Fujifilm", "X-M5", 799.00, new=True, sensor_format="APS-C"),
        ),
        (
            _s("sensor_mp", 24.2, 26.0, 33.0, 40.2),
            _s("video", "4K30", "4K60", "4K60 10-bit", "6.2K30"),
            _c("ibis", True, False),
            _c("mount", "Sony E", "Canon RF", "Fujifilm X", "Nikon Z"),
        ),
        (
            "Fast hybrid autofocus tracks eyes of people, animals and birds.",
            "In-body stabilisation steadies handheld shots in low light.",
            "A weather-sealed body keeps shooting in rain and dust.",
            "Dual card slots record raw files and JPEG backups at once.",
            "A flip-out screen helps vloggers frame themselves.",
        ),
        cost_ratio=(0.78, 0.9),
        brand_specs=_frozen(
            {
                "Sony": {"mount": "Sony E"},
                "Canon": {"mount": "Canon RF"},
                "Fujifilm": {"mount": "Fujifilm X", "sensor_format": "APS-C"},
                "Nikon": {"mount": "Nikon Z"},
                "GoPro": {"mount": "fixed lens", "sensor_format": "1/1.9-inch"},
            }
        ),
    ),
    Category(
        "Camera Lenses",
        "LNS",
        "camera lens",
        (
            _i("Canon", "RF 50mm F1.8 STM", 199.00),
            _i("Sigma", "18-50mm F2.8 DC DN Contemporary", 549.00),
            _i("Sony", "FE 24-70mm F2.8 GM II", 2299.99),
            _i("Canon", "RF 24-105mm F4L IS USM", 1399.00),
            _i("Fujifilm", "XF 23mm F1.4 R LM WR", 899.00),
            _i("Nikon", "Z 24-120mm f/4 S", 1099.95),
            _i("Sony", "FE 50mm F1.4 GM", 1299.99, new=True),
        ),
        (
            _c("mount", "Sony E", "Canon RF", "Fujifilm X", "Nikon Z"),
            _s("max_aperture", "f/4", "f/2.8", "f/1.8", "f/1.4"),
            _c("stabilised", True, False),
            _s("filter_mm", 43, 55, 67, 77, 82),
            _c("weather_sealed", True, False),
        ),
        (
            "A bright aperture separates portraits from a creamy background.",
            "Linear autofocus motors focus silently for video.",
            "Aspherical elements keep corners sharp wide open.",
            "Fluorine coating repels fingerprints and rain.",
            "A versatile zoom range covers landscapes to portraits.",
        ),
        cost_ratio=(0.7, 0.85),
        brand_specs=_frozen(
            {
                "Sony": {"mount": "Sony E"},
                "Canon": {"mount": "Canon RF"},
                "Fujifilm": {"mount": "Fujifilm X"},
                "Nikon": {"mount": "Nikon Z"},
                "Sigma": {"mount": "Sony E"},
                "Tamron": {"mount": "Sony E"},
            }
        ),
    ),
    Category(
        "Memory Cards",
        "MEM",
        "memory card",
        (
            _i("SanDisk", "Extreme PRO SDXC 128GB", 34.99, capacity_gb=128, format="SDXC"),
            _i("Samsung", "PRO Plus microSDXC 256GB", 27.99, capacity_gb=256, format="microSDXC"),
            _i("SanDisk", "Extreme microSDXC 256GB", 29.99, capacity_gb=256, format="microSDXC"),
            _i("Lexar", "Professional 2000x SDXC 128GB", 69.99, capacity_gb=128, format="SDXC"),
            _i("Kingston", "Canvas Go! Plus 128GB", 17.99, capacity_gb=128, format="SDXC"),
            _i("Sony", "TOUGH SF-G 128GB", 149.99, capacity_gb=128, format="SDXC"),
            _i(
                "ProGrade Digital",
                "CFexpress Type B 256GB",
                249.99,
                capacity_gb=256,
                format="CFexpress Type B",
            ),
        ),
        (
            _s("read_mb_s", 170, 180, 200, 300, 1700),
            _s("video_class", "V30", "V30", "V60", "V90", "VPG400"),
            _c("uhs", "UHS-I", "UHS-II", "PCIe 3.0"),
        ),
        (
            "Sustained write speeds keep up with 4K video and raw bursts.",
            "Temperature-, water- and X-ray-proof for travel.",
            "Includes recovery software for accidentally deleted photos.",
            "Rated for continuous recording in action cameras and drones.",
            "Fast transfers to the computer through a UHS reader.",
        ),
        cost_ratio=(0.4, 0.6),
        qty_weights=(0.7, 0.22, 0.08),
    ),
    Category(
        "Smart Speakers",
        "SPK",
        "smart speaker",
        (
            _i("Amazon", "Echo Dot (5th Gen)", 49.99),
            _i("Google", "Nest Audio", 99.99),
            _i("Amazon", "Echo Show 8", 149.99, display=True),
            _i("Apple", "HomePod mini", 99.00),
            _i("Sonos", "Era 100", 249.00),
            _i("Amazon", "Echo Dot Max", 99.99, new=True),
        ),
        (
            _c("assistant", "Alexa", "Google Assistant", "Siri"),
            _c("display", False),
            _c("matter_hub", True, False),
            _s("drivers", 1, 2, 2, 3),
        ),
        (
            "Voice control runs timers, music and the lights hands-free.",
            "Room-filling sound with surprisingly deep bass for its size.",
            "Acts as a Matter and Thread hub for smart home devices.",
            "Pair two speakers for stereo sound.",
            "A microphone-off switch protects privacy.",
        ),
        cost_ratio=(0.6, 0.78),
        brand_specs=_frozen(
            {
                "Amazon": {"assistant": "Alexa"},
                "Google": {"assistant": "Google Assistant"},
                "Apple": {"assistant": "Siri"},
                "Sonos": {"assistant": "Alexa"},
            }
        ),
    ),
    Category(
        "Smart Lighting",
        "LIT",
        "smart light",
        (
            _i("Philips Hue", "White and Color Ambiance A19 Starter Kit", 199.99),
            _i("TP-Link", "Kasa Smart Bulb KL125", 14.99),
            _i("Govee", "RGBIC LED Strip Lights 10m", 39.99),
            _i("Philips Hue", "Play Light Bar", 139.99),
            _i("LIFX", "Color A19", 44.99),
            _i("Nanoleaf", "Shapes Hexagons", 199.99),
        ),
        (
            _s("lumens", 800, 1100, 1100, 1600),
            _c("colour", "16 million colours", "tunable white"),
            _c("protocol", "Zigbee", "Wi-Fi", "Matter over Thread", "Bluetooth + Wi-Fi"),
            _c("bridge_required", False, True),
        ),
        (
            "Schedules and scenes wake you with a gentle sunrise.",
            "Sync colours to music, films and games.",
            "Control from the app, by voice or with a wireless dimmer.",
            "Energy-efficient LEDs rated for 25,000 hours.",
            "Group lights by room and switch a whole floor at once.",
        ),
        cost_ratio=(0.45, 0.6),
        qty_weights=(0.55, 0.25, 0.1, 0.1),
        brand_specs=_frozen({"Philips Hue": {"protocol": "Zigbee", "bridge_required": True}}),
    ),
    Category(
        "Smart Plugs",
        "PLG",
        "smart plug",
        (
            _i("TP-Link", "Kasa Smart Plug Mini EP10", 12.99),
            _i("Amazon", "Smart Plug", 24.99),
            _i("TP-Link", "Tapo P110 Energy Monitoring Plug", 14.99),
            _i("Meross", "Smart Wi-Fi Plug Mini", 10.99),
            _i("Eve", "Energy (Matter)", 39.95),
            _i("Philips Hue", "Smart Plug", 29.99),
        ),
        (
            _s("max_load_w", 1800, 1800, 3680),
            _c("energy_monitoring", True, False),
            _c("protocol", "Wi-Fi", "Matter over Thread", "Zigbee"),
            _c("away_mode", True, False),
        ),
        (
            "Turn lamps and fans on a schedule or from anywhere.",
            "Energy monitoring shows what each appliance costs to run.",
            "A compact plug that leaves the second socket free.",
            "Works with Alexa, Google Home and Apple Home.",
            "Away mode switches lights randomly while you are on holiday.",
        ),
        cost_ratio=(0.4, 0.55),
        qty_weights=(0.45, 0.25, 0.12, 0.18),
    ),
    Category(
        "Security Cameras",
        "SEC",
        "security camera",
        (
            _i("TP-Link", "Tapo C210", 29.99),
            _i("Ring", "Stick Up Cam Battery", 99.99),
            _i("Wyze", "Cam v4", 35.98),
            _i("Arlo", "Pro 5S 2K", 249.99),
            _i("Google", "Nest Cam (battery)", 179.99),
            _i("Eufy", "SoloCam S340", 199.99),
            _i("Reolink", "Argus 4 Pro", 199.99),
        ),
        (
            _s("resolution", "1080p", "2K", "2K", "3K", "4K"),
            _c("power", "battery", "wired", "solar"),
            _c("night_vision", "infrared", "colour night vision"),
            _c("local_storage", True, False),
            _c("weatherproof", "IP65", "IP67", "indoor only"),
        ),
        (
            "Person, vehicle and package detection cuts false alerts.",
            "Colour night vision shows who is at the door after dark.",
            "Two-way talk lets you answer visitors from your phone.",
            "Local storage keeps footage without a monthly subscription.",
            "A built-in siren and spotlight scare off intruders.",
        ),
        cost_ratio=(0.55, 0.7),
        qty_weights=(0.75, 0.2, 0.05),
    ),
    Category(
        "Routers",
        "RTR",
        "Wi-Fi router",
        (
            _i("TP-Link", "Archer AX55", 129.99, mesh=False),
            _i("TP-Link", "Deco X55 (3-pack)", 229.99, mesh=True),
            _i("ASUS", "RT-AX86U Pro", 249.99, mesh=False),
            _i("eero", "6+ (3-pack)", 299.99, mesh=True),
            _i("Netgear", "Orbi 770 Series (3-pack)", 999.99, mesh=True),
            _i("TP-Link", "Deco BE63 (2-pack)", 449.99, new=True, mesh=True),
        ),
        (
            _s("wifi", "Wi-Fi 6", "Wi-Fi 6", "Wi-Fi 6E", "Wi-Fi 7"),
            _s("max_speed_mbps", 3000, 4200, 5400, 10000),
            _s("coverage_m2", 150, 280, 420, 740),
            _s("lan_ports", 2, 3, 4, 4),
        ),
        (
            "Mesh nodes blanket a whole house without dead spots.",
            "Tri-band backhaul keeps speeds up between floors.",
            "Built-in parental controls pause the internet at bedtime.",
            "Automatic firmware updates patch security holes.",
            "Gaming acceleration prioritises console traffic.",
        ),
        cost_ratio=(0.6, 0.75),
    ),
    Category(
        "Monitors",
        "MON",
        "monitor",
        (
            _i("Dell", "UltraSharp U2724D", 479.99),
            _i("HP", "E24 G5", 219.00),
            _i("LG", "27UP850-W 4K", 449.99),
            _i("BenQ", "PD2705U", 549.00),
            _i("ASUS", "ProArt PA278QV", 329.00),
            _i("Apple", "Studio Display", 1599.00),
            _i("Dell", "UltraSharp U2725QE", 729.99, new=True),
        ),
        (
            _c("size_in", 24, 27),
            _s("resolution", "1920x1080", "2560x1440", "3840x2160", "5120x2880"),
            _c("usb_c_power_w", 0, 65, 90, 96),
            _s("colour_gamut", "99% sRGB", "95% DCI-P3", "100% sRGB / Rec.709", "P3 wide colour"),
            _c("height_adjustable", True, False),
        ),
        (
            "A single USB-C cable carries video and charges the laptop.",
            "Factory calibration delivers accurate colour for photo editing.",
            "A flicker-free, low-blue-light panel is easy on the eyes all day.",
            "The ergonomic stand tilts, swivels and rotates into portrait.",
            "KVM switching shares one keyboard and mouse between two computers.",
        ),
        cost_ratio=(0.7, 0.85),
    ),
    Category(
        "Webcams",
        "WEB",
        "webcam",
        (
            _i("Logitech", "C920s Pro HD", 69.99),
            _i("Logitech", "Brio 4K", 199.99),
            _i("Anker", "PowerConf C200", 59.99),
            _i("Elgato", "Facecam MK.2", 149.99),
            _i("Razer", "Kiyo Pro", 199.99),
            _i("Insta360", "Link", 299.99),
        ),
        (
            _s("resolution", "1080p30", "1080p60", "2K30", "4K30"),
            _s("field_of_view_deg", 65, 78, 90, 95),
            _c("autofocus", True, False),
            _c("privacy_shutter", True, False),
            _c("ai_tracking", False, True),
        ),
        (
            "Automatic light correction keeps faces well exposed in dim rooms.",
            "Dual stereo microphones pick up voices clearly.",
            "A privacy shutter closes the lens when calls end.",
            "AI framing keeps the speaker centred while moving.",
            "Clips onto laptops and monitors or mounts on a tripod.",
        ),
        cost_ratio=(0.5, 0.65),
    ),
    Category(
        "Microphones",
        "MIC",
        "microphone",
        (
            _i("HyperX", "QuadCast S", 159.99),
            _i("Elgato", "Wave:3", 149.99),
            _i("Rode", "NT-USB+", 169.00),
            _i("Shure", "MV7+", 279.00, type="dynamic"),
            _i("Logitech", "G Yeti GX", 149.99),
            _i("Audio-Technica", "AT2020USB-X", 149.00),
        ),
        (
            _c("type", "condenser"),
            _c("polar_pattern", "cardioid", "supercardioid", "four patterns"),
            _s("bit_depth", 16, 24, 24, 32),
            _c("connection", "USB-C", "USB-C + XLR"),
            _c("headphone_jack", True),
        ),
        (
            "Broadcast-quality vocals for podcasts and streams.",
            "A tap-to-mute sensor with an LED shows when you are live.",
            "Built-in pop filter and shock mount reduce plosives and knocks.",
            "Zero-latency headphone monitoring while recording.",
            "Clipguard prevents distortion when you shout.",
        ),
        cost_ratio=(0.5, 0.65),
    ),
    Category(
        "Printers",
        "PRN",
        "printer",
        (
            _i("Brother", "HL-L2350DW", 179.99, technology="mono laser"),
            _i("HP", "OfficeJet Pro 9015e", 229.99, technology="colour inkjet"),
            _i("Epson", "EcoTank ET-2850", 279.99, technology="ink tank"),
            _i("Canon", "PIXMA G6020 MegaTank", 299.99, technology="ink tank"),
            _i("HP", "LaserJet M110we", 149.99, technology="mono laser"),
            _i("Brother", "MFC-L3780CDW", 499.99, technology="colour laser"),
        ),
        (
            _s("ppm", 20, 22, 30, 32),
            _c("duplex", True, False),
            _c("scanner", True, False),
            _c("wireless", True),
        ),
        (
            "Automatic double-sided printing saves paper.",
            "Refillable ink tanks print thousands of pages for pennies.",
            "Scan to email and cloud straight from the touchscreen.",
            "Print from phones over Wi-Fi Direct and AirPrint.",
            "A 250-sheet tray handles a week of home-office printing.",
        ),
        cost_ratio=(0.7, 0.85),
    ),
    Category(
        "Power Banks",
        "PWB",
        "power bank",
        (
            _i("Anker", "Nano Power Bank 10K", 29.99),
            _i("Xiaomi", "Redmi Power Bank 20000mAh", 24.99),
            _i("Anker", "737 Power Bank 24K", 149.99),
            _i("UGREEN", "Nexode Power Bank 20000mAh 100W", 79.99),
            _i("Belkin", "BoostCharge Pro 10K MagSafe", 59.99),
            _i("Anker", "Prime Power Bank 26K 300W", 249.99, new=True),
        ),
        (
            _s("capacity_mah", 10000, 10000, 20000, 24000, 26250),
            _s("max_output_w", 18, 22.5, 65, 100, 140),
            _c("ports", "2x USB-C + USB-A", "USB-C + USB-A", "3x USB-C"),
            _c("wireless_charging", False, True),
        ),
        (
            "Charges a phone several times over on a weekend away.",
            "Enough USB-C power to top up a laptop on the go.",
            "Airline-safe capacity for carry-on luggage.",
            "A smart display shows remaining charge and watts.",
            "Pass-through charging fills the bank and phone together.",
        ),
        cost_ratio=(0.45, 0.6),
    ),
    Category(
        "Chargers",
        "CHG",
        "charger",
        (
            _i("Anker", "Nano 3 30W", 22.99),
            _i("Apple", "35W Dual USB-C Compact Power Adapter", 59.00),
            _i("UGREEN", "Nexode 65W", 45.99),
            _i("Samsung", "45W Super Fast Charger", 49.99),
            _i("Anker", "Prime 100W GaN", 84.99),
            _i("Belkin", "BoostCharge Pro 3-in-1 MagSafe", 129.99),
            _i("Satechi", "165W USB-C 4-Port GaN", 119.99),
        ),
        (
            _s("max_output_w", 30, 35, 45, 65, 100, 165),
            _s("ports", 1, 2, 3, 4),
            _c("gan", True, False),
            _c("foldable_plug", True, False),
        ),
        (
            "GaN technology packs laptop power into a pocket-sized brick.",
            "Charges a phone, tablet and laptop at the same time.",
            "Smart power allocation protects every device's battery.",
            "A foldable plug travels without scratching screens.",
            "Universal USB Power Delivery works with iPhone, Android and MacBook.",
        ),
        cost_ratio=(0.35, 0.5),
        qty_weights=(0.8, 0.2),
    ),
    Category(
        "Smartwatches",
        "WAT",
        "smartwatch",
        (
            _i("Apple", "Watch Series 10", 399.00),
            _i("Samsung", "Galaxy Watch7", 299.99),
            _i("Google", "Pixel Watch 3", 349.99),
            _i("Apple", "Watch Ultra 2", 799.00),
            _i("Garmin", "Fenix 8", 999.99),
            _i("Apple", "Watch Series 11", 399.00, new=True),
        ),
        (
            _s("case_mm", 41, 42, 45, 47, 49),
            _s("battery_days", 1.5, 2, 5, 14, 16),
            _c("gps", "dual-frequency GPS", "GPS"),
            _c("ecg", True, False),
            _c("lte", False, True),
        ),
        (
            "Notifications, calls and payments right on the wrist.",
            "Heart-rate, sleep and blood-oxygen tracking with health insights.",
            "Precise GPS maps runs, rides and hikes without a phone.",
            "Crash and fall detection can call for help automatically.",
            "Swim-proof to 50 metres for pool and open water.",
        ),
        cost_ratio=(0.7, 0.82),
    ),
    Category(
        "Fitness Trackers",
        "FIT",
        "fitness tracker",
        (
            _i("Xiaomi", "Smart Band 9", 59.99),
            _i("Fitbit", "Charge 6", 159.95),
            _i("Fitbit", "Inspire 3", 99.95),
            _i("Amazfit", "Band 7", 49.99),
            _i("Whoop", "4.0", 239.00, display="none"),
            _i("Xiaomi", "Smart Band 10", 59.99, new=True),
        ),
        (
            _s("battery_days", 5, 7, 10, 14, 21),
            _c("display", "AMOLED"),
            _c("sleep_tracking", True),
            _c("spo2", True, False),
            _c("water_resistance", "5 ATM"),
        ),
        (
            "Counts steps, calories and active minutes all day.",
            "Sleep stages and a morning readiness score guide recovery.",
            "A slim band that is comfortable to wear at night.",
            "Reminds you to move after an hour at the desk.",
            "Automatic workout detection logs walks and runs.",
        ),
        cost_ratio=(0.5, 0.65),
    ),
    Category(
        "E-Readers",
        "ERD",
        "e-reader",
        (
            _i("Amazon", "Kindle Paperwhite", 159.99),
            _i("Amazon", "Kindle", 109.99),
            _i("Kobo", "Clara BW", 129.99),
            _i("Kobo", "Libra Colour", 219.99),
            _i("Amazon", "Kindle Scribe", 339.99, pen_support=True, screen_in=10.2),
            _i("Amazon", "Kindle Colorsoft", 279.99, new=True),
        ),
        (
            _c("screen_in", 6.0, 7.0),
            _s("storage_gb", 16, 16, 32, 64),
            _c("warm_light", True, False),
            _c("waterproof", True, False),
            _c("pen_support", False),
        ),
        (
            "A glare-free E Ink screen reads like paper in bright sun.",
            "Weeks of battery life on a single charge.",
            "Adjustable warm light for reading in bed.",
            "Holds thousands of books and audiobooks.",
            "Waterproof for reading by the pool or in the bath.",
        ),
        cost_ratio=(0.65, 0.8),
    ),
    Category(
        "Projectors",
        "PRJ",
        "projector",
        (
            _i("Nebula", "Capsule 3", 549.99),
            _i("ViewSonic", "M1 Pro", 359.99),
            _i("Epson", "Home Cinema 2350", 1299.99),
            _i("Samsung", "The Freestyle (2nd Gen)", 799.99),
            _i("BenQ", "HT2060", 1499.00),
            _i("XGIMI", "Horizon Ultra", 1699.00),
        ),
        (
            _s("lumens", 300, 550, 2300, 2600),
            _s("resolution", "720p", "1080p", "4K (pixel-shift)"),
            _c("light_source", "LED", "lamp", "laser + LED"),
            _c("smart_tv_os", "Google TV", "Android TV", "Tizen", "none"),
            _c("throw", "standard throw", "short throw"),
        ),
        (
            "A 100-inch picture turns any wall into a cinema.",
            "Automatic keystone and focus set up the image in seconds.",
            "Built-in streaming apps and speakers need no extra box.",
            "Low input lag suits console gaming on a big screen.",
            "Portable enough for a backyard film night.",
        ),
        cost_ratio=(0.7, 0.85),
    ),
    Category(
        "Desk Lamps",
        "LMP",
        "desk lamp",
        (
            _i("BenQ", "ScreenBar Halo", 179.00),
            _i("Xiaomi", "Mi LED Desk Lamp 1S", 49.99),
            _i("TaoTronics", "LED Desk Lamp TT-DL13", 35.99),
            _i("BenQ", "e-Reading LED Desk Lamp", 199.00),
            _i("Philips Hue", "Go Portable Table Lamp", 89.99),
            _i("Dyson", "Solarcycle Morph", 649.99),
        ),
        (
            _s("lux", 500, 800, 1000, 1200),
            _c("colour_temperature_k", "2700-6500", "3000-6500", "2700-6000"),
            _c("auto_dimming", True, False),
            _c("usb_charging_port", True, False),
        ),
        (
            "Asymmetric light illuminates the desk without screen glare.",
            "Adjustable colour temperature from warm to daylight.",
            "An ambient light sensor dims the lamp automatically.",
            "A weighted base and flexible arm stay where you put them.",
            "Flicker-free LEDs reduce eye strain during late work.",
        ),
        cost_ratio=(0.45, 0.6),
    ),
    Category(
        "Office Chairs",
        "CHR",
        "office chair",
        (
            _i("HON", "Ignition 2.0", 389.00),
            _i("Secretlab", "Titan Evo", 549.00),
            _i("Branch", "Ergonomic Chair", 499.00),
            _i("Herman Miller", "Sayl", 795.00),
            _i("Steelcase", "Leap V2", 1399.00),
            _i("Herman Miller", "Aeron", 1805.00),
        ),
        (
            _c("back", "mesh", "fabric", "leatherette"),
            _c("lumbar_support", "adjustable", "fixed", "magnetic"),
            _s("warranty_years", 5, 5, 10, 12),
            _s("adjustments", 4, 6, 8, 10),
            _c("max_load_kg", 113, 125, 136),
        ),
        (
            "Adjustable lumbar support keeps the spine aligned through long days.",
            "A breathable mesh back stays cool in summer.",
            "4D armrests line up with the desk and keyboard.",
            "Synchronous tilt reclines the seat and back together.",
            "Sturdy casters glide on carpet and hard floors.",
        ),
        cost_ratio=(0.6, 0.75),
    ),
    Category(
        "Tripods",
        "TRI",
        "tripod",
        (
            _i("Ulanzi", "MT-44 Extendable Tripod", 24.99),
            _i("Joby", "GorillaPod 3K Kit", 79.95),
            _i("Manfrotto", "Befree Advanced", 229.99),
            _i("SmallRig", "Video Tripod AD-01", 139.00),
            _i("Vanguard", "VEO 3 263CB", 259.99),
            _i("Peak Design", "Travel Tripod Carbon", 649.95),
        ),
        (
            _s("max_height_cm", 100, 143, 150, 152, 165),
            _s("load_kg", 3, 5, 8, 9, 10),
            _c("material", "aluminium", "carbon fibre"),
            _c("head", "ball head", "fluid video head", "pan-tilt head"),
            _s("folded_cm", 48, 43, 40, 39),
        ),
        (
            "Folds down small enough for a carry-on bag.",
            "A smooth ball head locks the camera level in an instant.",
            "Flip locks set the legs up in seconds at sunrise.",
            "Rubber feet grip rocks, sand and slippery floors.",
            "Doubles as a selfie stick for vlogging.",
        ),
        cost_ratio=(0.45, 0.6),
    ),
    Category(
        "Controllers",
        "CTL",
        "game controller",
        (
            _i("Microsoft", "Xbox Wireless Controller", 59.99),
            _i("Sony", "DualSense Wireless Controller", 74.99),
            _i("8BitDo", "Ultimate Bluetooth Controller", 69.99),
            _i("Nintendo", "Switch Pro Controller", 69.99),
            _i("Sony", "DualSense Edge", 199.99),
            _i("Microsoft", "Xbox Elite Wireless Controller Series 2", 179.99),
            _i("Nintendo", "Switch 2 Pro Controller", 84.99, new=True),
        ),
        (
            _c("platform", "Xbox / PC", "PS5 / PC", "Switch / PC", "PC / Android"),
            _s("battery_h", 15, 22, 30, 40),
            _c("hall_effect_sticks", True, False),
            _s("back_buttons", 0, 0, 2, 4),
            _c("wireless", True),
        ),
        (
            "Hall-effect sticks resist drift over years of play.",
            "Remappable back paddles keep thumbs on the sticks.",
            "Textured grips stay secure during long sessions.",
            "Haptic feedback and adaptive triggers add tension to every shot.",
            "Pairs with PC, console and phone over Bluetooth.",
        ),
        cost_ratio=(0.55, 0.7),
        brand_specs=_frozen(
            {
                "Microsoft": {"platform": "Xbox / PC"},
                "Sony": {"platform": "PS5 / PC"},
                "Nintendo": {"platform": "Switch / PC"},
            }
        ),
    ),
)

CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)


@dataclass(frozen=True)
class Bundle:
    """A planted complement pattern: an order built around ``anchor`` pulls in complements.

    ``complements`` maps a category to the probability that an anchor order also contains
    it. Complements of the same brand as the anchor product are ``ANCHOR_BRAND_BOOST`` times
    as likely to be picked, which plants product-level rules (a Lenovo laptop with a Lenovo
    mouse); so are follow-up items of the anchor's brand.
    """

    name: str
    anchor: str
    complements: tuple[tuple[str, float], ...]


ANCHOR_BRAND_BOOST = 8.0


BUNDLES: tuple[Bundle, ...] = (
    Bundle(
        "laptop",
        "Laptops",
        (
            ("Wireless Mice", 0.62),
            ("Mechanical Keyboards", 0.22),
            ("USB-C Hubs & Docks", 0.35),
            ("Laptop Sleeves", 0.33),
            ("External SSDs", 0.22),
        ),
    ),
    Bundle(
        "audio",
        "Over-Ear Headphones",
        (
            ("Headphone Amplifiers", 0.35),
            ("DACs & Balanced Cables", 0.4),
            ("Headphone Cases", 0.45),
        ),
    ),
    Bundle(
        "gaming",
        "Gaming Mice",
        (
            ("Gaming Headsets", 0.45),
            ("Mechanical Keyboards", 0.4),
            ("Gaming Monitors", 0.3),
            ("XL Mouse Pads", 0.55),
        ),
    ),
)


@dataclass(frozen=True)
class FollowUp:
    """A planted later purchase: ``item`` some months after an order containing ``anchor``.

    ``share`` of eligible customers come back after ``days`` (uniform); ``off_share`` of
    those come back at ``off_days`` instead (noise). After each purchase of ``item``,
    ``rebuy_share`` of them buy it again ``rebuy_days`` later (worn pads are replaced), up to
    ``purchases`` purchases in all.
    """

    anchor: str
    item: str
    share: float
    days: tuple[int, int]
    off_share: float
    off_days: tuple[int, int]
    rebuy_share: float
    rebuy_days: tuple[int, int]
    purchases: int


FOLLOW_UP = FollowUp(
    anchor="Over-Ear Headphones",
    item="Ear Cushions",
    share=0.85,
    days=(92, 181),
    off_share=0.08,
    off_days=(40, 300),
    rebuy_share=0.6,
    rebuy_days=(92, 181),
    purchases=3,
)

# Consumables and wear parts, the categories customers buy again: ear pads flatten and crack,
# memory cards fill up or fail (and photographers want spares), chargers get lost or stay at
# the office, mouse pads fray at the edge. Every other category is a durable: customers
# rarely buy a second one within two years and never the same product twice.
CONSUMABLES: frozenset[str] = frozenset(
    {FOLLOW_UP.item, "Memory Cards", "Chargers", "XL Mouse Pads"}
)


@dataclass(frozen=True)
class Repurchase:
    """How customers treat a category they already bought.

    An owned durable keeps ``durable_weight`` of its weight in later ordinary orders (an
    upgrade or a gift now and then); an owned consumable gets ``consumable_weight`` times its
    weight (it wears out). A customer who draws a second order around the same bundle anchor
    keeps it with probability ``second_anchor_share`` (a second laptop), never a third; its
    complements the customer already owns are left out. A consumable bought again is the
    same product as last time with probability ``same_product_share``.
    """

    durable_weight: float
    consumable_weight: float
    second_anchor_share: float
    same_product_share: float


REPURCHASE = Repurchase(
    durable_weight=0.005,
    consumable_weight=1.5,
    second_anchor_share=0.05,
    same_product_share=0.6,
)

# Categories that only enter an order as a bundle anchor or a follow-up, never as filler.
ANCHOR_ONLY: frozenset[str] = frozenset({b.anchor for b in BUNDLES} | {FOLLOW_UP.item})


@dataclass(frozen=True)
class Persona:
    """A latent kind of customer.

    ``categories`` weighs the categories of ordinary orders, ``brands`` are boosted in every
    category, ``bundles`` gives the probability that an order is drawn as one built around
    that bundle's anchor (a customer keeps the first such order, rarely a second: see
    ``REPURCHASE``), and ``price_sensitivity`` (0 = none) tilts choices towards cheaper
    products.
    """

    name: str
    share: float
    categories: Mapping[str, float]
    brands: tuple[str, ...]
    bundles: Mapping[str, float]
    price_sensitivity: float = 0.0

    @property
    def favoured(self) -> frozenset[str]:
        """Categories this persona likes: its own, plus those of the bundles it often buys."""
        liked = set(self.categories)
        for bundle in BUNDLES:
            if self.bundles.get(bundle.name, 0.0) >= 0.15:
                liked.add(bundle.anchor)
                liked.update(c for c, _ in bundle.complements)
                if bundle.anchor == FOLLOW_UP.anchor:
                    liked.add(FOLLOW_UP.item)
        return frozenset(liked)


def _p(
    name: str,
    share: float,
    categories: dict[str, float],
    brands: tuple[str, ...],
    bundles: dict[str, float],
    *,
    price_sensitivity: float = 0.0,
) -> Persona:
    return Persona(
        name,
        share,
        MappingProxyType(categories),
        brands,
        MappingProxyType(bundles),
        price_sensitivity,
    )


PERSONAS: tuple[Persona, ...] = (
    _p(
        "audio_enthusiast",
        0.15,
        {
            "In-Ear Headphones": 3.0,
            "Headphone Amplifiers": 1.0,
            "DACs & Balanced Cables": 1.2,
            "Headphone Cases": 0.6,
            "Smart Speakers": 1.2,
            "Microphones": 0.8,
            "E-Readers": 0.5,
            "Power Banks": 0.6,
        },
        (
            "Sennheiser",
            "Beyerdynamic",
            "HiFiMAN",
            "Focal",
            "Audio-Technica",
            "Schiit",
            "FiiO",
            "Topping",
            "iFi",
            "Dekoni",
            "Shure",
            "Moondrop",
            "Sonos",
        ),
        {"laptop": 0.1, "audio": 0.4, "gaming": 0.01},
    ),
    _p(
        "mobile_professional",
        0.18,
        {
            "Wireless Mice": 3.0,
            "USB-C Hubs & Docks": 1.4,
            "Laptop Sleeves": 1.0,
            "External SSDs": 0.8,
            "Chargers": 2.0,
            "Power Banks": 1.8,
            "Smartphones": 1.3,
            "Tablets": 1.0,
            "Smartwatches": 1.0,
            "In-Ear Headphones": 1.2,
        },
        (
            "Apple",
            "Dell",
            "Lenovo",
            "Logitech",
            "Anker",
            "Belkin",
            "CalDigit",
            "Samsung",
            "Bellroy",
            "Satechi",
            "Microsoft",
        ),
        {"laptop": 0.45, "audio": 0.02, "gaming": 0.01},
    ),
    _p(
        "gamer",
        0.16,
        {
            "Gaming Headsets": 1.0,
            "Mechanical Keyboards": 0.8,
            "Gaming Monitors": 0.6,
            "XL Mouse Pads": 0.8,
            "Controllers": 3.0,
            "Microphones": 1.0,
            "Webcams": 1.0,
            "Routers": 0.6,
        },
        (
            "Razer",
            "Logitech",
            "SteelSeries",
            "Corsair",
            "HyperX",
            "ASUS",
            "Alienware",
            "Glorious",
            "Sony",
            "Microsoft",
        ),
        {"laptop": 0.1, "audio": 0.02, "gaming": 0.42},
    ),
    _p(
        "home_office",
        0.15,
        {
            "Monitors": 2.5,
            "Webcams": 1.6,
            "Printers": 1.6,
            "Desk Lamps": 1.5,
            "Office Chairs": 1.2,
            "Wireless Mice": 3.0,
            "Mechanical Keyboards": 0.6,
            "USB-C Hubs & Docks": 1.0,
            "Microphones": 0.6,
            "Routers": 1.0,
        },
        (
            "Logitech",
            "Dell",
            "HP",
            "BenQ",
            "Herman Miller",
            "Brother",
            "Elgato",
            "Keychron",
            "Steelcase",
        ),
        {"laptop": 0.28, "audio": 0.02, "gaming": 0.01},
    ),
    _p(
        "photographer",
        0.10,
        {
            "Cameras": 1.6,
            "Camera Lenses": 2.4,
            "Memory Cards": 2.4,
            "Tripods": 1.8,
            "External SSDs": 1.2,
            "Monitors": 0.6,
            "Power Banks": 0.5,
        },
        (
            "Canon",
            "Sony",
            "Nikon",
            "Fujifilm",
            "SanDisk",
            "Manfrotto",
            "Peak Design",
            "Lexar",
            "Sigma",
            "Tamron",
        ),
        {"laptop": 0.16, "audio": 0.02, "gaming": 0.01},
    ),
    _p(
        "smart_home",
        0.12,
        {
            "Smart Speakers": 2.6,
            "Smart Lighting": 2.6,
            "Smart Plugs": 2.6,
            "Security Cameras": 2.0,
            "Routers": 1.4,
            "Projectors": 1.0,
            "Tablets": 0.5,
        },
        (
            "Philips Hue",
            "Google",
            "Amazon",
            "Eufy",
            "TP-Link",
            "Arlo",
            "Ring",
            "Sonos",
            "Eve",
            "eero",
        ),
        {"laptop": 0.1, "audio": 0.02, "gaming": 0.01},
    ),
    _p(
        "budget_student",
        0.14,
        {
            "Wireless Mice": 3.0,
            "In-Ear Headphones": 2.0,
            "Power Banks": 1.6,
            "Chargers": 1.6,
            "E-Readers": 1.4,
            "Laptop Sleeves": 0.6,
            "Memory Cards": 0.8,
            "Fitness Trackers": 1.6,
            "Smartphones": 0.6,
            "Tablets": 0.6,
            "Controllers": 0.6,
        },
        (
            "Anker",
            "Xiaomi",
            "Acer",
            "Lenovo",
            "Amazon",
            "Soundcore",
            "UGREEN",
            "Baseus",
            "Amazfit",
            "Kingston",
        ),
        {"laptop": 0.28, "audio": 0.02, "gaming": 0.06},
        price_sensitivity=1.2,
    ),
)

PERSONA_NAMES: tuple[str, ...] = tuple(p.name for p in PERSONAS)

# Share of an ordinary order's source persona that browses the whole shop instead.
RANDOM_ORDER_SHARE = 0.04
# Weight, in a persona's ordinary orders, of a category the persona does not list: where a
# customer who already owns the favourites goes next.
OTHER_CATEGORY_WEIGHT = 0.03
# Categories nearly every customer needs sooner or later, whatever the persona: their weight
# in the ordinary orders of personas that do not list them (not a favoured category).
EVERYDAY: Mapping[str, float] = MappingProxyType({"Wireless Mice": 2.0})


def category_patterns() -> tuple[tuple[str, str], ...]:
    """(antecedent, consequent) category pairs planted at the order level, bundle by bundle."""
    return tuple((b.anchor, c) for b in BUNDLES for c, _ in b.complements)


FIRST_NAMES: tuple[str, ...] = _words(
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia William Amelia "
    "Benjamin Harper Lucas Evelyn Henry Abigail Theodore Emily Jack Ella Levi Elizabeth "
    "Alexander Camila Jackson Luna Mateo Sofia Daniel Avery Michael Mila Mason Aria Sebastian "
    "Scarlett Ethan Penelope Logan Layla Owen Chloe Samuel Victoria Jacob Madison Asher "
    "Eleanor Aiden Grace John Nora Joseph Riley Wyatt Zoey David Hannah Leo Hazel Luke Lily "
    "Julian Ellie Hudson Violet Grayson Lillian Matthew Zoe Ezra Stella Gabriel Aurora Carter "
    "Natalie Isaac Emilia Jayden Everly Luca Leah Anthony Aubrey Dylan Willow Lincoln Addison "
    "Thomas Lucy Maverick Audrey Elias Bella Josiah Nova Charles Brooklyn Caleb Paisley Priya "
    "Arjun Mei Hiroshi Fatima Omar Ingrid Lars Chiara Marco Aisha Kwame Sanjay Yuki Lucia "
    "Diego Anika Tomasz Elif Mehmet"
)

LAST_NAMES: tuple[str, ...] = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Patel Shah Kim Chen Wang Tanaka Sato Muller Schmidt Fischer Rossi Bianchi Novak "
    "Kowalski Jensen Hansen Larsen Dubois Moreau Silva Santos Okafor Mensah Haddad Yilmaz "
    "Kaya Ivanova Murphy Kelly OBrien Byrne Fernandez Costa Nakamura Singh Kumar Ali Hassan "
    "Berg Lindqvist"
)

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")

# Labels for the extra catalogue copies made when scale > 1 (copy 1, 2, ... of every product).
VARIANT_COLOURS: tuple[str, ...] = (
    "Graphite",
    "Silver",
    "Midnight",
    "Arctic White",
    "Forest Green",
    "Ocean Blue",
    "Rose Gold",
    "Crimson",
    "Sand",
    "Slate",
)
VARIANT_EDITIONS: tuple[str, ...] = (
    "",
    "Bundle",
    "Pro Pack",
    "Travel Kit",
    "Starter Kit",
    "Limited Edition",
    "Plus",
    "Open Box",
    "Renewed",
    "Studio Edition",
)
