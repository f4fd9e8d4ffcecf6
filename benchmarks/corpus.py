"""A synthetic PubMed corpus for the throughput benchmark: realistic abstracts, seeded.

Each abstract is 200–300 words in PubMed's style (a title, often a structured abstract
with BACKGROUND/METHODS/RESULTS/CONCLUSIONS, abbreviations defined in parentheses,
numbers, p-values and units). About a fifth are about migrasomes, a third about other
extracellular vesicles (exosomes, microvesicles, apoptotic bodies) and the rest are
unrelated biomedical research, whose only EV sentence, if any, is in the background.
Within the EV abstracts, EV sentences are mixed with methods, statistics and background.

The vocabulary is the generator's own, not read from ``gazetteers/``, so the corpus stays
the same while the gazetteers change. Records are written with the tests' PubMed XML
writer (``tests/pubmed_xml.py``), one at a time, so a 30,000-record file is never held in
memory.
"""

from __future__ import annotations

import gzip
import random
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pubmed_xml import DOCTYPE, XML_DECLARATION, Record, article_xml

from minemig.models import AbstractSection

WORDS = {
    "migrasome": ["migrasomes", "migrasomes", "migrasomes", "migrasome-like vesicles"],
    "migrasome_sg": ["migrasome", "migrasome"],
    "ev": [
        "exosomes",
        "small extracellular vesicles",
        "extracellular vesicles",
        "EVs",
        "microvesicles",
        "apoptotic bodies",
        "ectosomes",
        "large oncosomes",
        "sEVs",
    ],
    "ev_sg": ["exosome", "extracellular vesicle", "EV", "microvesicle"],
    "marker": [
        "TSPAN4",
        "integrin α5",
        "CPQ",
        "NDST1",
        "PIGK",
        "EOGT",
        "CD63",
        "CD9",
        "CD81",
        "TSG101",
        "ALIX",
        "flotillin-1",
        "annexin A1",
        "PLD1",
        "FAM20C",
        "ITGB1",
        "TSPAN9",
        "syntenin-1",
        "HSP70",
        "LAMP1",
    ],
    "cargo": [
        "damaged mitochondria",
        "mRNA",
        "PTEN mRNA",
        "CXCL12",
        "TGF-β1",
        "miR-21",
        "miR-155-5p",
        "chemokines",
        "cytokines",
        "VEGFA",
        "PD-L1",
        "cholesterol",
        "sphingomyelin",
        "lncRNA MALAT1",
        "circular RNAs",
        "mitochondrial DNA",
        "IL-6",
        "angiopoietin-1",
    ],
    "regulator": [
        "sphingomyelin synthase 2 (SMS2)",
        "Rab35",
        "PIP5K1A",
        "myosin II",
        "CERS5",
        "RhoA",
        "Cdc42",
        "Rac1",
        "nSMase2",
        "Rab27a",
        "ESCRT-III",
        "dynamin-2",
        "cortactin",
        "septin-7",
    ],
    "cell": [
        "neutrophils",
        "macrophages",
        "L929 cells",
        "NRK cells",
        "podocytes",
        "MGC-803 cells",
        "MDA-MB-231 cells",
        "HeLa cells",
        "microglia",
        "dendritic cells",
        "monocytes",
        "mesenchymal stem cells",
        "T cells",
        "hepatocytes",
        "fibroblasts",
        "endothelial cells",
        "cardiomyocytes",
        "keratinocytes",
    ],
    "function": [
        "organ morphogenesis",
        "mitochondrial quality control",
        "lateral transfer of mRNA",
        "angiogenesis",
        "immune evasion",
        "wound healing",
        "coagulation",
        "tumour metastasis",
        "cell–cell communication",
        "embryonic development",
        "inflammation",
        "fibrosis",
        "tissue regeneration",
    ],
    "disease": [
        "diabetic nephropathy",
        "ischemic stroke",
        "hepatocellular carcinoma",
        "gastric cancer",
        "breast cancer",
        "sepsis",
        "rheumatoid arthritis",
        "Alzheimer's disease",
        "chronic kidney disease",
        "pulmonary fibrosis",
        "COVID-19",
        "type 2 diabetes",
        "atherosclerosis",
        "colorectal cancer",
        "multiple sclerosis",
    ],
    "method": [
        "transmission electron microscopy",
        "nanoparticle tracking analysis",
        "western blotting",
        "immunofluorescence",
        "live-cell imaging",
        "confocal microscopy",
        "density gradient centrifugation",
        "differential ultracentrifugation",
        "structured illumination microscopy",
        "flow cytometry",
        "proteomic profiling",
        "single-cell RNA sequencing",
        "size-exclusion chromatography",
    ],
    "gene": [
        "STAT3",
        "NF-κB",
        "AKT1",
        "mTOR",
        "TP53",
        "KRAS",
        "EGFR",
        "BRCA1",
        "SIRT1",
        "NLRP3",
        "HIF-1α",
        "YAP",
        "β-catenin",
        "Nrf2",
        "TNF-α",
        "IL-1β",
        "caspase-3",
        "Bcl-2",
        "MMP9",
        "SOX2",
        "GAPDH",
        "PPARγ",
        "FOXO3",
        "AMPK",
        "ERK1/2",
        "JNK",
        "p38 MAPK",
        "TLR4",
        "CD36",
        "ACE2",
    ],
    "drug": [
        "metformin",
        "dexamethasone",
        "cisplatin",
        "rapamycin",
        "resveratrol",
        "doxorubicin",
        "atorvastatin",
        "curcumin",
        "paclitaxel",
        "sorafenib",
        "empagliflozin",
        "N-acetylcysteine",
        "blebbistatin",
        "GW4869",
        "myriocin",
        "methyl-β-cyclodextrin",
    ],
    "model": [
        "C57BL/6 mice",
        "db/db mice",
        "zebrafish embryos",
        "Sprague-Dawley rats",
        "a xenograft mouse model",
        "a middle cerebral artery occlusion (MCAO) model",
        "patient-derived organoids",
        "a cohort of 214 patients",
        "a streptozotocin-induced diabetic model",
        "a bleomycin-induced lung injury model",
    ],
    "process": [
        "apoptosis",
        "autophagy",
        "proliferation",
        "cell migration",
        "oxidative stress",
        "ferroptosis",
        "epithelial-mesenchymal transition",
        "insulin resistance",
        "lipid accumulation",
        "glycolysis",
        "mitochondrial dysfunction",
        "pyroptosis",
        "senescence",
        "angiogenesis",
        "extracellular matrix deposition",
    ],
    "tissue": [
        "kidney",
        "liver",
        "brain",
        "lung",
        "heart",
        "plasma",
        "urine",
        "serum",
        "tumour tissue",
        "adipose tissue",
        "bone marrow",
        "cerebrospinal fluid",
    ],
    "change": ["increased", "decreased", "reduced", "enhanced", "attenuated", "promoted"],
    "change_noun": ["an increase", "a decrease", "a marked reduction", "a twofold increase"],
    "verb_enrich": [
        "was enriched on",
        "was highly enriched in",
        "accumulated in",
        "localized to",
        "was concentrated in",
        "was detected in",
        "was packaged into",
        "was sorted into",
    ],
    "verb_required": [
        "is required for",
        "is essential for",
        "regulates",
        "promotes",
        "controls",
        "drives",
        "is dispensable for",
    ],
    "hedge": ["may", "might", "could", "is likely to", "appears to"],
    "suggest": ["suggest", "indicate", "demonstrate", "show", "reveal", "imply"],
    "stat": [
        "(p < 0.001)",
        "(p < 0.05)",
        "(P = 0.003)",
        "(n = 6 per group)",
        "(HR 1.84, 95% CI 1.21–2.79)",
        "(r = 0.62, p < 0.01)",
        "(AUC = 0.87)",
        "(OR 2.3, 95% CI 1.4–3.8)",
    ],
    "size": [
        "0.5–3 μm",
        "500–3000 nm",
        "30–150 nm",
        "100–1000 nm",
        "1–5 μm",
        "50–100 nm",
        "about 2 μm",
        "40-120 nm",
    ],
}

# Sentences by kind; {slot} draws from WORDS, {n} a number, {pct} a percentage.
MIGRASOME = [
    "{migrasome} are organelles that form on {rf} left behind by migrating cells.",
    "{marker} {verb_enrich} {migrasome} of {cell} {stat}.",
    "We found that {migrasome} released by {cell} carried {cargo} and {cargo}.",
    "Knockdown of {regulator} {change} the number of {migrasome} per cell by {pct} {stat}.",
    "{regulator} {verb_required} {migrasome_sg} formation in {cell}.",
    "Using {method}, we observed that {migrasome} measured {size} in diameter.",
    "{migrasome} were isolated by {method} and characterized by {method}.",
    "{marker}-positive {migrasome} accumulated along {rf} in {model}.",
    "Mechanistically, {migrasome} mediate {function} by delivering {cargo} to nearby cells.",
    "Loss of {marker} abolished {migrasome_sg} biogenesis, whereas its overexpression {change} it.",
    "These findings {suggest} that {migrasome} {hedge} contribute to {function} in {disease}.",
    "In {model}, {migrasome} derived from {cell} were detected in {tissue} {stat}.",
    "{cell} generated abundant {migrasome} that contained {cargo}, a process termed mitocytosis.",
    "{migrasome} were not enriched in {marker}, in contrast to {ev}.",
    "The migrasome marker {marker} was used to track {migrasome} by {method}.",
    "Inhibition of {regulator} with {drug} {change} {migrasome_sg} production in {cell}.",
    "{migrasome} are distinct from {ev}, which are {size} in size and carry {marker}.",
    "Urinary {migrasome} from podocytes were elevated in patients with {disease} {stat}.",
    "Migracytosis, the release of cellular contents through {migrasome}, {change} {function}.",
    "We propose that {migrasome} {hedge} serve as a biomarker of {disease}.",
    "Vesicles released from {migrasome} were {size} and contained {cargo}.",
    "Retraction fiber-derived vesicles carried {marker} and {cargo}.",
    "Macrodomains assembled by {marker} and cholesterol drive {migrasome_sg} growth.",
]
EV = [
    "{ev} are lipid bilayer vesicles of {size} released by most cell types.",
    "{ev} derived from {cell} were enriched in {marker} and {marker} {stat}.",
    "{ev} were isolated from {tissue} by {method} and characterized by {method}.",
    "We showed that {ev} from {cell} transferred {cargo} to recipient {cell}.",
    "{cargo} packaged into {ev} {change} {process} in recipient cells {stat}.",
    "Treatment with {drug} {change} the secretion of {ev} by {cell}.",
    "Circulating {ev} carrying {cargo} were associated with {disease} {stat}.",
    "{ev} {hedge} promote {function} by delivering {cargo} to {cell}.",
    "Blocking {ev_sg} release with {drug} attenuated {process} in {model}.",
    "{ev} isolated from {tissue} of patients with {disease} contained higher levels of {cargo}.",
    "The classical {ev_sg} markers {marker}, {marker} and {marker} were detected by {method}.",
    "{ev} secreted by {cell} were taken up by {cell} and {change} {process}.",
    "Plasma {ev} expressing {marker} distinguished patients with {disease} from controls {stat}.",
    "{cell}-derived {ev} alleviated {disease} in {model} through {cargo}-mediated {process}.",
    "Unlike {migrasome}, {ev} originate from multivesicular bodies and carry {marker}.",
]
BACKGROUND = [
    "{disease} is a leading cause of morbidity and mortality, yet therapies remain limited.",
    "The molecular mechanisms underlying {process} in {disease} remain poorly understood.",
    "{gene} has emerged as a key regulator of {process} in several tissues.",
    "Accumulating evidence implicates {process} in the progression of {disease}.",
    "Although {gene} signalling is known to control {process}, its role in {disease} is unclear.",
    "Extracellular vesicles have attracted attention as mediators of intercellular communication.",
    "{disease} is characterized by {process} and progressive loss of {tissue} function.",
    "Biomarkers that predict outcome in {disease} are urgently needed.",
    "Here, we investigated whether {gene} modulates {process} in {disease}.",
    "The aim of this study was to evaluate the effect of {drug} on {process} in {model}.",
]
METHODS = [
    "We used {model} and primary {cell} to study {process}.",
    "{gene} expression was measured by quantitative PCR and {method}.",
    "Mice were treated with {drug} ({n} mg/kg) for {n} weeks.",
    "{cell} were transfected with siRNA against {gene} or a scrambled control.",
    "A total of {n3} patients with {disease} and {n} healthy controls were enrolled.",
    "Samples of {tissue} were analysed by {method} and histology.",
    "Statistical significance was assessed by two-way ANOVA with Tukey's post hoc test.",
    "Protein levels of {gene}, {gene} and {gene} were determined by {method}.",
    "RNA sequencing was performed on {tissue} from {n} animals per group.",
    "CRISPR-Cas9 was used to generate {gene}-deficient {cell}.",
]
RESULTS = [
    "{drug} {change} {process} and {change} the expression of {gene} {stat}.",
    "Silencing of {gene} {change} {process} in {cell} {stat}.",
    "{gene} levels were {pct} higher in {tissue} of patients with {disease} than controls {stat}.",
    "Compared with controls, {model} showed {change_noun} in {process} {stat}.",
    "{gene} bound directly to {gene} and promoted its phosphorylation at Ser{n3}.",
    "Overexpression of {gene} reversed the effects of {drug} on {process}.",
    "High {gene} expression was associated with poor overall survival {stat}.",
    "{drug} treatment reduced serum {gene} from {n}.{n} to {n}.{n} ng/mL {stat}.",
    "The {gene}/{gene} axis mediated the protective effect of {drug} against {process}.",
    "Pharmacological inhibition of {gene} with {drug} abolished {process} in {cell}.",
    "Multivariate analysis identified {gene} as an independent predictor of {disease} {stat}.",
    "{process} was {change} by {pct} in {gene}-knockout {cell} {stat}.",
]
CONCLUSIONS = [
    "These results {suggest} that {gene} is a promising therapeutic target for {disease}.",
    "Our findings {suggest} that targeting {process} {hedge} benefit patients with {disease}.",
    "Together, these data identify {gene} as a regulator of {process}.",
    "This study provides new insight into the pathogenesis of {disease}.",
    "{drug} protects against {disease} by suppressing {process} through {gene} signalling.",
]
TITLES = {
    "migrasome": [
        "{regulator} regulates migrasome formation in {cell}",
        "Migrasomes released by {cell} carry {cargo} and promote {function}",
        "{marker} marks migrasomes that mediate {function} in {disease}",
        "Migrasome-mediated {function} in {model}",
    ],
    "ev": [
        "{cell}-derived exosomal {cargo} promotes {process} in {disease}",
        "Extracellular vesicles from {cell} alleviate {disease} via {cargo}",
        "Circulating extracellular vesicle {cargo} as a biomarker of {disease}",
        "Small extracellular vesicles transfer {cargo} to {cell} and drive {process}",
    ],
    "other": [
        "{gene} promotes {process} in {disease} through {gene} signalling",
        "{drug} attenuates {process} in {model}",
        "Role of {gene} in {process} and {disease}",
        "{gene} expression predicts outcome in {disease}",
        "Targeting {gene} reverses {process} in {model}",
    ],
}
JOURNALS = [
    "Nature Cell Biology",
    "Cell Research",
    "Journal of Extracellular Vesicles",
    "Kidney International",
    "Cell Death & Disease",
    "Frontiers in Immunology",
    "Journal of Cell Science",
    "Theranostics",
    "Scientific Reports",
    "PLoS One",
]
_SLOT = re.compile(r"\{(\w+)\}")
_RF = ["retraction fibers", "retraction fibres", "retraction fibers (RFs)"]


class AbstractWriter:
    """Seeded abstracts; the same seed gives the same corpus on every machine."""

    def __init__(self, seed: int = 2024) -> None:
        self.rng = random.Random(seed)

    def fill(self, template: str) -> str:
        rng = self.rng

        def slot(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "n":
                return str(rng.randint(2, 60))
            if name == "n3":
                return str(rng.randint(100, 999))
            if name == "pct":
                return f"{rng.randint(20, 90)}%"
            if name == "rf":
                return rng.choice(_RF)
            return rng.choice(WORDS[name])

        text = _SLOT.sub(slot, template)
        # Sentence case, but never 'MRNA' or 'MiR-21'.
        return text[0].upper() + text[1:] if text[:1].isascii() and text[:2].islower() else text

    def sentences(self, pool: Sequence[str], k: int) -> list[str]:
        return [self.fill(t) for t in self.rng.sample(list(pool), min(k, len(pool)))]

    def abstract(self, kind: str) -> tuple[str, list[AbstractSection]]:
        """A title and abstract of ``kind``: 'migrasome', 'ev' or 'other'."""
        rng = self.rng
        title = self.fill(rng.choice(TITLES[kind]))
        topical = {"migrasome": MIGRASOME, "ev": EV, "other": []}[kind]
        n_topical = {"migrasome": rng.randint(5, 8), "ev": rng.randint(4, 7), "other": 0}[kind]
        background = self.sentences(BACKGROUND, rng.randint(1, 3))
        if kind == "other" and rng.random() < 0.3:
            background.append(self.fill(rng.choice(EV[:3])))
        methods = self.sentences(METHODS, rng.randint(2, 3))
        results = self.sentences(RESULTS, rng.randint(2, 5) if kind != "other" else 6)
        results[1:1] = self.sentences(topical, n_topical)
        conclusions = self.sentences(CONCLUSIONS, rng.randint(1, 2))
        parts = [background, methods, results, conclusions]
        # Trim or pad to 200–300 words, then lay out as PubMed does.
        target = rng.randint(200, 300)
        while _words(title, parts) > target and len(results) > 3:
            results.pop(rng.randrange(1, len(results)))
        while _words(title, parts) < target - 10:
            results.append(self.fill(rng.choice(RESULTS)))
        if rng.random() < 0.6:
            labels = ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
            sections = [
                AbstractSection(" ".join(part), label, label)
                for part, label in zip(parts, labels, strict=True)
            ]
        else:
            sections = [AbstractSection(" ".join(s for part in parts for s in part))]
        return title, sections


def _words(title: str, parts: Sequence[Sequence[str]]) -> int:
    return len(title.split()) + sum(len(s.split()) for part in parts for s in part)


def records(n: int, *, seed: int = 2024, first_pmid: int = 30_000_000) -> Iterator[Record]:
    """``n`` records: about 20% migrasome, 30% other EV and 50% unrelated abstracts."""
    writer = AbstractWriter(seed)
    rng = writer.rng
    for i in range(n):
        roll = rng.random()
        kind = "migrasome" if roll < 0.2 else "ev" if roll < 0.5 else "other"
        title, sections = writer.abstract(kind)
        yield Record(
            pmid=str(first_pmid + i),
            title=title + ".",
            abstract=sections,
            journal=rng.choice(JOURNALS),
            pub_date=f"{rng.randint(2015, 2024)}-{rng.randint(1, 12):02d}",
            entrez_date=date(2024, 1, 1) + timedelta(days=i % 365),
            doi=f"10.1000/bench.{first_pmid + i}",
            mesh_headings=("Extracellular Vesicles",) if kind != "other" else ("Humans",),
        )


SURNAMES = ["Wang", "Li", "Zhang", "Chen", "Smith", "Müller", "Garcia", "Kim", "Rossi", "Tanaka"]
INITIALS = ["J", "Y", "X", "M", "A", "K", "L", "H", "S", "T"]


def _with_metadata(fragment: str, rng: random.Random) -> str:
    """Authors with affiliations and a reference list, as real records carry: most of a
    baseline file's bytes are metadata the parser reads past."""
    authors = "".join(
        f'<Author ValidYN="Y"><LastName>{rng.choice(SURNAMES)}</LastName>'
        f"<ForeName>{rng.choice(INITIALS)}</ForeName><Initials>{rng.choice(INITIALS)}</Initials>"
        f"<AffiliationInfo><Affiliation>Department of Cell Biology, University of Somewhere,"
        f" {rng.randint(10000, 99999)} City, Country.</Affiliation></AffiliationInfo></Author>"
        for _ in range(rng.randint(3, 12))
    )
    references = "".join(
        f"<Reference><Citation>{rng.choice(SURNAMES)} {rng.choice(INITIALS)}, et al. A study"
        f" of {rng.choice(WORDS['process'])}. J Biol. {rng.randint(1990, 2023)};"
        f"{rng.randint(1, 300)}:{rng.randint(1, 9999)}.</Citation><ArticleIdList>"
        f'<ArticleId IdType="pubmed">{rng.randint(1_000_000, 39_999_999)}</ArticleId>'
        f"</ArticleIdList></Reference>"
        for _ in range(rng.randint(10, 40))
    )
    fragment = fragment.replace(
        "<Language>", f'<AuthorList CompleteYN="Y">{authors}</AuthorList><Language>', 1
    )
    return fragment.replace(
        "</ArticleIdList></PubmedData>",
        f"</ArticleIdList><ReferenceList>{references}</ReferenceList></PubmedData>",
        1,
    )


def write_corpus(
    path: Path, items: Iterator[Record] | Sequence[Record], *, deleted_pmids: Sequence[str] = ()
) -> Path:
    """A gzip-compressed PubmedArticleSet, written record by record like a baseline file."""
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        out.write(f"{XML_DECLARATION}\n{DOCTYPE}\n<PubmedArticleSet>\n")
        rng = random.Random(7)
        for record in items:
            out.write(_with_metadata(article_xml(record), rng))
            out.write("\n")
        if deleted_pmids:
            out.write("<DeleteCitation>")
            out.write("".join(f'<PMID Version="1">{pmid}</PMID>' for pmid in deleted_pmids))
            out.write("</DeleteCitation>\n")
        out.write("</PubmedArticleSet>\n")
    return path
