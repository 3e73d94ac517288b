"""A stand-in for the Hugging Face Hub and ModelScope on 127.0.0.1, speaking the parts of their HTTP APIs that
`huggingface_hub` and `modelscope` use to download (file listings, HEAD/GET of files with Range, 404s).

Repositories live in memory: `hub.add("model", "Qwen/Tiny", {"config.json": b"{}"})`. `cut` makes the next
downloads of a file stop half-way (the connection closes mid-body), to test interrupted transfers. Every request
is logged in `requests` as (method, path).
"""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, port: int = 0) -> None:
        self.repos: dict[tuple[str, str], dict[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        self.cuts: dict[str, int] = {}
        self.ranges: list[tuple[str, int]] = []  # (file, first byte) of every GET that asked for a Range
        self._server = _QuietServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add(self, kind: str, repo_id: str, files: dict[str, bytes]) -> None:
        self.repos[(kind, repo_id)] = files

    def cut(self, path: str, times: int = 1) -> None:
        """The next `times` GETs of the file `path` send half of it and close the connection."""
        self.cuts[path] = times

    def downloads(self, path: str) -> int:
        """How many times the body of a file named `path` was asked for."""
        return sum(1 for method, url in self.requests if method == "GET" and _file_of(url) == path)

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up (the point of `cut`) are not errors here


def _file_of(url: str) -> str | None:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    if "FilePath" in query:
        return query["FilePath"][0]
    if "/resolve/" in parsed.path:
        return unquote(parsed.path.split("/resolve/", 1)[1].split("/", 1)[1])
    return None


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

        # -- routing -------------------------------------------------------------------------------------------
        def _route(self, *, head: bool) -> None:
            hub.requests.append((self.command, self.path))
            url = urlparse(self.path)
            path, query = unquote(url.path), {k: v[0] for k, v in parse_qs(url.query).items()}
            if path.startswith("/api/v1/"):
                return self._modelscope(path[len("/api/v1/"):], query, head=head)
            if path.startswith("/api/"):
                return self._hf_api(path[len("/api/"):], query)
            if "/resolve/" in path:
                return self._hf_file(path, head=head)
            self._json(404, {"error": "not found"})

        # -- Hugging Face ----------------------------------------------------------------------------------------
        def _hf_api(self, path: str, query: dict) -> None:
            kind, _, rest = path.partition("/")
            kind = {"models": "model", "datasets": "dataset"}.get(kind, kind)
            for marker in ("/revision/", "/tree/"):
                if marker in rest:
                    repo_id = rest.split(marker)[0]
                    files = hub.repos.get((kind, repo_id))
                    if files is None:
                        return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                    if marker == "/tree/":
                        return self._json(200, [{"type": "file", "path": name, "size": len(data), "oid": _etag(data)}
                                                for name, data in files.items()])
                    return self._json(200, {"id": repo_id, "sha": SHA, "private": False,
                                            "siblings": [{"rfilename": name, "size": len(data)}
                                                         for name, data in files.items()]})
            self._json(404, {"error": "not found"})

        def _hf_file(self, path: str, *, head: bool) -> None:
            repo_path, rest = path.lstrip("/").split("/resolve/", 1)
            kind, repo_id = ("dataset", repo_path[len("datasets/"):]) if repo_path.startswith("datasets/") else \
                ("model", repo_path)
            filename = rest.split("/", 1)[1]
            files = hub.repos.get((kind, repo_id))
            if files is None:
                return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            if filename not in files:
                return self._json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            data = files[filename]
            headers = {"X-Repo-Commit": SHA, "ETag": f'"{_etag(data)}"', "Content-Type": "application/octet-stream"}
            self._body(data, headers, head=head, name=filename)

        # -- ModelScope ------------------------------------------------------------------------------------------
        def _modelscope(self, path: str, query: dict, *, head: bool) -> None:
            kind, _, rest = path.partition("/")
            kind = {"models": "model", "datasets": "dataset"}.get(kind, kind)
            for suffix in ("/repo/files", "/repo/tree", "/repo", "/revisions", ""):
                if rest.endswith(suffix) and rest.count("/") - suffix.count("/") == 1:
                    repo_id = rest[: len(rest) - len(suffix)] if suffix else rest
                    break
            else:
                return self._json(404, {"Code": 404, "Message": "not found", "Success": False})
            files = hub.repos.get((kind, repo_id))
            if files is None:
                return self._json(404, {"Code": 10010205001, "Message": f"{repo_id} not exists", "Success": False})
            if suffix in ("/repo/files", "/repo/tree"):
                page = int(query.get("PageNumber", 1))
                listing = [{"Name": name.rsplit("/", 1)[-1], "Path": name, "Type": "blob", "Size": len(data),
                            "Sha256": _etag(data), "Revision": SHA} for name, data in files.items()]
                return self._json(200, {"Code": 200, "Success": True,
                                        "Data": {"Files": listing if page == 1 else []}})
            if suffix == "/repo":
                name = query.get("FilePath", "")
                if name not in files:
                    return self._json(404, {"Code": 404, "Message": f"file {name} not found", "Success": False})
                return self._body(files[name], {"Content-Type": "application/octet-stream"}, head=head, name=name)
            if suffix == "/revisions":
                return self._json(200, {"Code": 200, "Success": True, "Data": {
                    "RevisionMap": {"Branches": [{"Revision": "master", "CreatedAt": 0}], "Tags": []}}})
            return self._json(200, {"Code": 200, "Success": True, "Data": {"Id": 1, "Name": repo_id, "Path": repo_id}})

        # -- replies ---------------------------------------------------------------------------------------------
        def _json(self, status: int, body: object, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _body(self, data: bytes, headers: dict, *, head: bool, name: str) -> None:
            start = 0
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes="):
                start = int(ranged[len("bytes="):].split("-")[0] or 0)
                if not head:
                    hub.ranges.append((name, start))
            status = 206 if start else 200
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if head:
                return
            if hub.cuts.get(name):
                hub.cuts[name] -= 1
                self.wfile.write(data[start:start + (len(data) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(data[start:])

    return Handler
