"""Kinds of community service found in an English county, as templates for synthetic services.

Each template gives plausible names, the needs it meets (first = main), the activities it
offers, how it is delivered and who it is for. Descriptions use everyday words (the taxonomy's
synonyms) so that services published without codes can still be matched from their text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceType:
    key: str
    names: tuple[str, ...]
    needs: tuple[str, ...]
    activities: tuple[str, ...]
    #: Delivery mode sets to choose from, with weights.
    modes: tuple[tuple[tuple[str, ...], float], ...]
    description: str
    min_age: int | None = None
    max_age: int | None = None
    sex: str | None = None
    #: Relative frequency in the catalogue.
    weight: float = 1.0
    free_share: float = 0.7


IN_PERSON = (("in_person",), 1.0)

SERVICE_TYPES: tuple[ServiceType, ...] = (
    ServiceType(
        "lunch-club",
        ("{town} Lunch Club", "{place} Friendship Lunch", "Tuesday Lunch Club, {town}"),
        ("nutrition", "social-isolation"),
        ("cooking",),
        (IN_PERSON,),
        "A hot two-course meal and good company every week for older people who live alone. "
        "Come for lunch, meet friends and enjoy a chat; no one need eat alone.",
        min_age=60,
        weight=2.0,
        free_share=0.2,
    ),
    ServiceType(
        "memory-cafe",
        ("{town} Memory Café", "{place} Dementia Café"),
        ("dementia", "carer-support", "social-isolation"),
        ("music", "games-puzzles"),
        (IN_PERSON,),
        "A relaxed café for people living with dementia or memory loss and the family carers "
        "who look after them. Music, quizzes and reminiscence, with advice on hand.",
        weight=1.5,
    ),
    ServiceType(
        "singing-for-brain",
        ("Singing for Memory {town}", "{place} Sing-along for Dementia"),
        ("dementia", "mental-wellbeing"),
        ("music",),
        (IN_PERSON,),
        "Singing sessions for people with dementia and their carers: familiar songs, "
        "warm-up exercises and a cup of tea.",
        weight=0.8,
    ),
    ServiceType(
        "carers-centre",
        ("{town} Carers Hub", "Suffolk Carers Support ({town})"),
        ("carer-support", "mental-wellbeing"),
        (),
        (((("in_person", "phone")), 1.0), (("phone",), 0.5)),
        "Information, advice and a break for unpaid carers looking after a relative or friend. "
        "Carers assessments, respite and a carers' support group.",
        min_age=18,
        weight=1.2,
    ),
    ServiceType(
        "befriending-home",
        ("{town} Befriending Scheme", "Good Neighbours {place}"),
        ("social-isolation", "mental-wellbeing"),
        (),
        ((("home_visit",), 1.0),),
        "A volunteer befriender visits you at home each week for a chat and friendship. "
        "For people who are lonely or isolated and find it hard to get out.",
        min_age=55,
        weight=1.5,
    ),
    ServiceType(
        "befriending-phone",
        ("Suffolk Telephone Friends", "Call and Chat ({town})"),
        ("social-isolation",),
        (),
        ((("phone",), 1.0),),
        "Regular friendly phone calls from a trained volunteer for people who feel lonely or "
        "live alone.",
        min_age=50,
        weight=0.7,
    ),
    ServiceType(
        "walking-group",
        ("{town} Health Walks", "{place} Walking for Health"),
        ("physical-activity", "social-isolation"),
        ("walking", "nature-wildlife"),
        (IN_PERSON,),
        "Short, friendly led walks on the flat, at a gentle pace, to keep active and meet people.",
        weight=1.3,
    ),
    ServiceType(
        "chair-exercise",
        ("Seated Exercise {town}", "{place} Strength and Balance"),
        ("physical-activity", "long-term-condition"),
        ("sport-fitness",),
        (IN_PERSON,),
        "Chair-based exercise and strength and balance classes to keep mobile and prevent "
        "falls. Suitable for people with arthritis or limited mobility.",
        min_age=55,
        weight=1.3,
        free_share=0.4,
    ),
    ServiceType(
        "mens-shed",
        ("{town} Men's Shed", "{place} Community Shed"),
        ("social-isolation", "mental-wellbeing"),
        ("diy-woodwork", "volunteering"),
        (IN_PERSON,),
        "A workshop where men come together to make and mend things, share skills and have a "
        "chat over a cuppa. Woodwork, repairs and tools.",
        sex="male",
        min_age=18,
        weight=0.9,
    ),
    ServiceType(
        "womens-group",
        ("{town} Women's Wellbeing Group", "{place} Women's Circle"),
        ("mental-wellbeing", "social-isolation"),
        ("arts-crafts",),
        (IN_PERSON,),
        "A supportive group for women to meet, talk and try crafts together in a safe space.",
        sex="female",
        min_age=18,
        weight=0.7,
    ),
    ServiceType(
        "craft-club",
        ("{town} Knit and Natter", "{place} Craft Club"),
        ("social-isolation",),
        ("arts-crafts",),
        (IN_PERSON,),
        "Knitting, sewing, painting and crafts with friendly company. Beginners welcome.",
        weight=1.0,
        free_share=0.5,
    ),
    ServiceType(
        "community-garden",
        ("{town} Community Garden", "{place} Growing Together"),
        ("mental-wellbeing", "physical-activity"),
        ("gardening", "nature-wildlife", "volunteering"),
        (IN_PERSON,),
        "Therapeutic gardening: growing vegetables and flowers on a shared allotment, outdoors "
        "and at your own pace. Good for mental health and keeping active.",
        weight=1.0,
    ),
    ServiceType(
        "digital-dropin",
        ("{town} Digital Drop-in", "Tech Help Café {place}"),
        ("digital-inclusion",),
        ("digital-skills",),
        (IN_PERSON, (("in_person", "phone"), 0.4)),
        "Help with phones, tablets and computers: getting online, email, video calls and staying "
        "safe on the internet.",
        weight=1.0,
    ),
    ServiceType(
        "money-advice",
        ("Money Advice Suffolk ({town})", "{town} Benefits and Debt Advice"),
        ("money-advice", "housing"),
        (),
        (((("in_person", "phone")), 1.0), (("phone", "online"), 0.6)),
        "Free, confidential advice on benefits, debt, budgeting and paying bills. We help you "
        "claim what you are entitled to.",
        min_age=18,
        weight=1.2,
        free_share=1.0,
    ),
    ServiceType(
        "housing-advice",
        ("{town} Housing Advice Service", "Home Options {place}"),
        ("housing", "home-safety"),
        (),
        (((("in_person", "phone")), 1.0),),
        "Advice if you are worried about your housing, tenancy, homelessness or need to move to "
        "somewhere more suitable.",
        min_age=18,
        weight=0.6,
        free_share=1.0,
    ),
    ServiceType(
        "handyperson",
        ("{town} Handyperson Service", "Safe at Home {place}"),
        ("home-safety",),
        (),
        ((("home_visit",), 1.0),),
        "Small repairs, grab rails, key safes and home safety checks to help you stay safe and "
        "independent at home and prevent falls.",
        min_age=60,
        weight=0.8,
        free_share=0.3,
    ),
    ServiceType(
        "home-care-support",
        ("{town} Home Help", "{place} Independent Living Support"),
        ("personal-care", "home-safety"),
        (),
        ((("home_visit",), 1.0),),
        "Practical help at home with washing, dressing, shopping and housework from a trusted "
        "team, so you can keep living independently.",
        min_age=18,
        weight=0.6,
        free_share=0.1,
    ),
    ServiceType(
        "community-transport",
        ("{town} Community Car Scheme", "{place} Dial-a-Ride"),
        ("transport",),
        ("independent-travel",),
        ((("in_person", "phone"), 1.0),),
        "Volunteer drivers and accessible minibuses for people who cannot use buses, to get to "
        "appointments, shops and groups.",
        weight=0.8,
        free_share=0.1,
    ),
    ServiceType(
        "bereavement",
        ("{town} Bereavement Support", "{place} Grief Café"),
        ("bereavement", "mental-wellbeing"),
        (),
        (IN_PERSON, (("phone",), 0.5)),
        "Support after the death of someone close: a listening ear, a monthly grief café and "
        "one-to-one bereavement support.",
        min_age=18,
        weight=0.7,
    ),
    ServiceType(
        "sight-loss",
        ("Suffolk Sight Support ({town})", "{town} Visual Impairment Club"),
        ("hearing-sight-loss", "social-isolation"),
        ("reading",),
        (IN_PERSON, (("phone",), 0.4)),
        "Support, equipment advice and a social club for people with sight loss or visual "
        "impairment. Talking books available.",
        weight=0.5,
    ),
    ServiceType(
        "hearing-loss",
        ("{town} Hearing Help", "{place} Hearing Aid Clinic"),
        ("hearing-sight-loss",),
        (),
        (IN_PERSON,),
        "Drop-in hearing aid maintenance, new batteries and advice for people who are deaf or "
        "hard of hearing.",
        weight=0.5,
        free_share=1.0,
    ),
    ServiceType(
        "ltc-support",
        ("Breathe Easy {town}", "{town} Stroke Club", "{place} Diabetes Support Group"),
        ("long-term-condition", "social-isolation"),
        (),
        (IN_PERSON,),
        "A peer support group for people living with a long-term health condition such as "
        "COPD, diabetes, stroke or Parkinson's, and their families.",
        weight=0.9,
    ),
    ServiceType(
        "mental-health-peer",
        ("{town} Wellbeing Café", "{place} Mind Matters Group"),
        ("mental-wellbeing",),
        ("arts-crafts", "walking"),
        (IN_PERSON,),
        "A drop-in for anyone with anxiety, depression or low mood: talk, activities and peer "
        "support in a welcoming place.",
        min_age=18,
        weight=1.0,
    ),
    ServiceType(
        "online-wellbeing",
        ("Suffolk Online Wellbeing Hub", "Mind Connect Online"),
        ("mental-wellbeing", "social-isolation"),
        ("digital-skills",),
        ((("online",), 1.0), (("online", "phone"), 0.5)),
        "Online peer support groups and courses for stress, anxiety and low mood, on video call, "
        "from home.",
        min_age=18,
        weight=0.6,
    ),
    ServiceType(
        "volunteering-hub",
        ("{town} Volunteer Centre", "Volunteer {place}"),
        ("employment-volunteering", "social-isolation"),
        ("volunteering",),
        (IN_PERSON, (("online", "phone"), 0.4)),
        "Find a volunteering role that suits you: use your skills, meet people and give back to "
        "your community.",
        min_age=16,
        weight=0.7,
        free_share=1.0,
    ),
    ServiceType(
        "employment-support",
        ("{town} Work Club", "Into Work {place}"),
        ("employment-volunteering", "digital-inclusion"),
        ("digital-skills",),
        (IN_PERSON,),
        "Help with CVs, job search, applications and building confidence to get back into work.",
        min_age=18,
        max_age=66,
        weight=0.6,
        free_share=1.0,
    ),
    ServiceType(
        "ld-day-opportunities",
        ("{town} Day Opportunities", "{place} Learning Disability Club"),
        ("learning-disability", "social-isolation"),
        ("arts-crafts", "music", "cooking"),
        (IN_PERSON,),
        "Day activities, cooking, music and life skills for adults with a learning disability "
        "or autism.",
        min_age=18,
        weight=0.7,
        free_share=0.3,
    ),
    ServiceType(
        "recovery",
        ("{town} Recovery Café", "Turning Point {place}"),
        ("substance-misuse", "mental-wellbeing"),
        (),
        (IN_PERSON, (("phone",), 0.5)),
        "Support for people affected by alcohol or drug use: recovery groups, one-to-one "
        "support and a safe, alcohol-free café.",
        min_age=18,
        weight=0.5,
        free_share=1.0,
    ),
    ServiceType(
        "domestic-abuse",
        ("Suffolk Domestic Abuse Helpline", "{town} Women's Aid Outreach"),
        ("domestic-abuse", "mental-wellbeing"),
        (),
        ((("phone",), 1.0), (("phone", "online"), 0.5)),
        "Confidential support for anyone experiencing domestic abuse: safety planning, refuge "
        "and outreach.",
        min_age=16,
        weight=0.4,
        free_share=1.0,
    ),
    ServiceType(
        "advocacy",
        ("Suffolk Advocacy ({town})", "{town} Independent Advocacy"),
        ("advocacy",),
        (),
        ((("phone", "in_person"), 1.0),),
        "An independent advocate helps you say what you want and get your voice heard in "
        "decisions about your care, health and support.",
        min_age=18,
        weight=0.5,
        free_share=1.0,
    ),
    ServiceType(
        "parent-carer",
        ("{town} Parent Carer Forum", "{place} Family Support"),
        ("parenting-caring-for-child", "carer-support"),
        ("family-support",),
        (IN_PERSON,),
        "Support and friendship for parents and carers of children and young people with "
        "additional needs.",
        min_age=18,
        weight=0.5,
    ),
    ServiceType(
        "tea-dance",
        ("{town} Tea Dance", "{place} Sequence Dancing"),
        ("social-isolation", "physical-activity"),
        ("dancing", "music"),
        (IN_PERSON,),
        "Afternoon tea dance with music from the 40s to the 70s; come to dance or just listen.",
        min_age=50,
        weight=0.6,
        free_share=0.2,
    ),
    ServiceType(
        "history-group",
        ("{town} Local History Society", "{place} Reminiscence Group"),
        ("social-isolation",),
        ("history", "reading"),
        (IN_PERSON,),
        "Talks, old photographs and memories of {town} past, over tea and cake.",
        weight=0.5,
        free_share=0.5,
    ),
    ServiceType(
        "faith-lunch",
        ("St Mary's Community Lunch, {town}", "{place} Church Coffee Morning"),
        ("social-isolation", "nutrition"),
        ("faith-community",),
        (IN_PERSON,),
        "A welcoming coffee morning and soup lunch in the church hall, open to everyone of any "
        "faith or none.",
        weight=0.8,
        free_share=0.6,
    ),
    ServiceType(
        "book-club",
        ("{town} Library Reading Group", "{place} Book Chat"),
        ("social-isolation", "mental-wellbeing"),
        ("reading",),
        (IN_PERSON,),
        "A monthly reading group at the library: pick up a book, then talk about it with others.",
        weight=0.5,
        free_share=1.0,
    ),
    ServiceType(
        "swim-gym",
        ("{town} Over-50s Swim and Gym", "{place} Active Ageing"),
        ("physical-activity",),
        ("sport-fitness",),
        (IN_PERSON,),
        "Low-cost swimming sessions, gym inductions, bowls and yoga for older adults.",
        min_age=50,
        weight=0.7,
        free_share=0.1,
    ),
    ServiceType(
        "pets-therapy",
        ("{town} Paws for Company", "{place} Pet Befriending"),
        ("social-isolation", "mental-wellbeing"),
        ("pets-animals",),
        ((("home_visit",), 1.0),),
        "Volunteers with therapy dogs visit people at home, or help keep your pet when you "
        "cannot walk it.",
        weight=0.3,
    ),
    ServiceType(
        "language-cafe",
        ("{town} Conversation Café", "{place} English Conversation Club"),
        ("social-isolation", "employment-volunteering"),
        ("languages",),
        (IN_PERSON,),
        "Practise English and meet new neighbours at an informal conversation café.",
        min_age=16,
        weight=0.4,
        free_share=1.0,
    ),
)

#: Places (villages, estates) used in names instead of a town, for variety.
PLACE_WORDS: tuple[str, ...] = (
    "Riverside",
    "Parkside",
    "Market Square",
    "Abbey",
    "St John's",
    "Orwell",
    "Waveney",
    "Gipping",
    "Deben",
    "Stour",
    "Lark",
    "Castle Hill",
    "Chantry",
    "Whitton",
    "Pakefield",
    "Oulton",
    "Moreton Hall",
    "Chilton",
    "Combs",
    "Walton",
    "Trimley",
    "Kirkley",
    "Westgate",
)

ORGANISATION_PATTERNS: tuple[str, ...] = (
    "{town} Community Trust",
    "{town} Age Concern",
    "{town} Volunteer Network",
    "East Suffolk Community Partnership",
    "West Suffolk Voluntary Action",
    "{town} Churches Together",
    "Suffolk Wellbeing CIC",
    "{town} Neighbourhood Association",
)
