"""Findings from realistic abstract sentences, read with the project's own gazetteers.

Each case is a sentence written in the style of a PubMed abstract and the exact set of
(EV type, category, entity id, negated, speculative) a curator would record from it.
"""

from __future__ import annotations

from typing import Any

import pytest

from minemig.models import AbstractSection, Article

M, X, R = "EV:migrasome", "EV:exosome", "EV:retraction_fiber"


def findings(reader: Any, text: str, title: str = "") -> set[tuple[str, str, str, bool, bool]]:
    article = Article(pmid="1", title=title, abstract_sections=(AbstractSection(text),))
    (_, found) = next(reader.read([article]))
    return {(f.ev_type, f.category, f.entity_id, f.negated, f.speculative) for f in found}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # marker forms: compound, '+', construct, 'positive for'
        (
            "TSPAN4-positive migrasomes were counted on fibronectin.",
            {(M, "marker", "TSPAN4", False, False)},
        ),
        (
            "Tspan4+ migrasomes accumulated behind migrating cells.",
            {(M, "marker", "TSPAN4", False, False)},
        ),
        (
            "Migrasomes were labelled with Tspan4-GFP and wheat germ agglutinin.",
            {(M, "marker", "TSPAN4", False, False), (M, "marker", "MINEMIG:wga", False, False)},
        ),
        (
            "Migrasomes were positive for NDST1 and carried PTEN mRNA.",
            {
                (M, "marker", "NDST1", False, False),
                (M, "cargo", "PTEN", False, False),
                (M, "cargo", "MINEMIG:mrna", False, False),
            },
        ),
        # an unlisted gene found by its symbol
        ("Migrasomes were strongly enriched in PLD1.", {(M, "marker", "PLD1", False, False)}),
        # a symbol defined in the text, used by its long form
        (
            "Sorting nexin 27 (SNX27) is required for migrasome formation.",
            {(M, "biogenesis", "SNX27", False, False)},
        ),
        # a gazetteer alias resolves to the HGNC symbol
        (
            "Sphingomyelin synthase 2 (SMS2) is required for migrasome formation.",
            {(M, "biogenesis", "SGMS2", False, False)},
        ),
        # biogenesis: a perturbation that abolishes formation is a positive claim
        (
            "Knockdown of ITGB1 abolished migrasome formation in L929 cells.",
            {(M, "biogenesis", "ITGB1", False, False)},
        ),
        ("Migrasome formation was independent of CD63.", {(M, "biogenesis", "CD63", True, False)}),
        # producer cells and functions
        (
            "Neutrophil-derived migrasomes promote angiogenesis.",
            {
                (M, "cell_type", "CL:0000775", False, False),
                (M, "function", "GO:0001525", False, False),
            },
        ),
        (
            "Migrasomes released by podocytes were taken up by macrophages.",
            {(M, "cell_type", "CL:0000653", False, False)},
        ),
        # sizes with units
        (
            "Migrasomes (0.5–3 µm) were imaged by transmission electron microscopy.",
            {
                (M, "size", "SIZE:500-3000nm", False, False),
                (M, "method", "MINEMIG:transmission_electron_microscopy", False, False),
            },
        ),
        # negation and hedging per finding
        ("CD63 was not detected in migrasomes.", {(M, "marker", "CD63", True, False)}),
        (
            "Migrasomes may mediate mitocytosis.",
            {(M, "function", "MINEMIG:mitocytosis", False, True)},
        ),
        (
            "TSPAN4 is required for migrasome formation, which may promote metastasis.",
            {
                (M, "biogenesis", "TSPAN4", False, False),
                (M, "function", "MINEMIG:metastasis", False, True),
            },
        ),
        # a perturbed gene named as a modifier of the cells is still the subject
        (
            "Cd151-deficient macrophages produced 70% fewer migrasomes.",
            {
                (M, "biogenesis", "CD151", False, False),
                (M, "cell_type", "CL:0000235", False, False),
            },
        ),
        # a hedge in one conjunct stays there
        (
            "Migrasomes carry PD-L1 and could be exploited to improve therapy.",
            {(M, "cargo", "CD274", False, False)},
        ),
    ],
)
def test_claims_are_read_as_a_curator_would(reader: Any, text: str, expected: set) -> None:
    assert findings(reader, text) == expected


def test_each_marker_goes_to_the_ev_type_its_clause_names(reader: Any) -> None:
    text = "CD63 marked exosomes, whereas TSPAN4 marked migrasomes."
    assert findings(reader, text) == {
        (X, "marker", "CD63", False, False),
        (M, "marker", "TSPAN4", False, False),
    }


def test_a_contrast_phrase_is_not_the_subject(reader: Any) -> None:
    text = "Unlike exosomes, migrasomes contained damaged mitochondria."
    assert findings(reader, text) == {(M, "cargo", "MINEMIG:damaged_mitochondria", False, False)}


def test_but_not_gives_the_excluded_ev_a_negated_claim(reader: Any) -> None:
    text = "Migrasomes, but not exosomes, were labelled with WGA."
    assert findings(reader, text) == {
        (M, "marker", "MINEMIG:wga", False, False),
        (X, "marker", "MINEMIG:wga", True, False),
    }


def test_these_vesicles_refer_to_the_ev_named_before(reader: Any) -> None:
    text = (
        "Cells shed large oncosomes from membrane blebs; these vesicles were positive for "
        "ARF6 and caveolin-1."
    )
    assert findings(reader, text) == {
        ("EV:large_oncosome", "biogenesis", "MINEMIG:membrane_blebbing", False, False),
        ("EV:large_oncosome", "marker", "ARF6", False, False),
        ("EV:large_oncosome", "marker", "CAV1", False, False),
    }


def test_these_fibres_are_retraction_fibres_and_no_vesicles_are(reader: Any) -> None:
    text = (
        "Migrasomes grow at the tips of retraction fibres. Depletion of PIGK shortened these "
        "fibres, and CPQ was enriched in these vesicles."
    )
    assert findings(reader, text) == {
        (R, "biogenesis", "PIGK", False, False),
        (M, "marker", "CPQ", False, False),
    }
    # without fibres named before, 'these fibres' stand for nothing
    assert findings(reader, "Migrasomes carry mRNA. PIGK was enriched on these fibres.") == {
        (M, "cargo", "MINEMIG:mrna", False, False)
    }


def test_a_background_sentence_about_exosomes_gives_no_migrasome_finding(reader: Any) -> None:
    text = "Exosomes carry CD63 and CD81. Here we show that migrasomes are enriched in NDST1."
    found = findings(reader, text)
    assert (X, "cargo", "CD63", False, False) in found
    assert {f for f in found if f[0] == M} == {(M, "marker", "NDST1", False, False)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # CD8 only qualifies T cells, which receive the migrasomes
        ("CD8+ T cells were activated by migrasomes.", set()),
        # the macrophages make migrasomes; the tumour is no claim about them
        (
            "Tumour-associated macrophages released migrasomes.",
            {(M, "cell_type", "CL:0000235", False, False)},
        ),
        ("Cells migrating on fibronectin formed migrasomes.", set()),  # a substrate
        ("Cells expressing TSPAN4-GFP migrated faster.", set()),  # no EV in the claim
        ("Migrasomes were isolated from HeLa cells.", set()),  # a cell line is no cell type
    ],
)
def test_modifiers_and_substrates_are_not_claims(reader: Any, text: str, expected: set) -> None:
    assert findings(reader, text) == expected


def test_whole_genome_amplification_is_not_the_lectin(reader: Any) -> None:
    text = (
        "DNA from single migrasomes was subjected to whole-genome amplification (WGA). "
        "WGA products were sequenced from migrasomes."
    )
    assert not {f for f in findings(reader, text) if f[2] == "MINEMIG:wga"}


def test_the_title_is_read_as_its_own_sentence(reader: Any) -> None:
    found = findings(reader, "We studied it.", title="PLD1-positive migrasomes in zebrafish")
    assert (M, "marker", "PLD1", False, False) in found


def test_findings_carry_evidence_and_offsets(reader: Any) -> None:
    article = Article(
        pmid="38000001",
        title="Migrasomes after wounding",
        abstract_sections=(AbstractSection("Migrasomes were enriched in PLD1.", "RESULTS"),),
    )
    (_, found) = next(reader.read([article]))
    (finding,) = found
    text = "Migrasomes after wounding\nRESULTS: Migrasomes were enriched in PLD1."
    assert finding.pmid == "38000001"
    assert finding.evidence == "RESULTS: Migrasomes were enriched in PLD1."
    assert text[finding.start_char : finding.end_char] == "PLD1"
    assert finding.unlisted and finding.predicate.startswith("marked_by")


def test_a_symbol_defined_in_the_text_replaces_the_concepts_inside_its_long_form(
    reader: Any,
) -> None:
    text = (
        "Migrasomes are organelles of migrating cells. Proteomic analysis revealed that "
        "these vesicles carry tissue inhibitor of metalloproteinases 1 (TIMP1) and annexin A5."
    )
    assert findings(reader, text) == {
        (M, "method", "MINEMIG:proteomics", False, False),
        (M, "cargo", "TIMP1", False, False),
        (M, "cargo", "ANXA5", False, False),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a method named by its head noun, without the sentence's own adjective
        (
            "Migrasomes were quantified by automated high-content imaging.",
            {(M, "method", "UNLISTED:high-content imaging", False, False)},
        ),
        # a process that takes in the cell type before its head
        (
            "Migrasomes released by macrophages accelerate osteoclast fusion.",
            {
                (M, "cell_type", "CL:0000235", False, False),
                (M, "function", "UNLISTED:osteoclast fusion", False, False),
            },
        ),
        # a compound named after 'inhibitor', which the gene patterns would read as 'LY93'
        (
            "Treatment with the selective inhibitor Ly93 reduced migrasome numbers.",
            {(M, "biogenesis", "UNLISTED:ly93", False, False)},
        ),
        # a drug known by its name's ending
        (
            "Cisplatin increased migrasome output threefold.",
            {(M, "biogenesis", "UNLISTED:cisplatin", False, False)},
        ),
    ],
)
def test_unlisted_methods_processes_and_compounds_are_found(
    reader: Any, text: str, expected: set
) -> None:
    assert findings(reader, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # a name read back from its head stops at a compound it cannot read whole
        "Migrasomes activated cGAS–STING pathway activation in macrophages.",
        # a route of administration is not part of a process's name
        "Migrasomes were given by intravenous transfer.",
        # a plural cell type before a verb is the subject, not a process's name
        "Mesenchymal stem cells transfer mitochondria.",
    ],
)
def test_names_that_cannot_be_read_whole_give_no_unlisted_finding(reader: Any, text: str) -> None:
    assert not {f for f in findings(reader, text) if f[2].startswith("UNLISTED:")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Greek letters spelled as HGNC spells them; family names with a member number
        (
            "HIF-1α was required for migrasome formation.",
            {(M, "biogenesis", "HIF1A", False, False)},
        ),
        (
            "Migrasomes released by macrophages contained IL-1β and IL-6.",
            {
                (M, "cell_type", "CL:0000235", False, False),
                (M, "cargo", "IL1B", False, False),
                (M, "cargo", "IL6", False, False),
            },
        ),
        # a symbol that goes on into a compound word is still found
        (
            "Macrophages release DC-STAMP-containing migrasomes.",
            {
                (M, "cell_type", "CL:0000235", False, False),
                (M, "cargo", "DCSTAMP", False, False),
            },
        ),
        # cells exposed to a cytokine were treated with it; the cytokine marks no vesicle
        (
            "Exosomes were isolated from macrophages exposed to TNF-α.",
            {(X, "cell_type", "CL:0000235", False, False)},
        ),
    ],
)
def test_cytokines_and_greek_symbols_are_read_as_genes(
    reader: Any, text: str, expected: set
) -> None:
    assert findings(reader, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a verb after the entity is the predicate, not part of a compound
        (
            "Mice lacking Tspan4 produced fewer migrasomes.",
            {(M, "biogenesis", "TSPAN4", False, False)},
        ),
        (
            "Macrophages generated abundant migrasomes.",
            {(M, "cell_type", "CL:0000235", False, False)},
        ),
        # 'fewer migrasomes' speaks of how many formed
        (
            "Depletion of TSPAN4 resulted in fewer migrasomes.",
            {(M, "biogenesis", "TSPAN4", False, False)},
        ),
        # joined by a hyphen, the same verb makes a compound
        (
            "Neutrophil-produced migrasomes carried CXCL12.",
            {(M, "cell_type", "CL:0000775", False, False), (M, "cargo", "CXCL12", False, False)},
        ),
    ],
)
def test_a_past_form_after_the_entity_is_read_as_its_verb(
    reader: Any, text: str, expected: set
) -> None:
    assert findings(reader, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Exosomes were secreted by murine B16-F10 melanoma cells.",
        "We compared exosomes released by lung-tropic (4175-LM2) derivatives of the line.",
    ],
)
def test_hyphenated_cell_line_names_are_not_genes(reader: Any, text: str) -> None:
    assert not {f for f in findings(reader, text) if f[1] == "cargo"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # hedging adverbs, which no cue stem matches
        (
            "Migrasomes likely carry CXCL12.",
            {(M, "cargo", "CXCL12", False, True)},
        ),
        (
            "Migrasomes potentially mediate the transfer of mRNA.",
            {(M, "cargo", "MINEMIG:mrna", False, True)},
        ),
        # a second predicate after 'but' keeps the subject of the first
        (
            "CD63 was absent from migrasomes but present in exosomes.",
            {(M, "marker", "CD63", True, False), (X, "marker", "CD63", False, False)},
        ),
    ],
)
def test_hedging_adverbs_and_elided_subjects(reader: Any, text: str, expected: set) -> None:
    assert findings(reader, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the place is the fibre; the migrasome only dates the observation
        (
            "PIGK gathered into puncta along retraction fibres before migrasome formation.",
            {(R, "marker", "PIGK", False, False)},
        ),
        (
            "NDST1 was enriched on retraction fibres prior to migrasome biogenesis.",
            {(R, "marker", "NDST1", False, False)},
        ),
        # the migrasome sits in a relative clause about the fibre
        (
            "CPQ was concentrated on retraction fibres that later gave rise to migrasomes.",
            {(R, "marker", "CPQ", False, False)},
        ),
        # without such a clause the migrasome is still the place
        (
            "CPQ was concentrated in migrasomes that formed on retraction fibres.",
            {(M, "marker", "CPQ", False, False)},
        ),
    ],
)
def test_an_ev_named_as_a_time_or_in_a_relative_clause_is_not_the_place(
    reader: Any, text: str, expected: set
) -> None:
    assert findings(reader, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 'co-' is split from its verb; both molecules mark the EV
        (
            "NDST1 co-localised with PIGK on migrasomes.",
            {(M, "marker", "NDST1", False, False), (M, "marker", "PIGK", False, False)},
        ),
        (
            "CPQ colocalized with TSPAN4 in migrasomes.",
            {(M, "marker", "CPQ", False, False), (M, "marker", "TSPAN4", False, False)},
        ),
        # a factor that makes fibres longer or shorter acts on their formation
        (
            "Depletion of TSPAN4 shortened retraction fibres.",
            {(R, "biogenesis", "TSPAN4", False, False)},
        ),
        (
            "Loss of PIGK did not change retraction fibre length.",
            {(R, "biogenesis", "PIGK", True, False)},
        ),
    ],
)
def test_colocalisation_and_fibre_length(reader: Any, text: str, expected: set) -> None:
    assert findings(reader, text) == expected


NEUTROPHIL, MACROPHAGE, FIBROBLAST = "CL:0000775", "CL:0000235", "CL:0000057"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # cells that modify the EV, coordinated, and after a preposition of another verb
        (
            "CPQ was restricted to macrophage and fibroblast migrasomes.",
            {
                (M, "marker", "CPQ", False, False),
                (M, "cell_type", MACROPHAGE, False, False),
                (M, "cell_type", FIBROBLAST, False, False),
            },
        ),
        # the marker is denied, the cells that made the migrasomes are not
        (
            "PIGK was absent from neutrophil and endothelial migrasomes.",
            {
                (M, "marker", "PIGK", True, False),
                (M, "cell_type", NEUTROPHIL, False, False),
                (M, "cell_type", "CL:0000115", False, False),
            },
        ),
        (
            "Exosomes, but not neutrophil migrasomes, carried CXCL12.",
            {
                (X, "cargo", "CXCL12", False, False),
                (M, "cargo", "CXCL12", True, False),
                (M, "cell_type", NEUTROPHIL, False, False),
            },
        ),
        # the hedge is of the restriction, not of who made the migrasomes
        (
            "CPQ may be restricted to neutrophil-derived migrasomes.",
            {(M, "marker", "CPQ", False, True), (M, "cell_type", NEUTROPHIL, False, False)},
        ),
        # a cell adjective names a cell type only where it modifies an EV
        (
            "NDST1 was confined to migrasomes of mesenchymal origin.",
            {(M, "marker", "NDST1", False, False), (M, "cell_type", "CL:0008019", False, False)},
        ),
        ("Epithelial–mesenchymal transition promoted migrasome formation.", set()),
        # coordinated with the EV itself, not with another cell type
        (
            "PIGK and CPQ were compared in endothelial and migrasome fractions.",
            set(),
        ),
        # a denied production
        (
            "Neutrophils did not release migrasomes.",
            {(M, "cell_type", NEUTROPHIL, True, False)},
        ),
        (
            "Macrophages failed to generate migrasomes.",
            {(M, "cell_type", MACROPHAGE, True, False)},
        ),
        ("Migrasomes were delivered to macrophages.", set()),
    ],
)
def test_cells_that_make_an_ev(reader: Any, text: str, expected: set) -> None:
    assert findings(reader, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # scispaCy cuts 'KB' (kilobases) off 'PI4KB'; the symbol is read whole
        (
            "Silencing of PI4KB reduced migrasome formation.",
            {(M, "biogenesis", "PI4KB", False, False)},
        ),
        # '-specific' says where a deletion was made, not what marks the EV
        (
            "Inhibition of ROCK1 with Y-27632 or its macrophage-specific deletion abolished "
            "migrasome release.",
            {
                (M, "biogenesis", "ROCK1", False, False),
                (M, "biogenesis", "MINEMIG:y_27632", False, False),
            },
        ),
        # a perturbation of another molecule is that molecule's claim
        (
            "In cells expressing Tspan4-GFP, depletion of CHMP4B did not change migrasome numbers.",
            {(M, "biogenesis", "CHMP4B", True, False)},
        ),
    ],
)
def test_perturbations_are_claims_of_the_molecule_they_name(
    reader: Any, text: str, expected: set
) -> None:
    assert findings(reader, text) == expected
