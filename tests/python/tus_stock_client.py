#!/usr/bin/env python3
"""Uploads one blob to Fieldline with the stock tus client `tuspy` (PyPI), in two sittings:
the first uploads one chunk and stops, the second resumes from the server's offset (HEAD) with a
new uploader that knows only the upload URL. Prints JSON facts for the calling Rust test.

Usage: tus_stock_client.py URL TOKEN JOB_ID SHA256 FILE CHUNK_BYTES
"""
import json
import sys

from tusclient import client


def main():
    url, token, job, sha, path, chunk = sys.argv[1:7]
    chunk = int(chunk)
    tus = client.TusClient(f"{url}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"})
    first = tus.uploader(file_path=path, chunk_size=chunk, metadata={"sha256": sha, "job": job})
    first.upload_chunk()  # creates the upload, then sends one chunk
    upload_url = first.url
    after_first = first.offset
    # A new sitting (e.g. after the app was killed): only the URL survived.
    second = tus.uploader(file_path=path, chunk_size=chunk, url=upload_url)
    resumed_from = second.get_offset()
    second.upload()
    print(json.dumps({
        "url": upload_url,
        "after_first": after_first,
        "resumed_from": resumed_from,
        "final": second.offset,
    }))


if __name__ == "__main__":
    main()
