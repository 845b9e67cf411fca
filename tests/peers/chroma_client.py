"""The independent Chroma client of the tests: Chroma's own Python client.

    chroma_client.py get PORT COLLECTION   every record as a JSON line
                                           {id, document, metadata, embedding}
    chroma_client.py count PORT COLLECTION the number of records
    chroma_client.py drop PORT COLLECTION  deletes the collection if it exists
    chroma_client.py seed PORT COLLECTION N  a fresh l2 collection of N records:
                                           id i, vector [i, 2i, 1], name "n<i>"
                                           (N = 0: an empty collection)
"""

import json
import sys

import chromadb


def main():
    command, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    if command == "drop":
        try:
            client.delete_collection(name)
        except Exception:  # noqa: BLE001 - missing is fine
            pass
        return
    if command == "seed":
        try:
            client.delete_collection(name)
        except Exception:  # noqa: BLE001 - missing is fine
            pass
        collection = client.create_collection(name, configuration={"hnsw": {"space": "l2"}})
        n = int(sys.argv[4])
        if n > 0:
            collection.add(
                ids=[str(i) for i in range(1, n + 1)],
                embeddings=[[float(i), float(2 * i), 1.0] for i in range(1, n + 1)],
                metadatas=[{"name": f"n{i}"} for i in range(1, n + 1)],
            )
        return
    collection = client.get_collection(name)
    if command == "count":
        print(collection.count())
    elif command == "get":
        got = collection.get(include=["embeddings", "documents", "metadatas"])
        for i, id_ in enumerate(got["ids"]):
            print(json.dumps({
                "id": id_,
                "document": got["documents"][i],
                "metadata": got["metadatas"][i],
                "embedding": [float(v) for v in got["embeddings"][i]],
            }))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
