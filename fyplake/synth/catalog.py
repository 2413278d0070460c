"""Fixed vocabulary of the synthetic world: topics, demographics and the words records are made of.

Kept apart from the sampling code so the latent structure (which hashtags and sounds belong to
which topic, which age bands lean towards which topics) can be read in one place. Nothing here is
random; every draw happens in ``world.py``/``behaviour.py`` from the seed.
"""

from __future__ import annotations

#: (topic name, its hashtags, its title phrases, youth lean in [-1, 1]): a lean of +1 skews the
#: topic to 13-17 year olds, -1 to 45+.
#: The hashtags are the observable trace of a video's hidden topics; a recommender that learns them
#: (or learns co-watch structure) recovers the latent interests.
TOPICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], float], ...] = (
    (
        "cooking",
        ("recipe", "food", "cooking", "foodtok", "easyrecipe", "homecooking"),
        ("pasta in 10 minutes", "the crispiest potatoes", "a one-pan dinner", "grandma's soup"),
        -0.5,
    ),
    (
        "baking",
        ("baking", "cake", "sourdough", "dessert", "bakingtok", "cookies"),
        ("sourdough from scratch", "a three-layer cake", "chewy cookies", "no-bake cheesecake"),
        -0.3,
    ),
    (
        "fitness",
        ("fitness", "gym", "workout", "gymtok", "homeworkout", "legday"),
        ("a 15 minute workout", "my leg day routine", "fixing my squat", "abs at home"),
        0.1,
    ),
    (
        "dance",
        ("dance", "dancechallenge", "choreography", "dancetok", "kpopdance", "trend"),
        ("the new dance trend", "learning this choreo", "dance challenge", "freestyle session"),
        1.0,
    ),
    (
        "comedy",
        ("comedy", "funny", "skit", "humor", "relatable", "prank"),
        ("when your mom calls", "every group chat", "the office be like", "a very normal day"),
        0.4,
    ),
    (
        "gaming",
        ("gaming", "gamer", "minecraft", "fortnite", "gamingclips", "esports"),
        ("this clutch round", "my minecraft base", "speedrun attempt", "the worst teammate"),
        0.9,
    ),
    (
        "pets",
        ("pets", "dogsoftiktok", "catsoftiktok", "puppy", "cute", "animals"),
        ("my dog's reaction", "the cat did it again", "puppy's first walk", "meet my pets"),
        0.0,
    ),
    (
        "beauty",
        ("makeup", "beauty", "skincare", "grwm", "makeuptutorial", "nails"),
        ("get ready with me", "my skincare routine", "a five minute makeup look", "nail art"),
        0.5,
    ),
    (
        "fashion",
        ("fashion", "ootd", "style", "outfit", "thrift", "streetwear"),
        ("outfit of the day", "a thrift haul", "styling one jacket", "capsule wardrobe"),
        0.4,
    ),
    (
        "travel",
        ("travel", "wanderlust", "traveltok", "vacation", "beach", "roadtrip"),
        ("three days in Lisbon", "the best hidden beach", "packing hacks", "a road trip diary"),
        -0.3,
    ),
    (
        "music",
        ("music", "singing", "cover", "guitar", "piano", "newmusic"),
        ("a piano cover", "writing a song", "an acoustic version", "vocal warm-up"),
        0.4,
    ),
    (
        "diy",
        ("diy", "crafts", "homedecor", "upcycle", "woodworking", "handmade"),
        ("a bookshelf from pallets", "room makeover", "upcycling a chair", "handmade gifts"),
        -0.5,
    ),
    (
        "tech",
        ("tech", "gadgets", "coding", "ai", "desksetup", "smartphone"),
        ("my desk setup", "gadgets worth buying", "coding a game", "phone tricks"),
        0.0,
    ),
    (
        "finance",
        ("finance", "money", "investing", "personalfinance", "stocks", "budget"),
        ("how I budget", "investing basics", "saving my first 10k", "money mistakes"),
        -0.6,
    ),
    (
        "education",
        ("learnontiktok", "science", "history", "facts", "edutok", "didyouknow"),
        ("a history fact", "science in 60 seconds", "why the sky is blue", "a quick lesson"),
        -0.2,
    ),
    (
        "sports",
        ("sports", "football", "basketball", "soccer", "highlights", "nba"),
        ("last night's highlights", "the best goal", "training drills", "game day vlog"),
        0.2,
    ),
    (
        "cars",
        ("cars", "carsoftiktok", "jdm", "supercar", "carmods", "drift"),
        ("my car build", "a supercar sighting", "drift day", "detailing my car"),
        0.0,
    ),
    (
        "art",
        ("art", "drawing", "painting", "artist", "digitalart", "sketch"),
        ("painting a sunset", "drawing my followers", "a speed sketch", "art process"),
        0.2,
    ),
    (
        "books",
        ("booktok", "books", "reading", "bookrecommendations", "fantasybooks", "romance"),
        ("books that made me cry", "my reading list", "a fantasy series", "book haul"),
        0.1,
    ),
    (
        "parenting",
        ("parenting", "momlife", "dadlife", "baby", "toddler", "family"),
        ("toddler logic", "our morning routine", "baby's first steps", "parenting hacks"),
        -1.0,
    ),
    (
        "outdoors",
        ("nature", "outdoors", "hiking", "camping", "gardening", "wildlife"),
        ("a sunrise hike", "camping in the rain", "my vegetable garden", "spotting wildlife"),
        -0.6,
    ),
    (
        "anime",
        ("anime", "manga", "otaku", "cosplay", "animeedit", "onepiece"),
        ("an anime edit", "my cosplay build", "manga recommendations", "anime ranking"),
        0.8,
    ),
    (
        "asmr",
        ("asmr", "satisfying", "relaxing", "oddlysatisfying", "slime", "soapcutting"),
        ("oddly satisfying", "relaxing sounds", "slime mixing", "soap cutting"),
        0.3,
    ),
    (
        "movies",
        ("movies", "film", "movietok", "series", "filmtok", "review"),
        ("a movie review", "scenes that hit different", "a series recap", "film theory"),
        0.0,
    ),
    (
        "lifehacks",
        ("lifehack", "hacks", "tips", "cleaning", "cleantok", "organization"),
        ("a cleaning hack", "organising my fridge", "tips nobody told you", "a laundry trick"),
        -0.4,
    ),
)

TOPIC_NAMES: tuple[str, ...] = tuple(t[0] for t in TOPICS)

#: Tags that carry no topic signal (everyone uses them).
GENERIC_TAGS: tuple[str, ...] = ("fyp", "foryou", "foryoupage", "viral", "trending")

TITLE_OPENERS: tuple[str, ...] = (
    "",
    "POV:",
    "Day 3 of",
    "You need to try",
    "Wait for it:",
    "Rating",
    "Quick:",
    "Story time:",
    "Part 2:",
    "Trying",
)

AGE_BANDS: tuple[str, ...] = ("13-17", "18-24", "25-34", "35-44", "45+")
AGE_PROBS: tuple[float, ...] = (0.14, 0.34, 0.27, 0.15, 0.10)
#: Position of each age band on the youth axis that multiplies a topic's youth lean.
AGE_POSITION: tuple[float, ...] = (1.0, 0.5, 0.0, -0.5, -1.0)

#: (country, main language, share of users).
COUNTRIES: tuple[tuple[str, str, float], ...] = (
    ("US", "en", 0.28),
    ("GB", "en", 0.07),
    ("CA", "en", 0.04),
    ("BR", "pt", 0.10),
    ("MX", "es", 0.08),
    ("ES", "es", 0.04),
    ("DE", "de", 0.06),
    ("FR", "fr", 0.06),
    ("IN", "hi", 0.10),
    ("ID", "id", 0.09),
    ("JP", "ja", 0.08),
)
LANGUAGES: tuple[str, ...] = ("en", "pt", "es", "de", "fr", "hi", "id", "ja")
#: Share of users (and creators) whose language is English rather than their country's language.
ENGLISH_SECOND_SHARE = 0.15

SOUND_ADJECTIVES: tuple[str, ...] = (
    "Sunset",
    "Neon",
    "Lazy",
    "Midnight",
    "Golden",
    "Electric",
    "Velvet",
    "Paper",
    "Summer",
    "Broken",
    "Lucky",
    "Slow",
)
SOUND_NOUNS: tuple[str, ...] = (
    "Groove",
    "Loop",
    "Anthem",
    "Beat",
    "Remix",
    "Dream",
    "Bounce",
    "Echo",
    "Drive",
    "Waves",
)

COMMENTS: tuple[str, ...] = (
    "this is so good",
    "obsessed",
    "saving this",
    "need a tutorial",
    "the ending",
    "lol",
    "how did you do that",
    "part 2 please",
    "came here from the trend",
    "underrated",
    "why is this so relatable",
    "wow",
    "I tried it and it worked",
    "love this",
    "first",
    "this made my day",
    "more of this please",
    "can't stop watching",
    "no way",
    "same",
)
