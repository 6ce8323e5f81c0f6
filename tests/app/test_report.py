"""The cross-domain report: table, missing domains, files, the store, and rendering in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from crossnoise.report import DomainOutcome, load_study, table_rows, write_report
from crossnoise.snr import SignalNoise
from crossnoise.study import DomainStudy

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _synthetic_study(tmp_path: Path, domain: str = "synthetic") -> DomainStudy:
    """A real (measured, not invented) study for exercising the renderer: Gaussian per-sample vectors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(3)
    recs = []
    for n, mu in ((400, 0.3), (1600, 0.1)):
        x = rng.normal(mu, 1.0, size=(n, 4))
        recs.append(SignalNoise.from_samples(x, sample_unit="sample", signal_unit="a.u.", label=f"μ={mu}, n={n}"))
    fig, ax = plt.subplots()
    ax.plot([r.n_samples for r in recs], [r.noise_scale for r in recs], "o-")
    path = tmp_path / f"{domain}.png"
    fig.savefig(path)
    plt.close(fig)
    return DomainStudy(domain, tuple(recs), "signal steps", path, "Synthetic Gaussian readings.",
                       {"samples": 2000}, {"seed": 3})


def test_missing_study_module_is_reported_missing_not_faked():
    fn, why = load_study("nonexistent")
    assert fn is None and "crossnoise.nonexistent.study is not built yet" in why


def test_table_rows_carry_the_signalnoise_numbers(tmp_path):
    st = _synthetic_study(tmp_path)
    rows = table_rows([DomainOutcome("synthetic", "ok", st), DomainOutcome("quantum", "missing", reason="not built")])
    assert [r["status"] for r in rows] == ["ok", "ok", "missing"]
    r0, rec = rows[0], st.records[0]
    assert r0["snr"] == rec.snr and r0["noise_scale"] == rec.noise_scale and r0["snr_se"] == rec.snr_se
    assert r0["per_sample_noise"] == pytest.approx(np.sqrt(rec.per_sample_variance))
    assert r0["localization_unit"] == "signal steps" and r0["sample_unit"] == "sample"


def _write(tmp_path: Path) -> Path:
    st = _synthetic_study(tmp_path)
    outcomes = [DomainOutcome("quantum", "missing", reason="crossnoise.quantum.study is not built yet"),
                DomainOutcome("synthetic", "ok", st, wall_s=1.0),
                DomainOutcome("ml", "failed", reason="RuntimeError: boom")]
    html_path, md_path, law = write_report(outcomes, tmp_path / "rep", seed=3, quick=True, wall_s=1.0)
    assert law is not None and law.exists()
    return html_path


def test_html_is_self_contained_and_markdown_written(tmp_path):
    html_path = _write(tmp_path)
    text = html_path.read_text()
    assert "<table id='cross-domain'>" in text and text.count("<tr class='ok'>") == 2
    assert "missing: crossnoise.quantum.study is not built yet" in text and "failed: RuntimeError: boom" in text
    imgs = re.findall(r"src='data:image/png;base64,([^']+)'", text)
    assert len(imgs) == 2  # the cross-domain figure and the domain's headline figure
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs)
    assert not re.search(r"(src|href)=['\"](?!data:)", text)  # nothing outside the file
    md = (html_path.parent / "report.md").read_text()
    assert "| synthetic | μ=0.3, n=400 |" in md and "![SNR against samples](snr_law.png)" in md


def _chromium() -> str:
    """Debian's chromium; installed here when missing and we may (root + apt-get), else skip with the reason."""
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if exe:
        return exe
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get); "
                    "run `make chromium` as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = ""
    for cmd in (["apt-get", "install", "-y", "--no-install-recommends", "chromium"], ["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        log = (r.stdout + r.stderr)[-300:]
        if cmd[1] == "install" and r.returncode == 0:
            break
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip(f"chromium could not be installed with apt-get: {log}")
    return exe


def _render(html_path: Path, tmp_path: Path) -> tuple[str, Path]:
    exe = _chromium()
    # The checks run inside the page: a copy with a script that records what the browser rendered.
    probe = html_path.with_name("probe.html")
    probe.write_text(html_path.read_text().replace("</body>", """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const d = document.createElement('div'); d.id = 'probe';
  d.dataset.images = imgs.length;
  d.dataset.decoded = imgs.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100).length;
  d.dataset.rows = document.querySelectorAll('#cross-domain tbody tr').length;
  d.dataset.tableWidth = document.getElementById('cross-domain').getBoundingClientRect().width;
  document.body.appendChild(d);
});</script></body>"""))
    with tempfile.TemporaryDirectory(dir=tmp_path) as profile:
        base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,1600"]
        dom = subprocess.run([*base, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=120)
        shot = tmp_path / "report.png"
        r = subprocess.run([*base, f"--screenshot={shot}", html_path.as_uri()], capture_output=True, text=True,
                           timeout=120)
    assert dom.returncode == 0 and r.returncode == 0, (dom.stderr[-500:], r.stderr[-500:])
    return dom.stdout, shot


@pytest.mark.chromium
def test_page_renders_in_headless_chromium(tmp_path):
    html_path = _write(tmp_path)
    dom, shot = _render(html_path, tmp_path)
    m = re.search(r'<div id="probe" data-images="(\d+)" data-decoded="(\d+)" data-rows="(\d+)" '
                  r'data-table-width="([\d.]+)"', dom)
    assert m, dom[-2000:]
    images, decoded, rows, width = int(m[1]), int(m[2]), int(m[3]), float(m[4])
    assert images == decoded == 2      # both figures decoded by the browser
    assert rows == 4 and width > 500   # 2 readings + a missing and a failed domain, laid out
    import matplotlib.image as mpimg

    pix = mpimg.imread(shot)
    assert pix.shape[0] >= 1000 and pix.shape[1] >= 1000 and float(pix[..., :3].std()) > 0.05  # not blank


def test_cli_report_for_one_domain_stores_and_reproduces(run_cli, tmp_path):
    """`crossnoise report --quick --domain bio`: real bio study if it has landed, else shown as missing."""
    args = ("report", "--quick", "--domain", "bio", "--jobs", "1", "--json", "--seed", "4",
            "--db", tmp_path / "r.sqlite")
    r = run_cli(*args, "--out", tmp_path / "a", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["report_path"] == str(tmp_path / "a" / "index.html") and Path(out["report_path"]).exists()
    if out["missing"] == ["bio"]:
        assert out["domains"] == [] and "missing" in r.stderr
        return
    assert out["domains"] and {d["domain"] for d in out["domains"]} == {"bio"}
    for d in out["domains"]:
        assert {"domain", "quantity", "snr", "noise_scale", "sample_unit", "localization_error",
                "localization_unit"} <= d.keys()
        assert d["snr"] > 0 and d["localization_unit"]
    again = json.loads(run_cli(*args, "--out", tmp_path / "b", cwd=tmp_path).stdout)
    assert [d["snr"] for d in again["domains"]] == [d["snr"] for d in out["domains"]]  # same seed, same numbers
    listed = json.loads(run_cli("results", "list", "--experiment", "report.bio", "--json", "--db",
                                tmp_path / "r.sqlite").stdout)
    assert listed["matched"] == 1 and listed["runs"][0]["id"] == out["run_ids"]["bio"]  # rerun replaced, not duplicated


def test_cli_report_bad_input_exit_2(run_cli, tmp_path):
    r = run_cli("report", "--domain", "chemistry", cwd=tmp_path)
    assert r.returncode == 2 and "chemistry" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 100)
    r = run_cli("report", "--quick", "--domain", "bio", "--db", bad, cwd=tmp_path)
    assert r.returncode == 2 and "not a valid SQLite database" in r.stderr
    assert bad.read_bytes() == b"garbage" * 100


@pytest.mark.slow
@pytest.mark.chromium
def test_full_quick_report_renders(run_cli, tmp_path):
    """Every domain's quick study end to end (about a minute on 2 cores), then rendered in Chromium."""
    r = run_cli("report", "--quick", "--json", "--db", tmp_path / "r.sqlite", "--out", tmp_path / "rep", cwd=tmp_path,
                timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    present = {d["domain"] for d in out["domains"]}
    assert present | set(out["missing"]) == {"quantum", "bio", "ml"} and not out["failed"]
    dom, shot = _render(Path(out["report_path"]), tmp_path)
    m = re.search(r'data-images="(\d+)" data-decoded="(\d+)"', dom)
    assert m and int(m[1]) == int(m[2]) == len(present) + (1 if present else 0)
