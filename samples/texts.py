"""Article texts for the sample corpus: ECB+ detokenisation, seed-page parsing, written texts.

Everything here is a pure function of its input (no I/O, no clock, no randomness except through
an explicitly passed ``random.Random``).
"""

# The sample texts use typographic quotes and dashes on purpose.
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A headline and body paragraphs, plus where they came from."""

    title: str
    paragraphs: tuple[str, ...]
    source: str  # "seed" | "ecbplus:<doc>" | "written"
    story: str | None = None  # story (event) id, e.g. "north-korea-kursk" or "ecbplus:1_ecb"

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


# --------------------------------------------------------------------------------------------
# ECB+ detokenisation
# --------------------------------------------------------------------------------------------

_ATTACH_LEFT = {",", ".", ":", ";", "!", "?", "%", ")", "]", "''", "”", "...", "…"}
_ATTACH_RIGHT = {"(", "[", "``", "“", "‘", "$", "#", "£", "€"}
_CLITICS = {"s", "t", "m", "re", "ll", "ve", "d"}
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|january|february|march|april|june|july|"
    "august|september|october|november|december"
)
_DATE_LINE = re.compile(
    rf"^(?:(?:updated|posted|published|last updated)\b.*|.*\b(?:{_MONTHS})\b.*\b(?:19|20)\d\d\b.*|"
    rf".*\b(?:19|20)\d\d\b.*\b(?:{_MONTHS})\b.*|[\d\s/.:,-]+(?:am|pm|AM|PM)?)$",
    re.IGNORECASE,
)


def detokenise(line: str) -> str:
    """Undo the PTB-style tokenisation of one ECB+ line (one sentence or a headline)."""
    return _detokenise(line, open_quote=False)[0]


def detokenise_lines(lines: list[str]) -> list[str]:
    """Detokenise consecutive lines, tracking straight double quotes that span lines."""
    out: list[str] = []
    open_quote = False
    for line in lines:
        text, open_quote = _detokenise(line, open_quote)
        out.append(text)
    return out


def _detokenise(line: str, open_quote: bool) -> tuple[str, bool]:
    toks = line.split()
    out: list[str] = []
    glue_next = False  # the previous token wants the next one attached to it
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        prev = out[-1] if out else ""
        attach = False
        if tok.startswith("''") and len(tok) > 2:
            tok = "“" + tok[2:]  # an opening quote written as '' and glued to the word
        if tok == "``":
            tok, glue_after = "“", True
        elif tok == "''":
            tok, glue_after = "”", False
            attach = True
        elif tok == '"':
            # a quote ending a line closes, one starting a line opens; otherwise alternate
            open_quote = (i == 0) if i in (0, len(toks) - 1) else not open_quote
            glue_after = open_quote
            attach = not open_quote
        else:
            glue_after = tok in _ATTACH_RIGHT
            attach = tok in _ATTACH_LEFT
            if tok.startswith('"') and len(tok) > 1:
                open_quote = True  # ECB+ sometimes attaches the opening quote: '"Zurana'
            if tok.endswith('"') and len(tok) > 1:
                open_quote = False
        if tok in {"'", "’"} and prev and nxt in _CLITICS:
            # "didn ’ t", "Gray ’ s", "' s" -> one word
            out[-1] = prev + tok + nxt
            i += 2
            glue_next = False
            continue
        if tok in {"'", "’"} and prev:
            attach = True  # plural possessive: "Colts ’ success" -> "Colts’ success"
        if tok in {"n't", "'s", "'re", "'m", "'ll", "'ve", "'d", "’s"} and prev:
            if tok == "n't" and prev.lower() == "wo":
                out[-1] = prev[0] + "on"
            elif tok == "n't" and prev.lower() == "ca":
                out[-1] = prev + "n"
            attach = True
        hyphen = (
            tok in {"-", "/"}
            and prev[-1:].isalnum()
            and nxt[:1].isalnum()
            and (tok == "/" or not (prev.isdigit() and nxt.isdigit() and len(nxt) > 2))
        )
        number = (
            tok in {",", ".", ":"}
            and prev[-1:].isdigit()
            and nxt[:1].isdigit()
            and (tok != "," or re.fullmatch(r"\d{3}", nxt) is not None)
        )
        if hyphen or number:  # "game - winning", "and / or", "23 , 000", "3 : 00", "6 . 1"
            out[-1] = prev + tok + nxt
            i += 2
            glue_next = False
            continue
        if tok == "--":
            tok = "—"
        if out and (attach or glue_next):
            out[-1] += tok
        else:
            out.append(tok)
        glue_next = glue_after
        i += 1
    text = " ".join(out)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return text.strip(), open_quote


def _is_url_line(line: str) -> bool:
    return line.replace(" ", "").lower().startswith(("http:", "https:", "www."))


def _ends_sentence(line: str) -> bool:
    return line.rstrip().endswith((".", "!", "?", "”", '"', "’", "'", ":"))


_CLAUSE_WORDS = {
    "that",
    "who",
    "which",
    "after",
    "when",
    "as",
    "while",
    "because",
    "since",
    "but",
    "and",
    "in",
    "on",
    "at",
    "with",
    "for",
    "during",
    "following",
    "amid",
}


def headline_from_sentence(sentence: str, max_words: int = 13) -> str:
    """A plausible headline from a first sentence: main clause, no attribution, no full stop."""
    s = sentence.strip().rstrip(".")
    s = re.sub(r"^(?:[A-Z]{3,}[A-Z ,]*\s*(?:\([A-Za-z ]+\))?\s*[-—–]+\s*)", "", s)  # dateline
    s = re.sub(r",\s*(?:said|says|according to|officials said|police said)\b.*$", "", s)
    s = re.sub(r",\s*(?:her|his|their|the) \w+ (?:told|said)\b.*$", "", s)
    s = re.sub(r"^(?:On|Last|This|Early|Late) \w+(?: \w+)?,\s*", "", s)
    words = s.split()
    k = 0
    while k < len(words) and words[k].isupper() and len(words[k].strip(",.")) > 1:
        k += 1
    if k >= 2:  # an all-caps lead-in such as "WHEN PLANNING TO widen"
        words = [words[0].capitalize(), *(w.lower() for w in words[1:k]), *words[k:]]
    if len(words) > max_words:
        cut = max_words
        for j in range(max_words, 5, -1):  # prefer a clause boundary: a comma or a linking word
            if words[j - 1].endswith(",") or words[j].lower() in _CLAUSE_WORDS:
                cut = j
                break
        words = words[:cut]
        small = {
            "a",
            "an",
            "the",
            "of",
            "to",
            "in",
            "on",
            "for",
            "and",
            "or",
            "at",
            "by",
            "with",
            "as",
            "from",
            "that",
            "who",
            "which",
            "was",
            "is",
            "has",
            "had",
            "be",
            "but",
            "after",
            "before",
            "over",
            "into",
            "about",
            "than",
            "while",
            "when",
            "his",
            "her",
            "its",
            "their",
            "said",
            "says",
            "were",
            "are",
            "will",
            "would",
            "could",
            "not",
            "during",
            "under",
            "against",
            "because",
            "since",
            "until",
            "then",
        }
        while len(words) > 5 and words[-1].lower().strip(",") in small:
            words.pop()
    title = " ".join(words).rstrip(",;:—- ")
    title = title.replace("“", "").replace("”", "").replace('"', "")
    return title[:1].upper() + title[1:]


def group_paragraphs(sentences: list[str], rng: random.Random) -> tuple[str, ...]:
    """Join one-sentence lines into paragraphs of 1–3 sentences, never splitting a quotation."""
    paras: list[str] = []
    current: list[str] = []
    target = rng.choice((1, 2, 2, 3))
    for sent in sentences:
        current.append(sent)
        joined = " ".join(current)
        quote_open = (joined.count("“") > joined.count("”")) or joined.count('"') % 2 == 1
        if len(current) >= target and not quote_open:
            paras.append(joined)
            current = []
            target = rng.choice((1, 2, 2, 3))
    if current:
        paras.append(" ".join(current))
    return tuple(paras)


def ecb_text(doc: str, raw: str, cluster: str, rng: random.Random) -> Text | None:
    """Turn one tokenised ECB+ document into a headline and paragraphs (None if unusable)."""
    lines = [ln.strip() for ln in raw.split("\n") if ln.strip()]
    while lines and _is_url_line(lines[0]):
        lines.pop(0)
    title: str | None = None
    texts = detokenise_lines(lines)
    body: list[str] = []
    for k, text in enumerate(texts[:4]):
        if _DATE_LINE.match(text) or text.lower().startswith(("by ", "posted by", "written by")):
            continue
        if title is None and k <= 1 and not _ends_sentence(text) and len(text.split()) <= 18:
            title = text
            continue
        body.append(text)
    body.extend(texts[4:])
    body = [b for b in body if b and not _is_url_line(b) and not _DATE_LINE.match(b)]
    if len(body) < 3:
        return None
    if title is None:
        title = headline_from_sentence(body[0])
    if len(title.split()) < 3:
        return None
    if title.isupper():
        title = title.capitalize()
    paragraphs = group_paragraphs(body, rng)
    return Text(title=title, paragraphs=paragraphs, source=f"ecbplus:{doc}", story=f"ecbplus:{cluster}")


# --------------------------------------------------------------------------------------------
# Seed page (../shared/seed/aggregator-page.txt)
# --------------------------------------------------------------------------------------------

NK_STORY = "north-korea-kursk"


def _between(text: str, start: str, end: str | None) -> str:
    i = text.index(start)
    j = text.index(end, i) if end is not None else len(text)
    return text[i:j]


def _split_sentences(text: str) -> list[str]:
    pieces = [s for s in re.split(r"(?<=[.?!'])\s+(?=[A-Z'‘])", text.strip()) if s]
    out: list[str] = []
    for piece in pieces:
        if out and re.search(r"\b(?:Mr|Mrs|Ms|Dr|St|No)\.$", out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def seed_toi(page: str) -> Text:
    """The Time of India article (AP copy) from the seed page."""
    block = _between(page, "SEOUL:", "\nOrange background")
    lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
    paras: list[str] = []
    for line in lines:  # rejoin lines broken around the linked name "Kim Jong Un"
        if paras and not _ends_sentence(paras[-1]):
            paras[-1] = f"{paras[-1]} {line}"
        else:
            paras.append(line)
    return Text(
        title="North Korea plans to send military construction workers and deminers to Russia",
        paragraphs=tuple(paras),
        source="seed",
        story=NK_STORY,
    )


_FIRSTPOST_BREAKS = (
    "North Korea has become one of",
    "How many labourers will N Korea send?",
    "On Wednesday, Shoigu said",
    "Kim and Shoigu discussed",
    "Kim also expressed",
    "'Issues of concern'",
    "Seoul's foreign ministry",
    "'The South Korean government",
    "New South Korean President",
    "Lee's administration",
    "With inputs from agencies",
)


def seed_firstpost(page: str) -> Text:
    """The Firstpost rewrite of the same story, split into paragraphs, ad junk removed."""
    start = "Russia's Security Council Secretary Sergei Shoigu said that North Korea would send"
    line = next(ln for ln in page.split("\n") if ln.startswith(start))
    _summary, _, rest = line.partition(" read more ")
    _caption, _, body = rest.partition("File Image/Reuters ")
    body = body.replace("STORY CONTINUES BELOW THIS AD ", "").strip()
    cuts = sorted({body.index(b) for b in _FIRSTPOST_BREAKS} | {0})
    pieces = [body[a:b].strip() for a, b in zip(cuts, [*cuts[1:], len(body)], strict=True)]
    paras: list[str] = []
    for piece in pieces:
        for head in ("How many labourers will N Korea send?", "'Issues of concern'"):
            if piece.startswith(head):  # subheadings: keep as their own short paragraph
                paras.append(head)
                piece = piece[len(head) :].strip()
        if piece:
            paras.append(piece)
    return Text(
        title="North Korea to send thousands of workers to support Russian reconstruction in Kursk",
        paragraphs=tuple(paras),
        source="seed",
        story=NK_STORY,
    )


def seed_g7(page: str, rng: random.Random) -> Text:
    """The Hindu's G7 summit piece, minus its inline 'Read:' link."""
    line = next(ln for ln in page.split("\n") if ln.startswith("Reaffirming India's stand"))
    line = re.sub(r" Read: .*? between countries", "", line)
    return Text(
        title="G7 summit: leaders fail to reach ambitious joint agreements after Trump's early exit",
        paragraphs=group_paragraphs(_split_sentences(line), rng),
        source="seed",
        story="g7-summit-2025",
    )


def seed_putin_video(page: str) -> Text:
    """The Putin military-overhaul video blurb (used for a video page, not an article)."""
    line = next(
        ln for ln in page.split("\n") if ln.startswith("Russia: Putin Pushes New Military") and "N18G" in ln
    )
    blurb = line[line.index("Russian President Vladimir Putin") :].replace(" See More", "")
    return Text(
        title="Russia: Putin pushes new military overhaul, prioritises nuclear power",
        paragraphs=(blurb.strip(),),
        source="seed",
        story="putin-armament-programme",
    )


# --------------------------------------------------------------------------------------------
# Written texts (fictional, for planted cases and the non-UTF-8 publisher)
# --------------------------------------------------------------------------------------------


def _t(title: str, story: str | None, *paragraphs: str) -> Text:
    return Text(
        title=title, paragraphs=tuple(" ".join(p.split()) for p in paragraphs), source="written", story=story
    )


WIRE_HEATWAVE = _t(
    "Early-summer heatwave strains power grids across southern Europe",
    "wire-heatwave",
    """An early-summer heatwave pushed temperatures above 40 degrees Celsius across parts of Spain,
    Portugal and southern Italy, straining electricity grids as households and offices turned air
    conditioning to full power, grid operators said.""",
    """Spain's grid operator said demand had reached its highest level for the season and asked
    large industrial users to shift consumption away from the late-afternoon peak. In Portugal,
    the civil protection agency placed eleven districts on red alert for wildfire risk.""",
    """Meteorologists said a ridge of high pressure over North Africa was drawing hot, dry air
    northwards and was likely to persist for several more days. Night-time temperatures in Seville
    and Córdoba stayed above 25 degrees, offering little relief to residents.""",
    """Hospitals in Andalusia reported a rise in admissions for heatstroke and dehydration, mostly
    among elderly people. Health authorities urged people to avoid outdoor activity between noon
    and six in the evening and to check on neighbours living alone.""",
    """In Italy, the health ministry extended its heat warning to eighteen cities, including Rome,
    Naples and Palermo. Several regions ordered outdoor construction and farm work to stop during
    the hottest hours of the day.""",
    """Energy analysts said the grids had so far coped thanks to strong solar output during the day,
    but warned that evening demand, when solar generation falls away, remained the main risk of
    local outages if the heat continued into next week.""",
)

WRITTEN_NO_DATE = _t(
    "Library volunteers turn car park corner into a reading garden",
    None,
    """Volunteers at the Eastbrook branch library have turned a neglected corner of its car park into
    a small reading garden, with raised flower beds, two shaded benches and a book exchange cabinet
    built by pupils from the nearby technical college.""",
    """The project began when the library's reading group complained that there was nowhere quiet to
    sit outside. Branch librarian Marta Okafor said the group raised the money for soil, timber and
    plants through a series of second-hand book sales.""",
    """“People kept asking whether we could do something with that corner, so in the end we stopped
    waiting for someone else to do it,” Okafor said. “Now we have children reading under the
    trees while their parents queue for the computers.”""",
    """The college pupils designed the book cabinet as part of their carpentry course. It holds about
    sixty books, and readers are asked to leave one whenever they take one. The beds were planted
    with lavender, rosemary and other herbs that need little watering.""",
    """The library plans to hold storytelling sessions for young children in the garden on weekend
    mornings and is looking for more volunteers to help keep the beds weeded.""",
)

WRITTEN_URL_DATE = _t(
    "Harbour bridge to close at night for three weeks of cable repairs",
    None,
    """The harbour swing bridge will close to traffic overnight for three weeks while engineers replace
    corroded steel cables that operate its opening span, the regional roads authority said.""",
    """The bridge will be shut from ten in the evening until five in the morning, Sunday to Thursday.
    Drivers will be diverted via the ring road, adding about fifteen minutes to a typical crossing,
    and a free shuttle bus will run every twenty minutes for pedestrians and cyclists.""",
    """Inspectors found the corrosion during a routine survey and said the bridge remained safe to use,
    but that the cables had to be replaced before the autumn storms. The work will cost about
    2.4 million, paid from the authority's maintenance budget.""",
    """Harbour pilots have been told that the span will stay closed to shipping during the works, and
    the port has moved three late-night arrivals of fishing vessels to the outer quay.""",
    """Residents of the waterfront flats asked for noise to be kept to a minimum. The authority said
    the noisiest cutting work would be scheduled before midnight.""",
)

WRITTEN_PRIVATE = _t(
    "Subscriber briefing: what the county budget means for your street",
    None,
    """This briefing is for subscribers only. It explains how the county's spending plan for the
    coming year will affect road resurfacing, bin collections and library opening hours in each
    district, with a street-by-street table of planned works.""",
    """The largest change is a shift of road money from resurfacing to pothole patching, which the
    county says will reach more streets at lower cost. Critics on the council say it stores up
    bigger repairs for later.""",
    """Bin collections will move to a fortnightly cycle in four districts, while libraries keep their
    current hours after a campaign by readers earlier in the year.""",
)

WRITTEN_LOCAL = (
    _t(
        "Riverside market traders win two more years on the quay",
        None,
        """Traders at the Saturday riverside market will keep their pitches on the old quay for at
        least two more years after the council dropped plans to turn the area into a car park.""",
        """The market, which has about forty stalls selling food, plants and second-hand goods,
        had campaigned for months against the plan. More than three thousand people signed a
        petition asking the council to keep it where it is.""",
        """Council leader Dorothy Ames said the market had shown it brought visitors into the town
        centre. “We listened, we looked at the figures, and the market stays,” she said.""",
        """Stallholders will pay a slightly higher pitch fee to cover new lighting and two water
        points on the quay. The council will review the arrangement after two years.""",
    ),
    _t(
        "Community pool reopens after roof replacement",
        None,
        """The community swimming pool on Elm Road has reopened after a nine-month closure to
        replace its leaking roof, with new changing rooms and a ramp for wheelchair users.""",
        """More than two hundred swimmers queued for the first session on Saturday morning. The
        pool's manager, Ravi Desai, said swimming lessons for schools would resume next week.""",
        """The refurbishment was paid for by the council and a grant from a regional sports fund.
        Prices for adults and children are unchanged, and swimmers over seventy can still use the
        pool free of charge on weekday mornings.""",
    ),
    _t(
        "Start-up building battery recycling plant raises funding from regional investors",
        None,
        """A start-up that recovers lithium, nickel and cobalt from used electric-car batteries has
        raised 18 million in its first major funding round, led by a group of regional investors
        and a pension fund.""",
        """The company, CellCycle, plans to use the money to build a plant able to process about
        ten thousand tonnes of batteries a year on a former paper mill site. It expects to employ
        around 120 people when the plant is fully running.""",
        """Chief executive Hannah Lindqvist said demand for recycled battery metals would grow quickly
        as the first generation of electric cars reached the end of its life. “The batteries are
        coming back whether we are ready or not,” she said.""",
        """Environmental groups welcomed the plan but asked for strict controls on emissions from
        the plant's chemical processing stage. The company said it would publish monitoring data.""",
    ),
)

# The non-UTF-8 publisher: names and places with accents, typographic quotes and dashes.
WRITTEN_CONTINENTAL = (
    _t(
        "Zürich tram drivers end strike after deal on rest breaks",
        None,
        """Tram drivers in Zürich returned to work after a two-day strike when the city’s transport
        operator agreed to longer rest breaks on its busiest lines, the drivers’ union said.""",
        """Union spokeswoman Anaïs Brügger said the agreement guaranteed a twenty-minute break after
        every four hours at the wheel — a demand the union had made for more than a year. “It is
        a fair deal and our members accepted it by a large majority,” she said.""",
        """The operator said normal service would resume on all lines from the first morning trams.
        Commuters had crowded onto buses and regional trains during the strike, and cycle-hire
        stations near the main station ran out of bikes by eight o’clock.""",
        """City councillor Jörg Häfliger said the strike showed that the network needed more drivers
        and promised a recruitment campaign before the autumn timetable change.""",
    ),
    _t(
        "Genève café owners protest against new terrace fees",
        None,
        """Café and restaurant owners in Genève staged a protest in front of the town hall against
        higher fees for outdoor terraces, saying the increase would cost small businesses thousands
        of francs a year.""",
        """“We are not against paying our share, but this is a doubling overnight,” said Noémie
        Châtelain, who runs a café near the lake promenade. About two hundred people joined the
        protest, many carrying chairs from their terraces.""",
        """The city says the new fees reflect the real value of public space and will help pay for
        wider pavements. Deputy mayor François Lefèvre said he was ready to discuss a phased
        introduction for the smallest businesses.""",
    ),
    _t(
        "Sevilla’s Núñez wins European young architects’ prize for shaded market hall",
        None,
        """Spanish architect Lucía Núñez has won this year’s European prize for young architects for
        a covered market hall in Sevilla whose perforated brick screens keep stalls cool without air
        conditioning.""",
        """The jury, chaired by Danish architect Søren Kjærgaard, praised the building as “a lesson
        in how to build for hotter summers with ordinary materials”. The prize carries an award of
        €25,000.""",
        """Núñez, 34, said the design borrowed from the courtyards and lattice windows of old
        Andalusian houses. “Shade is the oldest air conditioning we have,” she said at the ceremony
        in København.""",
        """The market hall opened last spring and has about sixty stalls. Traders say temperatures
        inside stay several degrees below those in the surrounding streets.""",
    ),
)
