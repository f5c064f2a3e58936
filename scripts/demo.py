"""The embedded default job: a small torch training that logs every kind of data, then SQL.

    python scripts/demo.py [--root DIR] [--epochs N]

Trains a tiny classifier on synthetic data, logging through both APIs (TensorBoard's
SummaryWriter and the W&B-style init/log), then queries the store with localtrack.sql.
Every view of `localtrack ui` has something of this run to show, even with `--epochs 1`:
scalars, histograms and images every few steps (so the sliders move), markdown text, a PR
curve, a coloured mesh, hparams, the model graph, an embedding with label images, audio
and video.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import torch

import localtrack

EVERY = 8
"""Training steps between two histograms / images (32 steps an epoch)."""


def make_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = ((x[:, 0] ** 2 + x[:, 1] ** 2) < 1.0).long()  # inside the unit circle or not
    return x, y


def train(root: str, epochs: int) -> str:
    x, y = make_data(2048)
    model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    config = {"lr": 0.01, "epochs": epochs, "batch_size": 64, "model": {"hidden": 32}}

    run = localtrack.init(project="demo", name="circle-classifier", config=config, dir=root)
    run.watch(model, log="all", log_freq=20)
    tb = localtrack.SummaryWriter(os.path.join(root, "demo-tensorboard", run.id))
    tb.add_graph(model, x[:4])
    tb.add_text(
        "notes",
        "## circle classifier\n\nA **2-32-2 MLP** learning whether a point lies in the unit "
        "circle.\n\n| setting | value |\n|---|---|\n| lr | 0.01 |\n| batch size | 64 |\n"
        f"| epochs | {epochs} |\n\n- data: 2,048 points of N(0, I)\n- loss: cross-entropy",
    )

    grid = torch.stack(
        torch.meshgrid(torch.linspace(-2, 2, 48), torch.linspace(-2, 2, 48), indexing="ij"), -1
    )
    frames: list[torch.Tensor] = []
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            logits = model(x[idx])
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            acc = (logits.argmax(1) == y[idx]).float().mean()
            run.log({"train/loss": loss.detach(), "train/acc": acc, "epoch": epoch})
            tb.add_scalar("Loss/train", loss.item(), step)
            if step % EVERY == 0:  # a few steps per epoch: the sliders have steps to move over
                tb.add_histogram("weights/first_layer", model[0].weight.detach(), step)
                with torch.no_grad():
                    field = model(grid.reshape(-1, 2)).softmax(1)[:, 1].reshape(1, 48, 48)
                tb.add_image("decision_field", field, step)
                frames.append(field.expand(3, 48, 48))
            step += 1
        with torch.no_grad():
            probs = model(x).softmax(1)[:, 1]
        tb.add_histogram("predictions", probs, epoch)
        tb.add_pr_curve("inside_circle", y, probs, epoch)
        tb.add_text("epochs", f"epoch **{epoch}**: last batch loss `{loss.item():.4f}`", epoch)
        run.log({"val/acc": ((probs > 0.5).long() == y).float().mean().item()}, commit=False)

    tb.add_hparams({"lr": 0.01, "hidden": 32}, {"hparam/final_acc": float(acc)})
    # each point's hidden activations; its label image a 8×8 swatch: green inside, red outside
    swatches = torch.zeros(100, 3, 8, 8)
    swatches[:, 1] = y[:100, None, None].float()
    swatches[:, 0] = 1 - y[:100, None, None].float()
    tb.add_embedding(
        model[0](x[:100]).detach(), metadata=y[:100].tolist(), label_img=swatches, tag="hidden"
    )
    tb.add_audio(
        "chirp", torch.sin(torch.linspace(0, 400 * math.pi, 8000) ** 1.2), 0, sample_rate=8000
    )
    # the decision field as it was learnt (N, T, C, H, W)
    tb.add_video("field_over_time", torch.stack(frames)[None], 0, fps=2)
    # torch.utils.tensorboard's add_mesh example: a tetrahedron with one colour per vertex
    verts = torch.tensor([[[1.0, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]])
    colors = torch.tensor([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]])
    faces = torch.tensor([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]])
    tb.add_mesh("tetrahedron", verts, colors=colors, faces=faces)
    tb.close()
    run.summary["best_val_acc"] = float(acc)
    run.finish()
    return run.id


def show(root: str, run_id: str) -> None:
    queries = {
        "runs": "SELECT run_id, project, name, status FROM runs ORDER BY project",
        "last loss and accuracy": f"""
            SELECT tag, max(step) AS last_step, min(value) AS min, max(value) AS max,
                   arg_max(value, step) AS last
            FROM scalars WHERE run_id = '{run_id}' AND tag LIKE 'train/%' GROUP BY tag ORDER BY tag""",
        "what each stream holds": """
            SELECT 'scalars' AS stream, count(*) AS rows FROM scalars
            UNION ALL SELECT 'histograms', count(*) FROM histograms
            UNION ALL SELECT 'images', count(*) FROM images
            UNION ALL SELECT 'texts', count(*) FROM texts
            UNION ALL SELECT 'pr_curves', count(*) FROM pr_curves
            UNION ALL SELECT 'hparams', count(*) FROM hparams
            UNION ALL SELECT 'graphs', count(*) FROM graphs
            UNION ALL SELECT 'embeddings', count(*) FROM embeddings
            UNION ALL SELECT 'audio', count(*) FROM audio
            UNION ALL SELECT 'video', count(*) FROM video
            UNION ALL SELECT 'meshes', count(*) FROM meshes
            UNION ALL SELECT 'config', count(*) FROM config""",
        "config": f"SELECT key, value FROM config WHERE run_id = '{run_id}' ORDER BY key",
    }
    for title, query in queries.items():
        print(f"\n-- {title}\n{' '.join(query.split())}")
        print(localtrack.sql(query, root=root))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", help="runs root (default: a new temporary folder)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    root = args.root or tempfile.mkdtemp(prefix="localtrack-demo-")
    started = time.perf_counter()
    run_id = train(root, args.epochs)
    print(f"trained and logged run {run_id} under {root} in {time.perf_counter() - started:.1f} s")
    show(root, run_id)
    print(f"\nTry: .venv/bin/localtrack --root {root} runs")
    print(
        f"Open the dashboard: .venv/bin/localtrack ui --root {root}"
        f"   (then the printed http://127.0.0.1:6006/?token=... URL;"
        f" from a laptop: ssh -L 6006:127.0.0.1:6006 <this node>)"
    )
    print(f"  this run's page: add &view=run&run={run_id} to that URL")


if __name__ == "__main__":
    main()
