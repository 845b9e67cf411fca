"""The independent Chroma client of the tests: Chroma's own Python client.

    chroma_client.py get PORT COLLECTION   every record as a JSON line
                                           {id, document, metadata, embedding}
    chroma_client.py count PORT COLLECTION the number of records
    chroma_client.py drop PORT COLLECTION  deletes the collection if it exists
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
