"""Per-nationality vocabularies of the local randomuser-compatible API.

Small on purpose: enough variety to exercise the pipeline with what the real
API (v1.4) sends, including its awkward parts: numeric postcodes for some
countries and strings for others, non-Latin scripts (Persian, Cyrillic,
Devanagari) and national ids whose value is null.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

Postcode = int | str


def _int_postcode(low: int, high: int) -> Callable[[random.Random], Postcode]:
    return lambda rng: rng.randint(low, high)


def _pattern(template: str) -> Callable[[random.Random], str]:
    """'#' becomes a digit, '@' an upper-case letter."""

    def render(rng: random.Random) -> str:
        return "".join(
            rng.choice(string.digits) if c == "#"
            else rng.choice(string.ascii_uppercase) if c == "@"
            else c
            for c in template
        )

    return render


@dataclass(frozen=True)
class Nationality:
    code: str
    country: str
    states: tuple[str, ...]
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    male_first: tuple[str, ...]
    female_first: tuple[str, ...]
    last: tuple[str, ...]
    postcode: Callable[[random.Random], Postcode]
    phone: str  # '#' is a digit
    cell: str
    id_name: str
    id_value: Callable[[random.Random], str | None]
    null_id_ratio: float = 0.0  # share of users whose id.value is null


def _never(rng: random.Random) -> str | None:
    return None


NATIONALITIES: dict[str, Nationality] = {
    n.code: n
    for n in (
        Nationality(
            "AU", "Australia",
            ("New South Wales", "Victoria", "Queensland", "Western Australia", "Tasmania"),
            ("Sydney", "Melbourne", "Brisbane", "Perth", "Hobart"),
            ("George Street", "Queen Street", "Hunter Street", "Pine Rd"),
            ("Jack", "Oliver", "Lucas", "Noah"), ("Charlotte", "Isla", "Ruby", "Mia"),
            ("Smith", "Jones", "Williams", "Brown", "Wilson"),
            _int_postcode(1000, 9999), "0#-####-####", "04##-###-###",
            "TFN", _pattern("#########"),
        ),
        Nationality(
            "BR", "Brazil",
            ("São Paulo", "Bahia", "Minas Gerais", "Paraná"),
            ("Campinas", "Salvador", "Belo Horizonte", "Curitiba"),
            ("Rua São José", "Rua Dois", "Avenida Brasil", "Rua da Paz"),
            ("João", "Tiago", "Luís", "Cauã"), ("Conceição", "Luíza", "Márcia", "Ana"),
            ("Araújo", "Gonçalves", "Pereira", "da Mota"),
            _int_postcode(10000, 99999), "(##) ####-####", "(##) #####-####",
            "CPF", _pattern("###.###.###-##"),
        ),
        Nationality(
            "CA", "Canada",
            ("Ontario", "Québec", "Alberta", "British Columbia", "Nova Scotia"),
            ("Toronto", "Montréal", "Calgary", "Vancouver", "Halifax"),
            ("King St", "Dufferin St", "Parliament St", "Rue Principale"),
            ("Liam", "Félix", "Ethan", "Owen"), ("Chloé", "Emma", "Olivia", "Léa"),
            ("Tremblay", "Roy", "Martin", "Gagnon"),
            _pattern("@#@ #@#"), "@##-###-####", "@##-###-####",
            "SIN", _pattern("#########"),
        ),
        Nationality(
            "CH", "Switzerland",
            ("Zürich", "Bern", "Genève", "Vaud", "Ticino"),
            ("Zürich", "Bern", "Genève", "Lausanne", "Lugano"),
            ("Bahnhofstrasse", "Rue du Stand", "Via Cantonale", "Dorfstrasse"),
            ("Luca", "Noé", "Jonas", "Élie"), ("Léonie", "Mia", "Chiara", "Zoé"),
            ("Müller", "Meier", "Rossi", "Favre"),
            _int_postcode(1000, 9999), "07# ### ## ##", "07# ### ## ##",
            "AVS", _pattern("756.####.####.##"),
        ),
        Nationality(
            "DE", "Germany",
            ("Bayern", "Berlin", "Hamburg", "Sachsen", "Nordrhein-Westfalen"),
            ("München", "Berlin", "Hamburg", "Leipzig", "Köln"),
            ("Hauptstraße", "Schulstraße", "Gartenweg", "Am Bahnhof"),
            ("Jürgen", "Lukas", "Björn", "Maximilian"), ("Jülide", "Anna", "Lena", "Käthe"),
            ("Müller", "Schäfer", "Weiß", "Groß"),
            # five digits; as an int a leading zero is lost (01067 -> 1067), as the real API does
            _int_postcode(1000, 99999), "0###-#######", "017#-#######",
            "SVNR", _pattern("## ###### @ ###"), null_id_ratio=0.5,
        ),
        Nationality(
            "DK", "Denmark",
            ("Hovedstaden", "Midtjylland", "Syddanmark", "Nordjylland"),
            ("København", "Aarhus", "Odense", "Aalborg"),
            ("Søndergade", "Ørstedsvej", "Vestergade", "Åboulevarden"),
            ("Søren", "Mads", "Asger", "Jens"), ("Ida", "Sofie", "Åse", "Freja"),
            ("Jensen", "Nielsen", "Sørensen", "Møller"),
            _int_postcode(1000, 9999), "########", "########",
            "CPR", _pattern("######-####"),
        ),
        Nationality(
            "ES", "Spain",
            ("Madrid", "Cataluña", "Andalucía", "Galicia"),
            ("Madrid", "Barcelona", "Sevilla", "Vigo"),
            ("Calle Mayor", "Calle de Alcalá", "Avenida de Andalucía", "Calle del Pez"),
            ("José", "Íñigo", "Sergio", "Álvaro"), ("María", "Lucía", "Begoña", "Inés"),
            ("García", "Fernández", "Núñez", "Peña"),
            _int_postcode(1000, 52999), "9##-###-###", "6##-###-###",
            "DNI", _pattern("########-@"),
        ),
        Nationality(
            "FI", "Finland",
            ("Uusimaa", "Pirkanmaa", "Lapland", "Ostrobothnia"),
            ("Helsinki", "Tampere", "Rovaniemi", "Vaasa"),
            ("Hämeenkatu", "Pispalan Valtatie", "Esplanadi", "Satakennankatu"),
            ("Väinö", "Eetu", "Onni", "Jyri"), ("Aino", "Päivi", "Siiri", "Ellen"),
            ("Mäkinen", "Järvinen", "Hämäläinen", "Korhonen"),
            _int_postcode(10000, 99999), "0#-###-###", "04#-###-##-##",
            "HETU", _pattern("######-###@"),
        ),
        Nationality(
            "FR", "France",
            ("Île-de-France", "Bretagne", "Occitanie", "Provence-Alpes-Côte d'Azur"),
            ("Paris", "Rennes", "Toulouse", "Marseille"),
            ("Rue de la Paix", "Place du 8 Février 1962", "Rue Abel-Hovelacque", "Quai Chauveau"),
            ("François", "Loïc", "Théo", "Jérôme"), ("Hélène", "Chloé", "Maëlle", "Inès"),
            ("Lefèvre", "Girard", "Dumont", "Mercier"),
            _int_postcode(1000, 95999), "0#-##-##-##-##", "06-##-##-##-##",
            "INSEE", _pattern("# ## ## ## ### ### ##"), null_id_ratio=0.2,
        ),
        Nationality(
            "GB", "United Kingdom",
            ("England", "Scotland", "Wales", "Northern Ireland"),
            ("London", "Edinburgh", "Cardiff", "Belfast"),
            ("High Street", "Station Road", "Church Lane", "Mill Road"),
            ("Oliver", "Harry", "George", "Callum"), ("Amelia", "Olivia", "Isla", "Niamh"),
            ("Smith", "Taylor", "O'Connor", "Davies"),
            _pattern("@@# #@@"), "0##### ### ###", "07### ######",
            "NINO", _pattern("@@ ## ## ## @"),
        ),
        Nationality(
            "IE", "Ireland",
            ("Dublin", "Cork", "Galway", "Limerick"),
            ("Dublin", "Cork", "Galway", "Limerick"),
            ("Grafton Street", "Patrick Street", "Shop Street", "O'Connell Street"),
            ("Seán", "Oisín", "Cian", "Darragh"), ("Siobhán", "Aoife", "Saoirse", "Caoimhe"),
            ("Ó Briain", "Murphy", "Kelly", "O'Sullivan"),
            _pattern("@## @#@#"), "0##-###-####", "08#-###-####",
            "PPS", _pattern("#######@"),
        ),
        Nationality(
            "IN", "India",
            ("Maharashtra", "Kerala", "Goa", "Punjab", "उत्तर प्रदेश"),
            ("Mumbai", "Kochi", "Panaji", "Amritsar", "लखनऊ"),
            ("MG Road", "Chaman Ganj", "Station Road", "गांधी मार्ग"),
            ("Aarav", "Vihaan", "आरव", "अर्जुन"), ("Malathy", "Diya", "अनन्या", "सान्वी"),
            ("Acharya", "Sharma", "शर्मा", "वर्मा"),
            _int_postcode(110001, 855999), "##########", "##########",
            "UIDAI", _pattern("############"),
        ),
        Nationality(
            "IR", "Iran",
            ("تهران", "اصفهان", "فارس", "کردستان"),
            ("تهران", "اصفهان", "شیراز", "سنندج"),
            ("میدان انقلاب", "شهید کلانتری", "پارک ولیعصر", "کارگر شمالی"),
            ("آرمین", "محمدطاها", "امیرعلی", "سینا"), ("نازنین زهرا", "یسنا", "مهسا", "ترانه"),
            ("کامروا", "محمدخان", "رضاییان", "احمدی"),
            _int_postcode(10000, 99999), "0##-########", "09##-###-####",
            "", _never, null_id_ratio=1.0,
        ),
        Nationality(
            "MX", "Mexico",
            ("Jalisco", "Nuevo León", "Yucatán", "Querétaro"),
            ("Guadalajara", "Monterrey", "Mérida", "Santiago de Querétaro"),
            ("Calle Hidalgo", "Avenida Juárez", "Privada Norte", "Callejón Sur"),
            ("Ramón", "Jesús", "Tomás", "Emiliano"), ("Ximena", "Guadalupe", "Sofía", "Itzel"),
            ("Hernández", "López", "Ibáñez", "Muñoz"),
            _int_postcode(10000, 99999), "(6##) ### ####", "(6##) ### ####",
            "NSS", _pattern("## ## ## #### #"),
        ),
        Nationality(
            "NL", "Netherlands",
            ("Noord-Holland", "Utrecht", "Zeeland", "Friesland"),
            ("Amsterdam", "Utrecht", "Middelburg", "Leeuwarden"),
            ("Kerkstraat", "Jan Pieterszoon Coenstraat", "Dorpsstraat", "Molenweg"),
            ("Daan", "Sem", "Bram", "Joël"), ("Julia", "Saar", "Fenna", "Anouk"),
            ("van der Berg", "de Vries", "Jansen", "van Dijk"),
            _pattern("#### @@"), "(0###) ######", "(06) ########",
            "BSN", _pattern("########"),
        ),
        Nationality(
            "NO", "Norway",
            ("Oslo", "Vestland", "Nordland", "Trøndelag"),
            ("Oslo", "Bergen", "Bodø", "Trondheim"),
            ("Storgata", "Kirkeveien", "Bjørnstadveien", "Åsveien"),
            ("Øyvind", "Håkon", "Jørgen", "Ola"), ("Åse", "Ingrid", "Sølvi", "Kari"),
            ("Bjørnstad", "Hansen", "Johansen", "Lødøen"),
            _pattern("####"), "########", "9#######",  # 4 digits kept as a string: "0150"
            "FN", _pattern("###########"),
        ),
        Nationality(
            "NZ", "New Zealand",
            ("Auckland", "Wellington", "Canterbury", "Otago"),
            ("Auckland", "Wellington", "Christchurch", "Dunedin"),
            ("Queen Street", "Cuba Street", "Colombo Street", "George Street"),
            ("Tāne", "Nikau", "Ethan", "Hunter"), ("Aroha", "Mere", "Ruby", "Isla"),
            ("Ngata", "Wilson", "Thompson", "Te Whata"),
            _int_postcode(1000, 9999), "(###)-###-####", "(###)-###-####",
            "", _never, null_id_ratio=1.0,
        ),
        Nationality(
            "RS", "Serbia",
            ("Централна Србија", "Војводина", "Београд"),
            ("Београд", "Нови Сад", "Ниш", "Крагујевац"),
            ("Кнеза Милоша", "Булевар ослобођења", "Његошева", "Цара Душана"),
            ("Лука", "Милош", "Стефан", "Душан"), ("Јелена", "Милица", "Ана", "Дуња"),
            ("Јовановић", "Поповић", "Николић", "Ђорђевић"),
            _int_postcode(11000, 38999), "0##-####-###", "06#-####-###",
            "SID", _pattern("#############"),
        ),
        Nationality(
            "TR", "Turkey",
            ("İstanbul", "Ankara", "İzmir", "Muğla"),
            ("İstanbul", "Ankara", "İzmir", "Bodrum"),
            ("Atatürk Sk", "Çiftlik Cd", "Şehitler Cd", "Kushimoto Sk"),
            ("Çağlar", "Oğuz", "İsmail", "Şahin"), ("Çağla", "Gülşen", "Şule", "Özge"),
            ("Öztürk", "Yılmaz", "Şahin", "Koç"),
            _int_postcode(10000, 81999), "(###)-###-####", "(###)-###-####",
            "", _never, null_id_ratio=1.0,
        ),
        Nationality(
            "UA", "Ukraine",
            ("Київська", "Львівська", "Одеська", "Харківська"),
            ("Київ", "Львів", "Одеса", "Харків"),
            ("Хрещатик", "Шевченка", "Січових Стрільців", "Героїв Праці"),
            ("Олександр", "Тарас", "Богдан", "Ярослав"), ("Олена", "Ганна", "Оксана", "Їржина"),
            ("Шевченко", "Коваленко", "Бондаренко", "Ґудзь"),
            _int_postcode(10000, 99999), "(0##) ###-##-##", "(09#) ###-##-##",
            "", _never, null_id_ratio=1.0,
        ),
        Nationality(
            "US", "United States",
            ("California", "Texas", "New York", "Ohio", "Michigan"),
            ("Los Angeles", "Austin", "Buffalo", "Columbus", "Billings"),
            ("Valwood Pkwy", "Main St", "Oak Lawn Ave", "Pecan Acres Ln"),
            ("James", "Brandon", "Terrence", "Zachary"), ("Jennie", "Ashley", "Brianna", "Lily"),
            ("Nichols", "Johnson", "O'Neil", "Garcia"),
            _int_postcode(10000, 99999), "(###) ###-####", "(###) ###-####",
            "SSN", _pattern("###-##-####"), null_id_ratio=0.1,
        ),
    )
}

NATIONALITY_CODES: tuple[str, ...] = tuple(sorted(NATIONALITIES))
