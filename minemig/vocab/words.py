"""Word lists behind the ambiguity guards of the public vocabularies.

A surface form in one of these lists is never taken on sight: it is kept in the compiled
vocabulary with a guard, and the matcher takes it only where the abstract supports it
(see :mod:`minemig.nlp.vocabulary`). The lists are data, reviewed like the gazetteers.
"""

from __future__ import annotations

from spacy.lang.en.stop_words import STOP_WORDS

from minemig.lexicon import NOT_GENE_SYMBOLS

# English words that are also HGNC symbols, aliases or previous symbols, or single-word
# GO / CL / DOID names: read as written they are far more often the word than the term
# ("Clock", "Impact", "Mice" at the start of a title; "memory T cells"; "heat shock").
ENGLISH_WORDS = frozenset(
    STOP_WORDS
    | {
        # approved HGNC symbols
        "camp", "caps", "cask", "cast", "chad", "chat", "chia", "clock", "coil", "comp",
        "cope", "gale", "hells", "hunk", "impact", "itch", "mall", "mica", "mice", "nodal",
        "numb", "palm", "pigs", "plat", "pole", "pomp", "prep", "proc", "rest", "sell",
        "star", "sync", "tank", "timeless", "trio",
        # HGNC aliases and previous symbols
        "anova", "apollo", "apple", "blame", "blast", "boule", "bright", "camel", "caper",
        "catacomb", "chasm", "chimp", "chrome", "cinema", "clasp", "coaster", "comet",
        "cryptic", "damage", "dance", "danger", "dapper", "deepest", "digit", "dragon",
        "dream", "enigma", "enrage", "fedora", "flame", "flash", "goliath", "grail", "grasp",
        "great", "gripe", "hamlet", "hiker", "laser", "large", "lifeguard", "limit", "mantis",
        "mater", "minion", "minor", "nuance", "oasis", "paint", "panda", "pander", "parrot",
        "particle", "pearl", "permit", "pesky", "pilot", "pinch", "plane", "prism", "prune",
        "punisher", "rhino", "rifle", "salsa", "secret", "sharp", "simple", "slack", "slick",
        "slinky", "smalltalk", "spice", "stamp", "staring", "stars", "steel", "stellar",
        "storm", "tango", "thank", "trade", "traits", "tribal", "twister", "warts",
        "whistle", "wise", "toddler", "soggy", "seahorse", "albatross", "bubblegum",
        "stardust", "tailless", "shiftless", "crinkled", "statin", "rec",
        # single-word ontology names and synonyms too general to stand alone
        "growth", "transport", "secretion", "translation", "transcription", "learning",
        "memory", "behavior", "behaviour", "locomotion", "reproduction", "signaling",
        "signalling", "localization", "localisation", "pigmentation", "death", "sleep",
        "feeding", "grooming", "mating", "flight", "swimming", "walking", "breathing",
        "digestion", "excretion", "regeneration", "healing", "circulation", "metabolism",
        "catabolism", "anabolism", "biosynthesis", "synthesis", "degradation", "breakdown",
        "formation", "assembly", "development", "differentiation", "proliferation",
        "migration", "motility", "adhesion", "division", "fusion", "communication",
        "recognition", "response", "regulation", "homeostasis", "detoxification", "uptake",
        "binding", "activation", "maturation", "polarization", "polarisation",
        "contraction", "relaxation", "release", "invasion", "injury", "pain", "fever",
        "shock", "cold", "depression", "stress", "aging", "ageing", "infection", "lesion",
        "wound", "cell", "cells", "disease", "diseases", "disorder", "syndrome", "tumor",
        "tumour", "gamete", "embryo", "larva", "fragment", "expression", "transfer",
        # labels of structured abstracts, often in capitals
        "background", "methods", "method", "results", "result", "conclusions", "conclusion",
        "objective", "objectives", "purpose", "aims", "aim", "introduction", "design",
        "setting", "participants", "patients", "interventions", "measurements", "findings",
        "interpretation", "significance", "importance", "context", "evidence", "summary",
        "highlights", "rationale", "hypothesis", "limitations", "funding", "registration",
        "discussion", "abstract", "materials", "outcome", "outcomes", "main", "review",
    }
)  # fmt: skip

# Short forms that name something else in an EV abstract far more often than a gene:
# methods, units, reagents, cell lines, vesicle names (plus the relation rules' own list).
STOP_FORMS = frozenset(
    NOT_GENE_SYMBOLS
    | {
        # units
        "nm", "um", "µm", "mm", "cm", "km", "mg", "ml", "ul", "µl", "ng", "pg", "kg", "kda",
        "da", "mw", "bp", "kb", "mb", "gb", "rpm", "hz", "khz", "mhz", "ph", "od", "au", "mol",
        "mmol", "nmol", "pmol", "min", "sec", "hr", "hrs", "ms", "kv", "mv", "iu", "pfu",
        "moi", "rcf", "xg",
        # methods, instruments and reagents
        "hplc", "fret", "blast", "nmr", "maldi", "tof", "dls", "tirf", "sted", "sim", "palm",
        "storm", "clem", "sds", "page", "dmem", "rpmi", "hepes", "tris", "itraq", "lcms",
        "qrt", "chip", "seq", "rip", "clip", "elisa", "facs", "nta", "tem", "sem", "afm",
        "cryo", "ihc", "icc", "fish", "gsea", "kegg", "tcga", "geo", "ppi", "string",
        "ms2", "pp7", "bioid", "apex2", "turboid",
        # vesicles and organelles
        "ev", "evs", "sev", "sevs", "lev", "levs", "exo", "exos", "mvs", "mvb", "mvbs",
        "ilv", "ilvs", "ecto", "rf", "rfs", "er", "ecm", "lds", "ld", "mito", "golgi",
        # cell lines
        "hela", "hek", "hek293", "hek293t", "jurkat", "k562", "mcf7", "nih3t3", "3t3",
        "mc38", "b16", "b16f10", "4t1", "ct26", "llc", "pc12", "u87", "u251", "bv2",
        "raw", "raw264", "hmec", "huvec", "hct116", "sw620", "lovo", "ht29", "caco2",
        "hacat", "vero", "cos", "cos7", "t47d", "a431", "h1299", "h460", "u2os", "l929",
        "nrk", "mgc803", "a549", "hepg2", "huh7", "thp1", "mef", "mefs",
        # general abbreviations
        "covid", "sars", "hiv", "hbv", "hcv", "who", "fda", "nih", "usa", "ci", "sd", "or",
        "rr", "auc", "roc", "vs", "et", "al", "ie", "eg", "ns", "id", "ids", "wt",
        "ko", "kd", "oe", "nc", "ctrl",
    }
)  # fmt: skip

# Last words of HGNC alias or previous names that name a disease or a process, not the
# gene (HGNC keeps locus names such as "Alzheimer disease" as previous names).
NOT_GENE_NAME_HEADS = frozenset(
    {
        "disease", "syndrome", "disorder", "deficiency", "anemia", "anaemia", "dysplasia",
        "dystrophy", "ataxia", "cataract", "porphyria", "protoporphyria", "coproporphyria",
        "cystinosis", "xanthomatosis", "amyloidosis", "craniosynostosis", "sclerosteosis",
        "cherubism", "trichothiodystrophy", "synpolydactyly", "hypoplasia", "spondylitis",
        "rhinitis", "insipidus", "chorea", "osteodystrophy", "feminization", "strabismus",
        "cancer", "carcinoma", "leukemia", "leukaemia", "lymphoma", "tumor", "tumour",
        "activation", "differentiation", "proliferation", "susceptibility", "locus",
    }
)  # fmt: skip

# Words after a gene form that make it a gene: "X protein", "X-positive", "X knockdown".
GENE_CONTEXT_AFTER = frozenset(
    {
        "protein", "proteins", "gene", "genes", "mrna", "mrnas", "transcript", "transcripts",
        "knockdown", "knockout", "knock", "depletion", "deletion", "overexpression",
        "expression", "sirna", "sirnas", "shrna", "shrnas", "sgrna", "positive", "negative",
        "+", "gfp", "egfp", "mcherry", "deficiency", "deficient", "loss", "levels", "level",
        "signaling", "signalling", "pathway", "activity", "antibody", "antibodies",
        "promoter", "locus", "mutant", "mutants", "mutation", "mutations", "variant",
        "variants", "isoform", "isoforms", "subunit", "homolog", "homologue", "ortholog",
        "null", "-/-", "−/−", "+/-", "+/+", "kd", "ko", "immunostaining",
        "staining", "immunoreactivity", "phosphorylation", "inhibition", "silencing",
        "ablation", "upregulation", "downregulation", "abundance", "localization",
        "localisation", "recruitment", "transcription", "family", "paralog", "paralogs",
        "gain", "allele", "alleles", "haploinsufficiency", "polymorphism", "polymorphisms",
    }
)  # fmt: skip
# Words before a gene form that make it a gene: "anti-X", "the gene X", "human X".
GENE_CONTEXT_BEFORE = frozenset(
    {
        "anti", "gene", "protein", "encoding", "recombinant", "phospho", "phosphorylated",
        "human", "mouse", "murine", "rat", "zebrafish", "endogenous", "exogenous", "si",
        "sh", "full-length", "mutant", "wild-type",
    }
)  # fmt: skip
# "knockdown of X", "expression of X": a noun of these, then "of", then the gene.
GENE_CONTEXT_OF = frozenset(
    {
        "expression", "knockdown", "knockout", "depletion", "deletion", "loss",
        "overexpression", "silencing", "inhibition", "levels", "level", "ablation",
        "activation", "phosphorylation", "mutation", "mutations", "deficiency",
        "upregulation", "downregulation", "abundance", "localization", "localisation",
        "recruitment", "transcription", "inhibitors", "inhibitor", "absence",
    }
)  # fmt: skip
# A gene form glued by a hyphen to one of these is still that gene ("TSPAN4-GFP",
# "CD63-positive", "PLD1-mediated"); glued to anything else it is part of another name
# ("SARS-CoV-2", "SDS-PAGE").
HYPHEN_PARTNERS = frozenset(
    GENE_CONTEXT_AFTER
    | {
        "mediated", "dependent", "independent", "induced", "driven", "deficient", "expressing",
        "overexpressing", "labeled", "labelled", "enriched", "rich", "containing", "bound",
        "binding", "associated", "related", "specific", "high", "low", "like", "anti", "p",
        "yfp", "rfp", "cfp", "mscarlet", "tdtomato", "halo", "flag", "ha", "myc", "v5",
        "his", "snap", "phluorin", "mneongreen", "venus", "luc", "fc", "knockin", "ki",
        "wt", "mut", "dn", "ca", "fl", "as",
    }
)  # fmt: skip
# After a gene form these make it a cell line or a unit: "PC12 cells", "L929 line".
NOT_GENE_AFTER = frozenset({"cell", "cells", "line", "lines", "xenograft", "xenografts"})
