"""``python -m tests.pinecone_standin``: serve one stand-in index in the foreground."""

from __future__ import annotations

import argparse

from tests.pinecone_standin.server import StandInIndex, _Server


def main() -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for one Pinecone index.")
    parser.add_argument("--dimension", type=int, required=True)
    parser.add_argument("--metric", choices=("dotproduct", "cosine"), default="dotproduct")
    parser.add_argument("--port", type=int, default=5081)
    args = parser.parse_args()
    server = _Server(StandInIndex(args.dimension, args.metric), port=args.port)
    print(f"Pinecone stand-in (not Pinecone) on pinecone://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
