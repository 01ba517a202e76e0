"""The search-quality benchmark's own briefings, articles and queries.

Written for the benchmark only: none of these sentences may appear in ``tests/fixtures`` (the
unit tests' media), so that the search code cannot be tuned to both at once.

Each video is a list of sentences read by Festival.  A sentence is spelled the way it is
*spoken* (ASCII, numbers as the newsreader says them or as digits Festival expands); the
articles use the spelling a newsroom prints (diacritics, hyphens).  A query says what an
analyst types and which words of the spoken text answer it (``says``: one or more word
sequences that must all occur in one sentence; an empty tuple marks a query that nothing in
the videos answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Video:
    """A spoken briefing to synthesise."""

    slug: str
    sentences: tuple[str, ...]
    colour: str
    # Seconds of silence (low room tone) inserted before sentence number ``silence_before``.
    silence_before: int | None = None
    silence_seconds: float = 0.0
    # Background noise: signal-to-noise ratio in dB over the whole track (None: clean).
    noise_snr_db: float | None = None
    # The harder split (see HARD_VIDEOS): who reads it ("" the default Festival voice, a
    # Festival voice function name, or "espeak:<voice>"), how much faster, and what the
    # line does to it ("telephone": 300-3,400 Hz at 8 kHz; "reverb": a reverberant room).
    voice: str = ""
    tempo: float = 1.0
    effect: str = ""


@dataclass(frozen=True)
class Article:
    """A news article that links one or more of the videos."""

    slug: str
    title: str
    source: str
    published: str
    paragraphs: tuple[str, ...]
    videos: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """What an analyst types, and the spoken words that answer it."""

    text: str
    says: tuple[str, ...] = ()
    kind: str = "name"  # name, phrase, number, compound, negative
    notes: str = ""
    videos: tuple[str, ...] = field(default=())


VIDEOS: tuple[Video, ...] = (
    Video(
        "eastern-front",
        (
            "Good evening, this is the eastern front briefing for Tuesday.",
            "Overnight shelling hit three districts of Kharkiv, and eleven people were injured.",
            "Across the border in Belgorod, officials reported drone strikes on a fuel depot.",
            "Engineers at the Zaporizhzhia nuclear plant say the cooling pumps are working.",
            "The talks on a cease-fire along the Dnipro river have stalled again.",
            "Near Kupiansk, soldiers are rebuilding trenches before the first snow.",
            "The governor, Oleksiy Marchenko, asked families to leave the frontline villages.",
            "Power was restored to forty thousand homes in Sumy by the afternoon.",
        ),
        colour="0x24324a",
    ),
    Video(
        "red-sea",
        (
            "Shipping companies are changing course as attacks continue in the Red Sea.",
            "Two cargo vessels were struck off the port of Hodeidah on Monday night.",
            "Insurers now charge twice as much for ships crossing the Bab el-Mandeb strait.",
            "Many container lines are sending their ships around the Cape of Good Hope.",
            "That detour adds about twelve days to a voyage between Shanghai and Rotterdam.",
            "Traffic through the Suez Canal has fallen by forty percent since January.",
            "A naval task force from Djibouti escorted a convoy of tankers this week.",
            "The harbour master in Port Said, Rashid Al-Mansouri, expects more delays.",
        ),
        colour="0x3a2a1a",
    ),
    Video(
        "sudan",
        (
            "Aid agencies warn that the siege of El Fasher has entered its sixth month.",
            "Food convoys from Port Sudan are waiting at checkpoints near Kassala.",
            "In Khartoum, the main water treatment plant is running on generators.",
            "Doctors in Omdurman say cholera cases doubled in the past fortnight.",
            "The World Food Programme says twenty-five thousand children are malnourished.",
            "A spokeswoman, Amina Yusuf, said trucks need safe passage through Darfur.",
            "Rainy season flooding has cut the road between Nyala and Zalingei.",
            "Talks in Jeddah are expected to resume after the holiday.",
        ),
        colour="0x4a3a24",
    ),
    Video(
        "great-lakes-horn",
        (
            "Fighting around Goma has displaced more families in North Kivu province.",
            "United Nations peacekeepers have withdrawn from two bases near Rutshuru.",
            "In Somalia, an al-Shabaab attack on a hotel in Mogadishu was repelled.",
            "Ethiopian officials say flights to Mekelle in Tigray will resume next month.",
            "The health minister, Nnamdi Okafor, opened a vaccine warehouse in Abuja.",
            "Locust swarms were reported in the Ogaden region for the first time since 2020.",
            "Kenyan police say the border crossing at Mandera reopened this morning.",
            "Ten trucks of seed and fertiliser reached farmers in Kasai.",
        ),
        colour="0x1f4a2f",
    ),
    Video(
        "asia-pacific",
        (
            "In Myanmar, heavy fighting was reported on the outskirts of Mandalay.",
            "Residents of Sittwe in Rakhine state are running short of rice and fuel.",
            "A typhoon is expected to make landfall near Kaohsiung on Thursday evening.",
            "The Philippine coast guard rescued thirty-seven fishermen off Zamboanga.",
            "Flights from Mindanao were grounded as volcanic ash drifted over Davao.",
            "The weather bureau chief, Mei-Ling Tsai, issued a red alert for landslides.",
            "In Jakarta, a new seawall will protect 1.2 million residents from the tides.",
            "Exporters in Ho Chi Minh City say shipping costs have finally eased.",
        ),
        colour="0x2a1f4a",
    ),
    Video(
        "latin-america",
        (
            "The president spoke in Bogota after talks with rebel commanders.",
            "Migrants crossing from Venezuela at Cucuta now wait three days at the bridge.",
            "In Honduras, protests continued outside the congress in Tegucigalpa.",
            "Wildfires near Valparaiso have destroyed more than four hundred homes.",
            "River levels at Iquitos in the Peruvian Amazon are the lowest on record.",
            "The energy minister, Joaquin Restrepo, promised a follow-up report within a week.",
            "Police in Guayaquil say a prison riot was brought under control overnight.",
            "Farmers in Chiapas are asking for drought relief before the planting season.",
        ),
        colour="0x4a1f3a",
    ),
    Video(
        "south-asia",
        (
            "Monsoon rains have flooded large parts of Sindh and southern Punjab.",
            "In Peshawar, schools will stay closed until the water recedes.",
            "Rescue teams near Quetta are searching for survivors after a landslide.",
            "Officials in Balochistan say 1,500 villages have lost road access.",
            "Across the border, Rohingya refugees in Cox's Bazar face a new fire season.",
            "The port of Chittagong resumed loading after a two-day strike.",
            "Relief planes landed at Gilgit carrying tents and water-purification kits.",
            "Our correspondent, Siobhan Gallagher, will report from Karachi tomorrow.",
        ),
        colour="0x1f3a4a",
    ),
    Video(
        "brussels-press",
        (
            "At a press conference in Brussels, ministers agreed a new sanctions package.",
            "The package targets long-range missile parts and shadow fleet tankers.",
            "The foreign minister of Lithuania spoke to reporters in Vilnius after the vote.",
            "The European Parliament in Strasbourg will debate the plan next week.",
            "Polish officials, led by Tomasz Wisniewski, want stricter checks at the border.",
            "A spokeswoman, Ingrid Halvorsen, said Norway would join patrols in the Baltic.",
            "Fishermen in Gdansk are worried about damaged undersea cables.",
            "The next meeting is planned for Thessaloniki in the middle of March.",
        ),
        colour="0x3a3a3a",
    ),
    Video(
        "syria-bulletin",
        (
            "This is a short bulletin from northeastern Syria.",
            "Clashes were reported overnight in Deir ez-Zor province.",
            "Humanitarian groups in Raqqa say bread prices have tripled.",
            "The crossing at Semalka remains closed to aid trucks.",
            "We are back after a break in transmission.",
            "In Aleppo, engineers restored the main water line to the eastern districts.",
            "Kurdish officials in Qamishli called for an independent investigation.",
            "That is the end of this bulletin.",
        ),
        colour="0x202020",
        silence_before=4,
        silence_seconds=40.0,
    ),
    Video(
        "caribbean-storm",
        (
            "Hurricane Odalys is moving north after crossing the Windward Passage.",
            "In Port-au-Prince, families are sheltering in schools and churches.",
            "Power lines are down across Kingston, and the airport is closed.",
            "Forecasters in Miami expect winds of one hundred and twenty miles an hour.",
            "The Dominican Republic has opened shelters in Santo Domingo and Barahona.",
            "Fishing boats in Guadeloupe were moved to the inner harbour.",
            "A relief flight from Curacao will land when the storm has passed.",
            "Our reporter, Aroha Ngata, is on the line from Nassau.",
        ),
        colour="0x1a3a3a",
        noise_snr_db=12.0,
    ),
)


ARTICLES: tuple[Article, ...] = (
    Article(
        "kharkiv-shelling",
        "Shelling in Kharkiv injures eleven as Belgorod reports drone strikes",
        "Northern Ledger",
        "2026-11-03",
        (
            "Russian shelling struck three districts of Kharkiv overnight, regional governor "
            "Oleksiy Marchenko said, while officials in Belgorod reported strikes on a fuel "
            "depot.",
            "Staff at the Zaporizhzhia nuclear power plant said the cooling systems were "
            "stable. Talks on a ceasefire along the Dnipro have made no progress.",
            "Troops near Kupiansk are digging in before winter; in Sumy, electricity returned "
            "to most homes. Families from Mariupol who fled in 2022 are watching closely.",
        ),
        ("eastern-front",),
    ),
    Article(
        "front-evening-roundup",
        "Evening roundup: what our correspondents saw today",
        "Meridian Wire",
        "2026-11-03",
        (
            "Our correspondents report from along the front line. Watch the full evening "
            "briefing below.",
        ),
        ("eastern-front",),
    ),
    Article(
        "red-sea-detours",
        "Red Sea attacks push shipping lines around the Cape",
        "Coastal Times",
        "2026-10-21",
        (
            "Two freighters were hit near Hodeidah, the Yemeni port held by the Houthis, and "
            "insurers raised premiums for transits of the Bab el-Mandeb.",
            "Carriers are diverting vessels around the Cape of Good Hope, adding days to "
            "Asia–Europe routes; Suez Canal revenue has dropped sharply.",
            "Warships based in Djibouti escorted tankers, and Port Said's harbour master, "
            "Rashid al-Mansouri, warned of further delays.",
        ),
        ("red-sea",),
    ),
    Article(
        "sudan-siege",
        "Siege of El Fasher enters sixth month as cholera spreads",
        "Meridian Wire",
        "2026-10-28",
        (
            "Aid convoys from Port Sudan are stuck at checkpoints near Kassala, and doctors in "
            "Omdurman report a doubling of cholera cases.",
            "In Khartoum, the water plant relies on generators. WFP spokeswoman Amina Yusuf "
            "called for safe passage through Darfur; the road from Nyala to Zalingei is cut.",
            "Negotiators are due back in Jeddah after the holiday.",
        ),
        ("sudan",),
    ),
    Article(
        "africa-desk",
        "Africa desk: the week in video",
        "Northern Ledger",
        "2026-11-10",
        (
            "Our Africa desk's weekly video covers conflict, health and farming news from "
            "across the continent. Correspondents in Nairobi and Lagos contributed.",
        ),
        ("great-lakes-horn",),
    ),
    Article(
        "asia-typhoon",
        "Typhoon heads for Kaohsiung as fighting nears Mandalay",
        "Coastal Times",
        "2026-11-06",
        (
            "Taiwan's weather bureau under Mei-Ling Tsai issued a red alert as the typhoon "
            "approached Kaohsiung. In Myanmar, fighting reached the outskirts of Mandalay and "
            "Sittwe in Rakhine state is short of rice.",
            "The Philippine coast guard rescued fishermen off Zamboanga; ash over Davao "
            "grounded flights from Mindanao. Jakarta's sea wall project moves ahead, and "
            "exporters in Ho Chi Minh City see lower freight costs.",
        ),
        ("asia-pacific",),
    ),
    Article(
        "latam-bogota",
        "Talks in Bogotá; wildfires near Valparaíso",
        "Meridian Wire",
        "2026-11-12",
        (
            "The president met rebel commanders in Bogotá. At Cúcuta, migrants from Venezuela "
            "face long waits, and protesters gathered in Tegucigalpa.",
            "Fires near Valparaíso destroyed hundreds of homes, Iquitos recorded its lowest "
            "river level, and energy minister Joaquín Restrepo promised a follow-up report.",
            "Guayaquil police ended a prison riot; Chiapas farmers seek drought relief.",
        ),
        ("latin-america",),
    ),
    Article(
        "monsoon-video",
        "Watch: monsoon floods and a landslide",
        "Northern Ledger",
        "2026-09-14",
        (
            "Our correspondent's video report on the monsoon: floods, closed schools and "
            "rescue teams at work after a landslide.",
        ),
        ("south-asia",),
    ),
    Article(
        "sanctions-package",
        "EU ministers agree new sanctions package",
        "Coastal Times",
        "2026-11-18",
        (
            "Ministers meeting in Brussels targeted long-range missile components and the "
            "shadow fleet. Lithuania's foreign minister spoke in Vilnius after the vote.",
            "Tomasz Wiśniewski of Poland called for stricter border checks; Norway's "
            "spokeswoman Ingrid Halvorsen confirmed Baltic patrols. Fishermen in Gdańsk fear "
            "for undersea cables. The next meeting is in Thessaloniki.",
        ),
        ("brussels-press",),
    ),
    Article(
        "baltic-patrols",
        "Norway to join Baltic patrols",
        "Northern Ledger",
        "2026-11-19",
        (
            "Norway will send two ships to the Baltic patrols, a spokeswoman said at the "
            "press conference shown in this video.",
        ),
        ("brussels-press",),
    ),
    Article(
        "syria-bulletin",
        "Bulletin from northeastern Syria",
        "Meridian Wire",
        "2026-10-30",
        (
            "The latest bulletin from our team in the northeast, interrupted by a break in "
            "transmission.",
        ),
        ("syria-bulletin",),
    ),
    Article(
        "hurricane-odalys",
        "Hurricane Odalys batters Haiti and Jamaica",
        "Coastal Times",
        "2026-09-02",
        (
            "Hurricane Odalys crossed the Windward Passage. Families in Port-au-Prince took "
            "shelter, Kingston lost power, and forecasters in Miami warned of fierce winds.",
            "Shelters opened in Santo Domingo and Barahona; boats in Guadeloupe moved inland "
            "and a relief flight waits in Curaçao. Aroha Ngata reports from Nassau.",
        ),
        ("caribbean-storm",),
    ),
    Article(
        "storm-season",
        "Storm season: the week's briefings",
        "Meridian Wire",
        "2026-09-03",
        (
            "Two briefings from the storm belt and the Red Sea, with our reporters on the "
            "ground. Also this week: an earthquake drill in Tripoli and elections in "
            "Montevideo.",
        ),
        ("caribbean-storm", "red-sea"),
    ),
)


def _q(text: str, *says: str, kind: str = "name", notes: str = "") -> Query:
    return Query(text=text, says=tuple(says) if says else (text,), kind=kind, notes=notes)


def _neg(text: str, notes: str = "") -> Query:
    return Query(text=text, says=(), kind="negative", notes=notes)


QUERIES: tuple[Query, ...] = (
    # eastern-front
    _q("Kharkiv"),
    _q("Belgorod"),
    _q("Zaporizhzhia nuclear", "Zaporizhzhia nuclear"),
    _q("ceasefire", "cease-fire", kind="compound"),
    _q('"cease fire" Dnipro', "cease-fire", "Dnipro", kind="compound"),
    _q("11 people injured", "eleven people", "injured", kind="number"),
    _q("Kupiansk"),
    _q("Oleksiy Marchenko"),
    _q('"front line villages"', "frontline villages", kind="compound"),
    _q("40000 homes", "forty thousand homes", kind="number"),
    _q("Sumy"),
    # red-sea
    _q("Hodeidah"),
    _q("Bab el-Mandeb"),
    _q('"Cape of Good Hope"', "Cape of Good Hope", kind="phrase"),
    _q("12 days", "twelve days", kind="number"),
    _q('"Suez Canal"', "Suez Canal", kind="phrase"),
    _q("40%", "forty percent", kind="number"),
    _q("Djibouti"),
    _q("Al Mansouri", "Al-Mansouri"),
    _q("Shanghai Rotterdam", "Shanghai", "Rotterdam"),
    # sudan
    _q("El Fasher"),
    _q('"Port Sudan"', "Port Sudan"),
    _q("Kassala"),
    _q("Khartoum"),
    _q("Omdurman cholera", "Omdurman", "cholera"),
    _q("25,000 children", "twenty-five thousand children", kind="number"),
    _q("Amina Yusuf"),
    _q("Darfur"),
    _q("Zalingei"),
    _q("Jeddah"),
    # great-lakes-horn
    _q("Goma"),
    _q('"North Kivu"', "North Kivu"),
    _q("peace keepers", "peacekeepers", kind="compound"),
    _q("Rutshuru"),
    _q("al Shabaab Mogadishu", "al-Shabaab", "Mogadishu", kind="compound"),
    _q("Mekelle Tigray", "Mekelle", "Tigray"),
    _q("Nnamdi Okafor"),
    _q("Ogaden locusts", "Locust", "Ogaden"),
    _q("Mandera"),
    _q("10 trucks", "ten trucks", kind="number"),
    # asia-pacific
    _q("Mandalay"),
    _q("Sittwe"),
    _q("Rakhine"),
    _q("Kaohsiung"),
    _q("37 fishermen", "thirty-seven fishermen", kind="number"),
    _q("Zamboanga"),
    _q("Mindanao"),
    _q("Mei-Ling Tsai"),
    _q("1.2 million", "1.2 million", kind="number"),
    _q("sea wall Jakarta", "seawall", "Jakarta", kind="compound"),
    _q('"Ho Chi Minh City"', "Ho Chi Minh City", kind="phrase"),
    # latin-america
    _q("Bogotá", "Bogota"),
    _q("Cúcuta", "Cucuta"),
    _q("Tegucigalpa"),
    _q("Valparaíso", "Valparaiso"),
    _q("400 homes", "four hundred homes", kind="number"),
    _q("Iquitos"),
    _q("Joaquín Restrepo", "Joaquin Restrepo"),
    _q("followup report", "follow-up report", kind="compound"),
    _q("Guayaquil"),
    _q("Chiapas drought", "Chiapas", "drought"),
    # south-asia
    _q("Sindh"),
    _q("Peshawar"),
    _q("Quetta"),
    _q("Balochistan"),
    _q("1500 villages", "1,500 villages", kind="number"),
    _q("Rohingya"),
    _q("Cox's Bazar"),
    _q("Chittagong"),
    _q('"two day strike"', "two-day strike", kind="compound"),
    _q("Gilgit"),
    _q("water purification", "water-purification", kind="compound"),
    _q("Siobhan Gallagher"),
    # brussels-press
    _q('"press conference" Brussels', "press conference", "Brussels", kind="phrase"),
    _q('"sanctions package"', "sanctions package", kind="phrase"),
    _q("longrange missile", "long-range missile", kind="compound"),
    _q("Vilnius"),
    _q("Strasbourg"),
    _q("Tomasz Wiśniewski", "Tomasz Wisniewski"),
    _q("Ingrid Halvorsen"),
    _q("Gdańsk", "Gdansk"),
    _q("Thessaloniki"),
    # syria-bulletin (long silence in the middle)
    _q("Deir ez-Zor", "Deir ez-Zor"),
    _q("Raqqa bread", "Raqqa", "bread"),
    _q("Semalka"),
    _q("Aleppo"),
    _q("Qamishli"),
    _q('"break in transmission"', "break in transmission", kind="phrase"),
    # caribbean-storm (background noise)
    _q("Odalys"),
    _q('"Windward Passage"', "Windward Passage", kind="phrase"),
    _q("Port-au-Prince"),
    _q("Kingston airport", "Kingston", "airport"),
    _q("120 miles", "one hundred and twenty miles", kind="number"),
    _q('"Santo Domingo"', "Santo Domingo"),
    _q("Barahona"),
    _q("Guadeloupe"),
    _q("Curaçao", "Curacao"),
    _q("Aroha Ngata"),
    _q("Nassau"),
    # Nothing in the videos answers these (some are in the articles' text only).
    _neg("Mariupol", "article text only"),
    _neg("Houthis", "article text only"),
    _neg("Montevideo", "article text only"),
    _neg("earthquake Tripoli", "article text only"),
    _neg("Benghazi"),
    _neg("Kherson"),
    _neg('"thank you for watching"', "a classic Whisper hallucination on silence"),
    _neg("subscribe", "a classic Whisper hallucination on silence"),
)


# -- the harder split ---------------------------------------------------------------------------
# Other voices (Festival's diphone voices, espeak-ng), faster speech, telephone-band and
# reverberant audio, and names from more regions.  Kept apart from the corpus above, whose
# figures stay comparable from run to run.

HARD_VIDEOS: tuple[Video, ...] = (
    Video(
        "sahel-fast",
        (
            "Good morning, this is the Sahel desk with the latest reports.",
            "Displaced families are arriving in Maiduguri from villages near the lake.",
            "In Ouagadougou, the government announced a new curfew for the capital.",
            "Fuel trucks from Bamako were stopped at a checkpoint overnight.",
            "Aid flights to Niamey will resume once the runway is repaired.",
            "Our correspondent in Kidal says the market reopened on Friday.",
        ),
        colour="0x3a2a10", voice="voice_kal_diphone", tempo=1.25,
    ),
    Video(
        "central-asia-phone",
        (
            "We are joined by telephone from our bureau in the region.",
            "Border guards near Khujand reported a clash with smugglers.",
            "The road from Osh to the capital has been closed by landslides.",
            "Cargo at the river port of Termez is piling up again.",
            "Ministers met in Dushanbe to discuss water sharing.",
            "Flights out of Bishkek were delayed by heavy snow.",
        ),
        colour="0x10303a", voice="voice_ked_diphone", effect="telephone",
    ),
    Video(
        "pacific-hall",
        (
            "This is the Pacific report, recorded at the regional forum.",
            "Leaders gathered in Honiara for the opening session.",
            "A cyclone warning is in force for Port Vila and the northern islands.",
            "Officials in Nukualofa say the ferry service will restart next week.",
            "Students in Suva marched for climate action on Thursday.",
            "The fisheries deal was signed in Apia after long talks.",
        ),
        colour="0x103a20", voice="espeak:en-us+m3", effect="reverb",
    ),
    Video(
        "levant-phone-fast",
        (
            "Our reporter is on the line with the morning update.",
            "Security forces in Sulaymaniyah arrested four suspects.",
            "Camps near Hasakah are short of clean water and medicine.",
            "Shelling was reported on the outskirts of Idlib before dawn.",
            "The crossing at Deraa reopened for returning families.",
            "Fishermen in Tartus say fuel prices have doubled.",
        ),
        colour="0x302020", effect="telephone", tempo=1.2,
    ),
    Video(
        "andes-ocean-gb",
        (
            "Here is a round-up of the stories from our other bureaus.",
            "Farmers near Quetzaltenango lost their harvest to frost.",
            "Protesters in Cochabamba blocked the main highway.",
            "The port of Trincomalee expects a new container terminal.",
            "Families in Jaffna are waiting for news of the missing.",
            "Talks in Chisinau ended without an agreement.",
        ),
        colour="0x202a3a", voice="espeak:en-gb", tempo=1.15,
    ),
    Video(
        "lakes-reverb",
        (
            "This briefing comes from the east of the region.",
            "River traffic at Kisangani has resumed after the floods.",
            "Doctors in Bukavu are treating more cholera patients.",
            "The storm damaged the port of Beira and the rail line.",
            "Fighting near Pemba forced the aid agencies to withdraw.",
            "A new rail link to Przemysl will carry grain to the coast.",
        ),
        colour="0x2a3a10", voice="voice_kal_diphone", effect="reverb",
    ),
)

HARD_ARTICLES: tuple[Article, ...] = (
    Article("hard-west", "Sahel and Levant: the week in video", "Meridian Wire", "2026-11-21",
            ("Reports from Maiduguri, Ouagadougou and Bamako; calls from Sulaymaniyah and "
             "Hasakah.",), ("sahel-fast", "levant-phone-fast")),
    Article("hard-east", "Bureau reports: Central Asia and the Pacific", "Coastal Times",
            "2026-11-22", ("Our bureaus in Dushanbe and Honiara report.",),
            ("central-asia-phone", "pacific-hall")),
    Article("hard-south", "Round-up: Andes, Indian Ocean, Great Lakes", "Northern Ledger",
            "2026-11-23", ("Frost near Quetzaltenango; floods at Kisangani.",),
            ("andes-ocean-gb", "lakes-reverb")),
)

HARD_QUERIES: tuple[Query, ...] = (
    _q("Maiduguri"), _q("Ouagadougou"), _q("Bamako"), _q("Niamey"), _q("Kidal"),
    _q("Khujand"), _q("Osh"), _q("Termez"), _q("Dushanbe"), _q("Bishkek"),
    _q("Honiara"), _q('"Port Vila"', "Port Vila"), _q("Nukualofa"), _q("Suva"), _q("Apia"),
    _q("Sulaymaniyah"), _q("Hasakah"), _q("Idlib"), _q("Deraa"), _q("Tartus"),
    _q("Quetzaltenango"), _q("Cochabamba"), _q("Trincomalee"), _q("Jaffna"), _q("Chisinau"),
    _q("Kisangani"), _q("Bukavu"), _q("Beira"), _q("Pemba"), _q("Przemysl"),
    _q("cyclone warning", "cyclone warning", kind="phrase"),
    _q("container terminal", "container terminal", kind="phrase"),
    _neg("Mosul"), _neg("Timbuktu"), _neg("Samarkand"),
)
